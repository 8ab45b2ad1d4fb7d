// NTP control messages (mode 6, RFC 9327), read-only: what `ntpq -p`,
// `ntpq -c rv` and `ntpq -c as` ask a server.
//
// This module answers the two read opcodes, READSTAT (the association list
// with status words) and READVAR (system variables for association 0, peer
// variables for an association id), with the variable names and formats ntpd
// uses, split into fragments of at most 468 data octets. Every write opcode
// (WRITEVAR, WRITECLOCK, CONFIGURE, the trap opcodes) is refused as
// administratively prohibited, and everything else as an unknown opcode.
//
// Who may ask is decided by the `restrict` rules of the configuration with
// ntpd's semantics: the longest matching prefix wins (a later rule for the
// same prefix replaces an earlier one), and `noquery` or `ignore` there
// refuses mode 6. Loopback may always ask unless a rule naming it (not
// `default`) says otherwise; without any matching rule only loopback may ask.
// Refused requests get no answer at all, as from ntpd.
//
// Replies are rate-limited per source address and in total (token buckets
// counted in reply fragments), so a spoofed source cannot turn the server
// into an amplifier: each answered request costs tokens for every fragment
// it produces, and requests beyond the budget are dropped unanswered.
//
// Everything here is pure: the daemon passes the time, the source address
// and a snapshot of what it knows, and sends the fragments returned.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "control/config.h"
#include "dataplane/wire/bytes.h"
#include "discipline/discipline.h"

namespace linetime::control::mode6 {

//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |LI |  VN |Mode |R|E|M| OpCode  |        Sequence Number        |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |            Status             |        Association ID         |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |            Offset             |             Count             |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                   Data (468 octets max) ...                   |
// |                Padding (to a multiple of 4 octets)            |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
struct Header {
  std::uint8_t li_vn_mode;
  std::uint8_t r_e_m_op;
  wire::Be16 sequence;
  wire::Be16 status;
  wire::Be16 assoc_id;
  wire::Be16 offset;
  wire::Be16 count;
};
static_assert(sizeof(Header) == 12 && alignof(Header) == 1);
static_assert(offsetof(Header, r_e_m_op) == 1);
static_assert(offsetof(Header, sequence) == 2);
static_assert(offsetof(Header, status) == 4);
static_assert(offsetof(Header, assoc_id) == 6);
static_assert(offsetof(Header, offset) == 8);
static_assert(offsetof(Header, count) == 10);

inline constexpr std::size_t kHeaderLength = sizeof(Header);
inline constexpr std::size_t kMaxData = 468;  // RFC 9327 section 2: data octets per fragment
inline constexpr std::uint8_t kModeControl = 6;
inline constexpr std::uint8_t kResponseBit = 0x80;
inline constexpr std::uint8_t kErrorBit = 0x40;
inline constexpr std::uint8_t kMoreBit = 0x20;
inline constexpr std::uint8_t kOpcodeMask = 0x1f;
// The most fragments one answer may take: a peer's variables with the filter
// registers need two; the cap bounds what a single small request can cost.
inline constexpr std::size_t kMaxFragments = 8;

enum class Opcode : std::uint8_t {
  kReadStat = 1,
  kReadVar = 2,
  kWriteVar = 3,
  kReadClock = 4,
  kWriteClock = 5,
  kSetTrap = 6,
  kAsyncMsg = 7,
  kConfigure = 8,
  kSaveConfig = 9,
  kReadMru = 10,
  kReadOrdlist = 11,
  kReqNonce = 12,
  kUnsetTrap = 31,
};

// RFC 9327 section 3.4: the error code sits in the status word's high octet.
enum class ErrorCode : std::uint8_t {
  kUnspecified = 0,
  kAuthentication = 1,
  kBadFormat = 2,
  kBadOpcode = 3,
  kUnknownAssociation = 4,
  kUnknownVariable = 5,
  kBadValue = 6,
  kProhibited = 7,
};

// A request as it came: header fields and the data (a variable list).
struct Request {
  std::uint8_t version = 0;
  std::uint8_t opcode = 0;
  std::uint16_t sequence = 0;
  std::uint16_t assoc_id = 0;
  std::string_view data;
};

enum class ParseFailure : std::uint8_t {
  kTruncated,    // shorter than the header, or than its count says
  kNotControl,   // not mode 6
  kBadVersion,   // version 0 or above 4
  kResponse,     // the response bit is set: never answer an answer
  kFragmented,   // a request in several fragments (offset, more bit), which ntpq never sends
  kTooLong,      // count above 468
};
const char* to_string(ParseFailure f);

Expected<Request, ParseFailure> parse_request(wire::Bytes packet);

// True when the packet claims to be mode 6 (the first octet's mode bits).
constexpr bool is_control(wire::Bytes packet) { return !packet.empty() && (packet[0] & 7) == kModeControl; }

// --- What the daemon knows, in ntpd's terms --------------------------------

// Selection codes of the peer status word (RFC 9327 appendix B.3), the
// tally characters ntpq prints for them in the comment.
enum class Select : std::uint8_t {
  kReject = 0,     // ' '
  kFalsetick = 1,  // 'x'
  kExcess = 2,     // '.'
  kOutlier = 3,    // '-'
  kCandidate = 4,  // '+'
  kBackup = 5,     // '#'
  kSysPeer = 6,    // '*'
  kPpsPeer = 7,    // 'o'
};
Select select_of(discipline::SourceStatus s);

// ntpd's flash bits (peer test failures) that a source status implies.
inline constexpr std::uint16_t kFlashUnsync = 0x0004;    // pkt_unsync
inline constexpr std::uint16_t kFlashStratum = 0x0200;   // peer_stratum
inline constexpr std::uint16_t kFlashDistance = 0x0400;  // peer_dist
inline constexpr std::uint16_t kFlashUnreach = 0x1000;   // peer_unreach
std::uint16_t flash_of(discipline::SourceStatus s, std::uint8_t reach);

// Clock source codes of the system status word (RFC 9327 appendix B.2).
inline constexpr std::uint8_t kSourceUnspecified = 0;
inline constexpr std::uint8_t kSourceLocal = 5;
inline constexpr std::uint8_t kSourceNtp = 6;

struct SystemInfo {
  std::string version;    // "linetime 0.1.0"
  std::string processor;  // uname -m
  std::string system;     // uname -s/-r, "Linux/6.1.0-18-amd64"
  int leap = 3;           // 0..3
  std::uint8_t clock_source = kSourceUnspecified;
  int stratum = 16;
  int precision_log2 = -20;
  double root_delay_ms = 0;
  double root_dispersion_ms = 0;
  std::string refid;            // "198.18.1.1" or a code without dots ("LOCL", "INIT")
  std::uint64_t reftime = 0;    // NTP timestamp (l_fp), 0 when never synchronized
  std::uint64_t clock = 0;      // NTP timestamp of now
  std::uint16_t peer = 0;       // association id of the system peer, 0 for none
  int tc = 6;                   // time constant (poll exponent)
  int mintc = 0;
  double offset_ms = 0;         // hwclock/time.h convention
  double frequency_ppm = 0;
  double sys_jitter_ms = 0;
  double clk_jitter_ms = 0;
  double clk_wander_ppm = 0;
};

// One clock-filter stage, newest first in PeerInfo::filter.
struct FilterStage {
  double delay_ms = 0;
  double offset_ms = 0;
  double dispersion_ms = 0;
};
inline constexpr std::size_t kFilterStages = 8;

struct PeerInfo {
  std::uint16_t assoc_id = 0;
  bool configured = true;
  std::string srcadr;   // "198.18.1.1"; "127.127.1.0" for the local clock
  std::string srchost;  // reference clocks only: "LOCAL(0)"
  std::uint16_t srcport = 123;
  std::string dstadr = "0.0.0.0";
  Select select = Select::kReject;
  int leap = 3;
  int stratum = 16;
  int precision_log2 = -20;
  double root_delay_ms = 0;
  double root_dispersion_ms = 0;
  std::string refid;  // as SystemInfo::refid
  std::optional<std::uint64_t> rec;  // NTP timestamp of the last reply
  std::uint8_t reach = 0;
  int unreach = 0;    // polls since the last reply
  int hmode = 3;      // client
  int pmode = 4;      // server
  int hpoll = 6;
  int ppoll = 6;
  std::uint16_t flash = 0;
  double offset_ms = 0;
  double delay_ms = 0;
  double dispersion_ms = 0;
  double jitter_ms = 0;
  bool xleave = false;  // the last sample came from interleaved mode
  std::vector<FilterStage> filter;  // up to kFilterStages, newest first
};

struct Snapshot {
  SystemInfo system;
  std::vector<PeerInfo> peers;
};

// Status words (RFC 9327 appendix B).
std::uint16_t system_status(const SystemInfo& s);
std::uint16_t peer_status(const PeerInfo& p);

// "0xe8a6b1c2.5b3e1234", ntpd's l_fp notation.
std::string lfp_text(std::uint64_t ntp_timestamp);

// The variable list a READVAR answers: every variable in ntpd's order, or the
// ones `wanted` names (comma-separated, blanks ignored, `name=value` read as
// `name`). Unknown names give nullopt (the caller answers kUnknownVariable).
std::optional<std::string> system_variables(const SystemInfo& s, std::string_view wanted = {});
std::optional<std::string> peer_variables(const PeerInfo& p, std::string_view wanted = {});

// --- Answers ---------------------------------------------------------------

// One UDP payload to send.
using Fragment = std::vector<std::uint8_t>;

// The fragments carrying `data` as the answer to `req` with status word
// `status`: at most kMaxData octets each at increasing offsets, the More bit
// on all but the last, each padded to a multiple of 4 octets. Data longer
// than kMaxFragments fragments is cut at the last complete variable that fits.
std::vector<Fragment> fragments(const Request& req, std::uint16_t status, std::string_view data);
// A single error fragment (E bit, code in the status word's high octet, no data).
Fragment error_response(const Request& req, ErrorCode code);

// The answer to a parsed request against `snap` (always at least one fragment).
std::vector<Fragment> answer(const Request& req, const Snapshot& snap);

// --- Who may ask, and how often --------------------------------------------

// ntpd's restrict list, reduced to the question "may this address query?".
class QueryAccess {
 public:
  QueryAccess() = default;
  explicit QueryAccess(const std::vector<RestrictRule>& rules);
  bool allows(const IpAddress& a) const;

 private:
  struct Entry {
    bool v6 = false;
    bool any_family = false;  // `restrict default` without -4/-6
    IpPrefix prefix;
    bool refuses = false;     // noquery or ignore
  };
  std::vector<Entry> entries_;  // file order; later entries win ties
};

// Token buckets per source address and in total; tokens are reply fragments.
class RateLimiter {
 public:
  struct Settings {
    double per_source_per_s = 50;
    double per_source_burst = 50;
    double total_per_s = 1000;
    double total_burst = 1000;
    std::size_t max_sources = 1024;  // least recently seen source forgotten beyond this
  };
  RateLimiter() : RateLimiter(Settings{}) {}
  explicit RateLimiter(Settings s) : settings_(s), total_tokens_(s.total_burst) {}
  // Takes `cost` tokens from `from`'s bucket and the total when both have
  // them; false (and nothing taken) otherwise. `now_ns` is monotonic.
  bool admit(const IpAddress& from, std::int64_t now_ns, unsigned cost);
  std::size_t tracked() const { return buckets_.size(); }

 private:
  struct Bucket {
    IpAddress address;
    double tokens = 0;
    std::int64_t updated_ns = 0;
  };
  static void refill(double& tokens, std::int64_t& updated_ns, std::int64_t now_ns, double rate, double burst);
  Settings settings_;
  std::vector<Bucket> buckets_;
  double total_tokens_;
  std::int64_t total_updated_ns_ = INT64_MIN;
};

// What became of one mode-6 datagram.
enum class Outcome : std::uint8_t {
  kAnswered,     // variables or the association list
  kError,        // answered with an error code (unknown opcode, write refused, ...)
  kRefused,      // `restrict ... noquery` (or not loopback without a rule): no answer
  kRateLimited,  // over the source's or the total budget: no answer
  kMalformed,    // not a request we can parse: no answer
  kCount
};
const char* to_string(Outcome o);

// The restrict check, the rate limit and the answer, with counters.
class Server {
 public:
  explicit Server(RateLimiter::Settings limits = {}) : limiter_(limits) {}
  void set_restrictions(const std::vector<RestrictRule>& rules) { access_ = QueryAccess(rules); }

  // `snapshot` is called only for a request that will be answered.
  Outcome handle(wire::Bytes packet, const IpAddress& from, std::int64_t now_ns,
                 const std::function<Snapshot()>& snapshot, std::vector<Fragment>& out);
  std::uint64_t count(Outcome o) const { return counts_[static_cast<std::size_t>(o)]; }

 private:
  QueryAccess access_;
  RateLimiter limiter_;
  std::uint64_t counts_[static_cast<std::size_t>(Outcome::kCount)] = {};
};

}  // namespace linetime::control::mode6
