// The NTP server's answer generator: a pure function of the request bytes, its
// receive timestamp and the server state snapshot. It does no IO and reads no
// clock; the transmit timestamp comes from a time source the caller supplies,
// read as late as possible (just before the last field is written).
//
// The dataplane runs one Responder per lcore and calls update() once per burst
// with the state it read from shared memory; static header fields are filled
// then, not per packet.
//
// Interleaved mode (RFC 9769 section 2, chrony's `xleave`): with a client
// table attached, a request whose origin timestamp is the receive timestamp of
// our last answer to that client, and whose receive and transmit timestamps
// differ, is answered with
//   origin    = the request's receive timestamp (the client's receive time of
//               our last answer),
//   receive   = this request's receive time, as in basic mode,
//   transmit  = the precise transmit time of our last answer, taken after it
//               left (the table's), instead of this answer's own;
// when that transmit time is not known the answer is basic. Our receive
// timestamps have their lowest bit set and our transmit timestamps have it
// clear (0.23 ns, below any clock's precision here), so only requests whose
// origin has that bit set can be interleaved and only they touch the table
// (the scheme chrony's server uses): basic clients echo our transmit
// timestamp or send zero. Such a request also claims the client's entry for
// this answer, whose precise transmit time the caller records after sending
// it (NtpResponse::tx_slot), so a client's third request is the first that
// can be answered interleaved.
//
// Access control and rate limiting (acl.h, ratelimit.h): the caller looks the
// client up in the access list and passes the actions in NtpRequest::acl.
// ignore, noserve and version drop the request here, and notrust one
// without a MAC (one whose MAC fails is dropped once verified); a `limited` request
// takes the client's entry in the client table (the same entry as interleaved
// mode) and is answered, dropped, or answered with a KoD RATE (RFC 5905
// section 7.4: LI 3, stratum 0, reference id "RATE"; as ntpd sends it, the
// three timestamps are the request's transmit timestamp and the other fields
// the request's own, so it tells nothing about our clock).
//
// Authentication (RFC 5905 section 7.3, dataplane/auth/mac.h): with a key
// table attached, a request with a MAC whose key is trusted and whose digest
// verifies is answered with a MAC made with the same key, over the answer's
// 48 octets (the request's extension fields are not echoed, so the answer is
// never longer than the request); a MAC with an unknown or untrusted key, or
// one that does not verify, gets the answer with a crypto-NAK (key identifier
// 0, no digest) as ntpd sends it, 52 octets, shorter than any request with a
// MAC. Verification happens before anything is written, so the answer may
// overwrite the request. Requests under `limited` are rate limited first.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>

#include "dataplane/acl.h"
#include "dataplane/auth/mac.h"
#include "dataplane/client_table.h"
#include "dataplane/ratelimit.h"
#include "dataplane/shm/server_state.h"
#include "dataplane/wire/ntp.h"
#include "hwclock/ntp_time.h"
#include "hwclock/time.h"

namespace linetime::dataplane {

// What became of one NTP request. The dataplane counts these per lcore.
enum class NtpOutcome : std::uint8_t {
  kAnswered,            // mode 4 reply from a synchronized server
  kAnsweredUnsync,      // mode 4 reply with LI=3 / stratum 16 (basic or interleaved)
  kAnsweredInterleaved, // mode 4 reply in interleaved mode from a synchronized server
  kDropTruncated,       // shorter than an NTP header
  kDropBadVersion,      // version 0 or above 4
  kDropMalformed,       // bad extension fields or MAC length
  kDropMode,            // modes 0, 1, 2, 4, 5: not a client request
  kDropControl,         // mode 6: the control's business, not the dataplane's
  kDropPrivate,         // mode 7 (ntpdc, monlist): never answered
  kDropSourcePort0,     // UDP source port 0 cannot be answered
  kDropNoRoom,          // output buffer smaller than a header
  kDropRestrictIgnore,  // the client's restrict rule says ignore
  kDropRestrictNoserve, // ... noserve
  kDropRestrictVersion, // ... version, and the request is not NTPv4
  kDropRestrictNotrust, // ... notrust, and the request is not authenticated with a trusted key
  kDropRateLimited,     // ... limited, and the client asks too often
  kAnsweredKod,         // ... limited kod: answered with a KoD RATE instead of the time
  kAnsweredAuthenticated,  // the request's MAC verified; the answer carries one with the same key
  kAnsweredNakUnknownKey,  // MAC with a key that is not trusted here: answered with a crypto-NAK
  kAnsweredNakBadMac,      // MAC that does not verify (or has the wrong length for its key): crypto-NAK
  kCount
};

const char* to_string(NtpOutcome o);

constexpr bool answered(NtpOutcome o) {
  return o == NtpOutcome::kAnswered || o == NtpOutcome::kAnsweredUnsync || o == NtpOutcome::kAnsweredInterleaved ||
         o == NtpOutcome::kAnsweredKod || o == NtpOutcome::kAnsweredAuthenticated ||
         o == NtpOutcome::kAnsweredNakUnknownKey || o == NtpOutcome::kAnsweredNakBadMac;
}

// Whether the answer's transmit timestamp may be replaced by a later reading
// just before it leaves: not in a KoD (the request's own timestamps) nor
// under a MAC (which covers it).
constexpr bool restampable(NtpOutcome o) {
  return o != NtpOutcome::kAnsweredKod && o != NtpOutcome::kAnsweredAuthenticated;
}

// The lowest bit of an NTP timestamp: set in our receive timestamps, clear in
// our transmit timestamps.
inline constexpr std::uint64_t kRxFlag = 1;

struct NtpRequest {
  wire::Bytes payload;    // the UDP payload
  std::uint16_t src_port; // the client's UDP port
  hwclock::UtcTime rx;    // when the request's last bit arrived
  // The client's IP address (4 or 16 octets, network order), for interleaved
  // mode; without it the answer is basic.
  const std::uint8_t* client = nullptr;
  std::uint8_t client_length = 0;
  // AclAction bits of the client's restrict rule for this source port; 0:
  // none apply.
  std::uint8_t acl = 0;
  // The client's bucket in the client table when already known
  // (ClientTable::bucket, found and fetched by the worker), else kNoBucket.
  // Only for an IPv4 client, and only with a client table attached
  // (Responder::set_clients): pass_limit() relies on both.
  std::uint32_t client_bucket = kNoBucket;
  static constexpr std::uint32_t kNoBucket = 0xFFFF'FFFF;
};

// Set in a tx_slot (NtpResponse, Verdict) when the answer is interleaved: its
// transmit timestamp is the previous answer's precise one and must not be
// replaced by a later reading of the clock. Slots are below 2^30.
inline constexpr std::uint32_t kSlotInterleaved = std::uint32_t{1} << 31;
static_assert(ClientTable::kMaxCapacity <= kSlotInterleaved);

// Small enough to come back in registers.
struct NtpResponse {
  NtpOutcome outcome;
  std::uint32_t length;  // bytes written to the output, 0 when dropped
  // Where the caller records this answer's precise transmit time once it has
  // left (ClientTable::complete with slot() and the answer's receive
  // timestamp), with kSlotInterleaved for an interleaved answer; or
  // ClientTable::kNoSlot.
  std::uint32_t tx_slot = ClientTable::kNoSlot;

  bool interleaved() const { return tx_slot != ClientTable::kNoSlot && (tx_slot & kSlotInterleaved) != 0; }
  std::uint32_t slot() const { return tx_slot == ClientTable::kNoSlot ? tx_slot : tx_slot & ~kSlotInterleaved; }
};
static_assert(sizeof(NtpResponse) <= 16);

class Responder {
 public:
  Responder() { update(shm::ServerState{}); }

  // Takes a new snapshot of the server state and pre-fills the static fields.
  void update(const shm::ServerState& state);

  // Answers `req` into `out` (which may be the request's own bytes: every
  // request field is read before anything is written). `now` is called once,
  // last, and returns the UtcTime to put in the transmit timestamp; an
  // interleaved answer does not call it.
  //
  // Software timestamps give every request of a burst the same receive and
  // transmit instants, so their NTP forms are kept from the previous request
  // (one-entry caches); hardware stamps that differ per packet simply miss.
  template <class Now>
  NtpResponse handle(const NtpRequest& req, wire::MutableBytes out, Now&& now);

  const shm::ServerState& state() const { return state_; }

  // The lcore's client table for interleaved mode (not owned), or nullptr:
  // every answer basic.
  void set_clients(ClientTable* clients) { clients_ = clients; }
  ClientTable* clients() const { return clients_; }

  // How `limited` clients are limited (from the published access list).
  void set_rate_limit(const shm::AclRateLimit& rate) {
    rate_ = rate;
    rate_params_ = RateParams(rate);
  }
  const shm::AclRateLimit& rate_limit() const { return rate_; }
  // The trusted keys (not owned), or nullptr: every MAC gets a crypto-NAK.
  void set_keys(const auth::KeyTable* keys) { keys_ = keys; }
  const auth::KeyTable* keys() const { return keys_; }
  // Seeds the generator that decides chrony-style leaks (not 0).
  void seed(std::uint32_t seed) { random_ = seed != 0 ? seed : 1; }

  // The KoD RATE answer to `q` into `r` (which may be `q`'s bytes).
  static void write_kod(const wire::NtpHeader& q, wire::NtpHeader* r, std::int8_t min_poll);

 private:
  NtpOutcome check(const NtpRequest& req) const;
  // check() for a request its restrict rule drops or limits: out of line.
  NtpOutcome check_restricted(const NtpRequest& req) const;
  // Requests longer than a header: extension fields and MAC. A request with
  // a well-formed MAC is kAnsweredAuthenticated here: still to be verified.
  static NtpOutcome check_tail(const NtpRequest& req);

  // The caller's clock behind a plain function pointer, for the rare path
  // that is not a template.
  struct ClockRef {
    hwclock::UtcTime (*read)(void*);
    void* clock;
    hwclock::UtcTime operator()() const { return read(clock); }
    template <class Now>
    static ClockRef of(Now& now) {
      return {[](void* c) -> hwclock::UtcTime { return (*static_cast<Now*>(c))(); }, &now};
    }
  };

  struct Interleave {
    std::uint32_t slot = ClientTable::kNoSlot;
    bool interleaved = false;
    std::uint64_t origin = 0;  // interleaved: the answer's origin and transmit timestamps
    std::uint64_t tx = 0;
  };
  // A request whose origin carries our receive flag: claims the client's
  // entry for this answer and says whether to answer interleaved.
  // `slot`: the client's entry (a Touch::handle()) when the rate limiter has
  // already taken it.
  Interleave interleave(const NtpRequest& req, const wire::NtpHeader& q, std::uint32_t slot);
  // A request whose origin carries our receive flag, answered interleaved or
  // basic; out of line, so the common path stays as short as without
  // interleaved mode.
  NtpResponse answer_flagged(const NtpRequest& req, wire::NtpHeader* r, ClockRef now,
                             std::uint32_t slot = ClientTable::kNoSlot);
  // A request under a `limited` rule: true when it may be answered, with
  // `slot` its entry in the client table (a Touch::handle(); kNoSlot
  // without a table: then nothing is limited); false with the refusal in
  // `refused` (a KoD RATE written to `r`, or a drop). In line for an IPv4
  // client whose bucket the worker found (NtpRequest::client_bucket); the
  // rest, like refusals, out of line.
  bool pass_limit(const NtpRequest& req, wire::NtpHeader* r, std::uint32_t& slot, NtpResponse& refused) {
    if (req.client_bucket == NtpRequest::kNoBucket) [[unlikely]] return pass_limit_general(req, r, slot, refused);
    const std::uint64_t tag = clients_->tag(ClientKey::from_ipv4(req.client));
    return decide(req, r, clients_->touch_tag(req.client_bucket, tag, last_rx_raw_), slot, refused);
  }
  bool pass_limit_general(const NtpRequest& req, wire::NtpHeader* r, std::uint32_t& slot, NtpResponse& refused);
  bool decide(const NtpRequest& req, wire::NtpHeader* r, const ClientTable::Touch& t, std::uint32_t& slot,
              NtpResponse& refused) {
    const RateVerdict v = dataplane::rate_limit(rate_params_, *t.credit, t.age, t.fresh, [this] { return next_random(); });
    if (v != RateVerdict::kPass) [[unlikely]] return refuse(req, r, v, refused);
    slot = t.handle();
    return true;
  }
  bool refuse(const NtpRequest& req, wire::NtpHeader* r, RateVerdict v, NtpResponse& refused) const;
  // A request with a MAC: verified, then answered with a MAC or a crypto-NAK.
  NtpResponse answer_authenticated(const NtpRequest& req, wire::MutableBytes out, ClockRef now,
                                   std::uint32_t slot = ClientTable::kNoSlot);
  // Basic or interleaved, as the request's origin says.
  NtpResponse answer_plain(const NtpRequest& req, wire::NtpHeader* r, ClockRef now, std::uint32_t slot);
  std::uint32_t next_random() {  // xorshift32
    random_ ^= random_ << 13;
    random_ ^= random_ >> 17;
    random_ ^= random_ << 5;
    return random_;
  }
  template <class Now>
  NtpResponse answer_basic(const wire::NtpHeader& q, wire::NtpHeader* r, Now& now);
  // Everything but the origin and transmit timestamps, which the caller has
  // read from `q` first when `q` and `r` are the same bytes.
  void fill(const wire::NtpHeader& q, wire::NtpHeader* r);

  // The receive timestamp and the root dispersion grown to it, for one rx:
  // handle() converts each request's rx before anything that reads
  // last_rx_raw_ or last_rx_dispersion_.
  // Dispersion is kept per 2^20 ns (about 1 ms) bucket of rx and evaluated at
  // the bucket's end: it grows 15 ns per ms, far below the 15 us resolution of
  // the short format, and is never understated.
  static constexpr int kDispersionBucketShift = 20;
  void convert_rx(hwclock::UtcTime rx);
  std::uint64_t convert_tx(hwclock::UtcTime tx) {
    if (tx != last_tx_) {
      last_tx_ = tx;
      last_tx_raw_ = hwclock::NtpTimestamp::from_utc(tx).raw() & ~kRxFlag;
    }
    return last_tx_raw_;
  }

  shm::ServerState state_{};
  wire::NtpHeader template_{};  // leap, mode, stratum, precision, delay, refid, reference
  bool synchronized_ = false;
  ClientTable* clients_ = nullptr;
  shm::AclRateLimit rate_{};
  RateParams rate_params_{};
  const auth::KeyTable* keys_ = nullptr;
  std::uint32_t random_ = 0x9E3779B9u;

  hwclock::UtcTime last_rx_{std::numeric_limits<std::int64_t>::min()};
  std::uint64_t last_rx_raw_ = 0;
  std::int64_t last_rx_bucket_ = std::numeric_limits<std::int64_t>::min();
  std::uint32_t last_rx_dispersion_ = 0;
  hwclock::UtcTime last_tx_{std::numeric_limits<std::int64_t>::min()};
  std::uint64_t last_tx_raw_ = 0;
};

inline NtpOutcome Responder::check(const NtpRequest& req) const {
  if (req.payload.size() < sizeof(wire::NtpHeader)) return NtpOutcome::kDropTruncated;
  const auto* q = reinterpret_cast<const wire::NtpHeader*>(req.payload.data());
  const unsigned version = q->version();
  if (version < wire::kNtpMinVersion || version > wire::kNtpMaxVersion) return NtpOutcome::kDropBadVersion;
  switch (static_cast<wire::NtpMode>(q->mode())) {
    case wire::NtpMode::kClient: break;
    case wire::NtpMode::kControl: return NtpOutcome::kDropControl;
    case wire::NtpMode::kPrivate: return NtpOutcome::kDropPrivate;
    default: return NtpOutcome::kDropMode;
  }
  if (req.src_port == 0) return NtpOutcome::kDropSourcePort0;
  if (req.payload.size() != sizeof(wire::NtpHeader)) return check_tail(req);
  return NtpOutcome::kAnswered;
}

inline void Responder::fill(const wire::NtpHeader& q, wire::NtpHeader* r) {
  const std::uint8_t version_bits = q.li_vn_mode & 0x38;
  std::int8_t poll = q.poll;
  if (poll < state_.min_poll) poll = state_.min_poll;
  if (poll > state_.max_poll) poll = state_.max_poll;
  std::memcpy(r, &template_, sizeof template_);
  r->li_vn_mode = static_cast<std::uint8_t>(template_.li_vn_mode | version_bits);
  r->poll = poll;
  if (synchronized_) r->root_dispersion.set(last_rx_dispersion_);
  r->receive_ts.set(last_rx_raw_);
}

template <class Now>
NtpResponse Responder::answer_basic(const wire::NtpHeader& q, wire::NtpHeader* r, Now& now) {
  const wire::Be64 origin = q.transmit_ts;  // read before the answer is written over the request
  fill(q, r);
  r->origin_ts = origin;
  r->transmit_ts.set(convert_tx(now()));
  return {synchronized_ ? NtpOutcome::kAnswered : NtpOutcome::kAnsweredUnsync, sizeof(wire::NtpHeader)};
}

template <class Now>
NtpResponse Responder::handle(const NtpRequest& req, wire::MutableBytes out, Now&& now) {
  constexpr std::uint8_t kRefusing = kActIgnore | kActNoserve | kActVersion | kActNotrust;
  const NtpOutcome verdict = (req.acl & kRefusing) == 0 ? check(req) : check_restricted(req);
  const bool authenticated = verdict == NtpOutcome::kAnsweredAuthenticated;
  if (verdict != NtpOutcome::kAnswered && !authenticated) return {verdict, 0};
  if (out.size() < sizeof(wire::NtpHeader)) return {NtpOutcome::kDropNoRoom, 0};
  if (req.rx != last_rx_) convert_rx(req.rx);

  const auto* q = reinterpret_cast<const wire::NtpHeader*>(req.payload.data());
  auto* r = reinterpret_cast<wire::NtpHeader*>(out.data());
  std::uint32_t slot = ClientTable::kNoSlot;
  if ((req.acl & kActLimited) != 0) [[unlikely]] {
    NtpResponse refused;
    if (!pass_limit(req, r, slot, refused)) return refused;
  }
  if (authenticated) [[unlikely]] return answer_authenticated(req, out, ClockRef::of(now), slot);
  if ((q->origin_ts.get() & kRxFlag) != 0) [[unlikely]] return answer_flagged(req, r, ClockRef::of(now), slot);
  return answer_basic(*q, r, now);
}

}  // namespace linetime::dataplane
