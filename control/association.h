// One upstream association: the client side of NTP for one `server` line.
//
// This module decides when to send a request to an upstream server and what to
// make of the replies. It is sans-IO: the daemon (or the simulator) passes the
// local clock's time with every call and executes the returned actions (send
// this request, hand this sample to the discipline, stop using this server);
// the association never reads a clock or touches a socket.
//
// What it implements:
//  - polling at 2^poll seconds with +-1/32 random jitter, where poll is the
//    discipline's suggestion clamped to [minpoll, maxpoll], raised by the
//    unreachable back-off and by KoD RATE;
//  - the 8-bit reach register, shifted at every request and set by every reply
//    that passes the packet tests 1-3;
//  - `iburst` (8 requests 2 s apart when the server is unreachable, as at start)
//    and `burst` (the same when it is reachable);
//  - the unreachable back-off: once 8 requests in a row went unanswered, every
//    further regular poll raises the interval one step, up to maxpoll;
//  - kiss-o'-death (RFC 5905 section 7.4): RATE raises the poll floor one step
//    (at least minpoll + 1) each time, DENY and RSTR demobilize;
//  - the packet tests of RFC 5905 section 8 (duplicate, bogus, zero timestamps,
//    unsynchronized server, root distance) plus header and delay sanity, each
//    counted by reason;
//  - interleaved client mode (chrony's `xleave`): the request carries the
//    server's receive timestamp of the last reply as origin and our receive
//    time of it as receive timestamp; a server that supports the mode answers
//    with origin = that receive timestamp and transmit = the precise transmit
//    time of its previous reply, which is then combined with the previous
//    exchange's T1 (the precise one from on_transmitted when the transport
//    reported it), T2 and T4;
//  - symmetric-key authentication (RFC 5905 section 7.3, `key N`): every
//    request carries a MAC made with the key, and a reply counts only when it
//    carries a MAC with the same key identifier that verifies. Anything else
//    (no MAC, another key, a crypto-NAK, a digest that does not verify) fails
//    test 5 and is dropped before tests 1-3: it answers nothing, does not set
//    the reach bit and cannot kiss the association off. Without `key` replies
//    are used whether or not they carry a MAC.
//
// Time: every UtcTime here is a reading of the local (disciplined) clock, the
// one the discipline steers; T2 and T3 come from the server. Offsets in samples
// follow the convention of hwclock/time.h.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <variant>

#include "dataplane/auth/mac.h"
#include "dataplane/wire/bytes.h"
#include "dataplane/wire/ntp.h"
#include "discipline/types.h"
#include "hwclock/ntp_time.h"
#include "hwclock/time.h"

namespace linetime::control {

struct Source;

using hwclock::Duration;
using hwclock::UtcTime;

// Poll exponents accepted anywhere: 1/64 s (sub-second polling on a LAN) to
// 36.4 h (ntpd's NTP_MAXPOLL).
inline constexpr int kMinPollLog2 = -6;
inline constexpr int kMaxPollLog2 = 17;
// Requests in an `iburst` or `burst`, and their spacing (ntpd's NTP_IBURST and
// burst interval); the spacing is at most a quarter of the poll interval so a
// burst never outlasts it at sub-minute polls.
inline constexpr int kBurstLength = 8;
inline constexpr Duration kBurstSpacing = Duration::from_s(2);
// Unanswered requests in a row after which the server counts as unreachable
// for the back-off (the width of the reach register).
inline constexpr int kUnreachableAfter = 8;
// Interleaved requests are sent only while fewer than this many requests went
// unanswered since the last reply, so a server never answers with a transmit
// timestamp of a reply many polls old (chrony's MAX_CLIENT_INTERLEAVED_TX).
inline constexpr int kMaxInterleavedMisses = 4;
// Delay sanity: a round trip longer than this is not a measurement (chrony's
// default maxdelay), nor is a server that held the request longer than
// kMaxServerHold (chrony's MAX_SERVER_INTERVAL).
inline constexpr Duration kMaxDelay = Duration::from_s(3);
inline constexpr Duration kMaxServerHold = Duration::from_s(4);
// A negative delay is tolerated up to the timestamps' precision plus this
// fraction of the local interval: two clocks each up to 500 ppm off.
inline constexpr double kNegativeDelayRate = 1e-3;

// The kiss codes RFC 5905 section 7.4 gives meaning to, as the reference ID
// carries them (ASCII, big-endian).
inline constexpr std::uint32_t kKissRate = 0x52415445;  // "RATE"
inline constexpr std::uint32_t kKissDeny = 0x44454E59;  // "DENY"
inline constexpr std::uint32_t kKissRstr = 0x52535452;  // "RSTR"

struct AssociationConfig {
  std::string remote;  // address or host name as configured (for the source table and messages)
  int minpoll = 6;     // log2 seconds
  int maxpoll = 10;
  bool iburst = false;
  bool burst = false;
  bool prefer = false;    // carried for the discipline's SourceConfig
  bool noselect = false;  // carried for the discipline's SourceConfig
  int version = 4;        // NTP version of our requests (1..4)
  std::optional<std::uint32_t> key;  // `key N`: requests and replies authenticated with key N
  // The trusted key `key` names, ready to sign and verify; shared, so copies of
  // the configuration do not copy the secret. An association with `key` but
  // without this MAC (or with a MAC of another id) never sends anything: it is
  // not to talk to the server unauthenticated.
  std::shared_ptr<const auth::Mac> mac;
  bool xleave = false;               // interleaved client mode
  std::int8_t precision_log2 = -20;  // precision of our own timestamps (T1, T4)
  // Low bits of the transmit timestamp replaced by random ones: the origin a
  // reply must echo is then unpredictable to anyone off the path. 20 bits is
  // about 244 us of the fraction.
  int cookie_random_bits = 20;
};

// The values a `server`/`peer`/`pool` line of the configuration gives, with
// the MAC of its `key N` taken from `keys` (the trusted keys) when it is there.
AssociationConfig association_config(const Source& source, const std::shared_ptr<const auth::KeyTable>& keys = {});

// Actions the caller executes, in order.

// Send these bytes to the server now. The time passed to on_timer() is T1 of
// this request; report the precise one with on_transmitted() when the transport
// has it. The daemon also calls Discipline::on_poll_sent().
// `length` octets of `packet` are the request: 48, or 48 plus a MAC (key
// identifier and a digest of up to 20 octets).
inline constexpr std::size_t kMaxRequestLength = 48 + auth::kMacKeyIdLength + auth::kMaxMacDigest;
struct Send {
  std::array<std::uint8_t, kMaxRequestLength> packet{};
  std::size_t length = 48;
};
// A measurement: hand to Discipline::on_sample().
struct SampleReady {
  discipline::SourceHeader header;
  discipline::Sample sample;
  bool interleaved = false;  // from the interleaved mode's timestamps
};
// The server sent a kiss-o'-death (counted; RATE already raised the poll).
struct KissOfDeath {
  std::uint32_t code = 0;
};
enum class DemobilizeReason : std::uint8_t { kKissDeny, kKissRstr };
const char* to_string(DemobilizeReason r);
// Stop using this server for good: remove it from the source table.
struct Demobilize {
  DemobilizeReason reason{};
};
// The reach register just became zero: the last 8 requests went unanswered.
// The discipline sees the same through on_poll_sent(); this is for the log and
// the source table.
struct Unreachable {};

using Action = std::variant<Send, SampleReady, KissOfDeath, Demobilize, Unreachable>;

// The actions of one call; never more than a few.
class Actions {
 public:
  static constexpr std::size_t kCapacity = 4;
  void push(Action a) {
    if (n_ < kCapacity) items_[n_++] = std::move(a);
  }
  std::size_t size() const { return n_; }
  bool empty() const { return n_ == 0; }
  const Action& operator[](std::size_t i) const { return items_[i]; }
  const Action* begin() const { return items_.data(); }
  const Action* end() const { return items_.data() + n_; }
  // The first action of type T, or nullptr.
  template <class T>
  const T* find() const {
    for (std::size_t i = 0; i < n_; ++i) {
      if (const T* p = std::get_if<T>(&items_[i])) return p;
    }
    return nullptr;
  }

 private:
  std::array<Action, kCapacity> items_{};
  std::size_t n_ = 0;
};

// Why a reply was not used. Tests 1-3 of RFC 5905 section 8 come first (a reply
// failing them is not an answer), then the header and data tests.
enum class ReplyDrop : std::uint8_t {
  kMalformed,      // not a parseable NTP packet (length, extension fields)
  kBadVersion,     // version outside 1..4
  kBadMode,        // not mode 4 (server)
  // Test 5 (authentication), only with `key`; checked before tests 1-3.
  kUnauthenticated,  // no MAC, or a MAC with another key identifier
  kCryptoNak,        // a crypto-NAK (key identifier 0): the server does not accept our key or MAC
  kBadMac,           // our key identifier, but the digest does not verify (wrong secret or tampered)
  kDuplicate,      // test 1: same transmit timestamp as the last reply
  kBogus,          // test 2: origin is not our last request's (or it was answered already)
  kZeroTimestamp,  // test 3: origin, receive or transmit timestamp zero
  kUnsync,         // test 6: LI 3, or stratum 0 (no kiss) or 16 and above
  kRootDistance,   // test 7: root delay / 2 + root dispersion >= 16 s
  kBadDelay,       // delay negative beyond precision, over kMaxDelay, or server hold over kMaxServerHold
  kNoPrevious,     // interleaved reply without the previous exchange to pair it with
  kCount
};
const char* to_string(ReplyDrop d);

// What the last reply said about authentication, for the source table.
enum class AuthState : std::uint8_t {
  kNone,     // no `key`: replies are not authenticated
  kPending,  // `key`, but nothing received yet
  kOk,       // the last reply's MAC verified
  kBad,      // the last reply failed test 5 (see the kUnauthenticated..kBadMac counters)
  kNoKey,    // `key` without a usable MAC: nothing is sent
};
// "none", "pending", "ok", "bad", "no-key".
const char* to_string(AuthState a);

struct AssociationCounters {
  std::uint64_t sent = 0;          // requests
  std::uint64_t received = 0;      // packets given to on_reply()
  std::uint64_t valid = 0;         // replies that passed tests 1-3 (set the reach bit)
  std::uint64_t samples = 0;       // SampleReady actions
  std::uint64_t interleaved = 0;   // of which from interleaved replies
  std::uint64_t kod = 0;           // kisses-o'-death (any code)
  std::array<std::uint64_t, static_cast<std::size_t>(ReplyDrop::kCount)> dropped{};
  std::uint64_t drops(ReplyDrop d) const { return dropped[static_cast<std::size_t>(d)]; }
};

class Association {
 public:
  // `seed` feeds the poll jitter and the transmit-timestamp cookies; give every
  // association its own (tests and the simulator give fixed ones).
  Association(const AssociationConfig& cfg, std::uint64_t seed);

  // Call when now >= next_timer(). The first call sends at once (starting an
  // iburst when configured).
  Actions on_timer(UtcTime now);
  // A UDP payload from the server. `rx_time` is T4, the local clock when the
  // packet arrived (kernel or NIC timestamp); `now` is the local clock at the
  // call (the era pivot of the server's timestamps).
  Actions on_reply(wire::Bytes packet, UtcTime rx_time, UtcTime now);
  // The transport's precise transmit time of the last request sent (kernel
  // error-queue or dataplane completion), which may arrive before or after the
  // reply. Used as T1 from then on.
  void on_transmitted(UtcTime t1_precise);
  // The discipline's poll exponent; clamped to [minpoll, maxpoll]. It sets the
  // interval to the poll after the one already scheduled: moving that one would
  // make every association whose new time has passed send at the same instant.
  void set_system_poll(int poll_log2);
  // The local clock was stepped by `step` (new reading = old reading + step):
  // moves every stored local time with it.
  void on_clock_step(Duration step);
  // The local clock's frequency correction changed by `dfreq` (fractional,
  // positive: the clock now runs faster) at `when`. Stored readings are
  // re-expressed as the clock would have given them had it run at the new
  // frequency all along, so a sample from an earlier exchange (interleaved
  // mode measures the previous one) can be carried to the present with the
  // current frequency, as the discipline does.
  void on_frequency_change(UtcTime when, double dfreq);

  // When on_timer() wants to run (local clock); the far future once demobilized.
  UtcTime next_timer() const;

  // For the source table.
  const AssociationConfig& config() const { return cfg_; }
  std::uint8_t reach() const { return reach_; }
  int poll_log2() const;
  std::optional<UtcTime> last_reply_time() const { return last_reply_time_; }  // `when`
  std::uint8_t stratum() const { return stratum_; }
  std::uint32_t reference_id() const { return reference_id_; }
  bool demobilized() const { return demobilized_; }
  bool interleaved() const { return last_interleaved_; }  // the last sample was interleaved
  AuthState auth() const { return auth_; }
  const AssociationCounters& counters() const { return counters_; }

 private:
  // The request in flight (the last one sent).
  struct Request {
    std::uint64_t seq = 0;
    hwclock::NtpTimestamp transmit_field;  // the cookie a basic reply echoes as origin
    hwclock::NtpTimestamp receive_field;   // what an interleaved reply echoes as origin (zero: basic request)
    std::uint64_t exchange_seq = 0;        // interleaved: the exchange the request names
    UtcTime t1;                            // local clock at sending, precise once reported
    bool answered = false;
  };
  // The last exchange that passed tests 1-3, for interleaved mode.
  struct Exchange {
    std::uint64_t seq = 0;  // of the request it answered
    UtcTime t1;
    hwclock::NtpTimestamp t2_raw;  // server's receive timestamp as sent
    UtcTime t4;
  };

  Actions drop(ReplyDrop why);
  // Test 5: nullopt when `packet` carries a MAC of our key that verifies.
  std::optional<ReplyDrop> authenticate(const wire::NtpPacket& packet) const;
  hwclock::NtpTimestamp cookie(UtcTime t);
  Duration interval(int poll_log2);
  int base_poll() const;
  void reschedule();

  AssociationConfig cfg_;
  std::mt19937_64 rng_;
  int system_poll_;
  int unreach_poll_ = kMinPollLog2;  // back-off floor while unreachable
  int kod_poll_ = kMinPollLog2;      // floor raised by KoD RATE
  std::uint8_t reach_ = 0;
  int misses_ = 0;      // requests since the last valid reply
  int burst_left_ = 0;  // requests of the current burst still to send
  bool started_ = false;
  bool demobilized_ = false;
  UtcTime next_timer_{};
  UtcTime last_regular_{};  // the last poll that was not inside a burst
  UtcTime last_send_{};
  double jitter_ = 1.0;     // factor of the interval after last_regular_
  std::optional<Request> request_;
  std::optional<Exchange> exchange_;
  hwclock::NtpTimestamp last_reply_transmit_;
  std::optional<UtcTime> last_reply_time_;
  std::uint8_t stratum_ = 16;
  std::uint32_t reference_id_ = 0;
  bool last_interleaved_ = false;
  AuthState auth_ = AuthState::kNone;
  std::uint64_t seq_ = 0;
  AssociationCounters counters_;
};

}  // namespace linetime::control
