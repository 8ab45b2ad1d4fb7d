// The NTP server's answer generator: a pure function of the request bytes, its
// receive timestamp and the server state snapshot. It does no IO and reads no
// clock; the transmit timestamp comes from a time source the caller supplies,
// read as late as possible (just before the last field is written).
//
// The dataplane runs one Responder per lcore and calls update() once per burst
// with the state it read from shared memory; static header fields are filled
// then, not per packet.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>

#include "dataplane/shm/server_state.h"
#include "dataplane/wire/ntp.h"
#include "hwclock/ntp_time.h"
#include "hwclock/time.h"

namespace linetime::dataplane {

// What became of one NTP request. The dataplane counts these per lcore.
enum class NtpOutcome : std::uint8_t {
  kAnswered,            // mode 4 reply from a synchronized server
  kAnsweredUnsync,      // mode 4 reply with LI=3 / stratum 16
  kDropTruncated,       // shorter than an NTP header
  kDropBadVersion,      // version 0 or above 4
  kDropMalformed,       // bad extension fields or MAC length
  kDropMode,            // modes 0, 1, 2, 4, 5: not a client request
  kDropControl,         // mode 6: the control's business, not the dataplane's
  kDropPrivate,         // mode 7 (ntpdc, monlist): never answered
  kDropSourcePort0,     // UDP source port 0 cannot be answered
  kDropAuthenticated,   // carries a MAC and no key is configured here
  kDropNoRoom,          // output buffer smaller than a header
  kCount
};

const char* to_string(NtpOutcome o);

constexpr bool answered(NtpOutcome o) { return o == NtpOutcome::kAnswered || o == NtpOutcome::kAnsweredUnsync; }

struct NtpRequest {
  wire::Bytes payload;    // the UDP payload
  std::uint16_t src_port; // the client's UDP port
  hwclock::UtcTime rx;    // when the request's last bit arrived
};

struct NtpResponse {
  NtpOutcome outcome;
  std::size_t length;  // bytes written to the output, 0 when dropped
};

class Responder {
 public:
  Responder() { update(shm::ServerState{}); }

  // Takes a new snapshot of the server state and pre-fills the static fields.
  void update(const shm::ServerState& state);

  // Answers `req` into `out` (which may be the request's own bytes: every
  // request field is read before anything is written). `now` is called once,
  // last, and returns the UtcTime to put in the transmit timestamp.
  //
  // Software timestamps give every request of a burst the same receive and
  // transmit instants, so their NTP forms are kept from the previous request
  // (one-entry caches); hardware stamps that differ per packet simply miss.
  template <class Now>
  NtpResponse handle(const NtpRequest& req, wire::MutableBytes out, Now&& now);

  const shm::ServerState& state() const { return state_; }

 private:
  NtpOutcome check(const NtpRequest& req) const;
  // Requests longer than a header: extension fields and MAC.
  static NtpOutcome check_tail(const NtpRequest& req);

  // The receive timestamp and the root dispersion grown to it, for one rx.
  // Dispersion is kept per 2^20 ns (about 1 ms) bucket of rx and evaluated at
  // the bucket's end: it grows 15 ns per ms, far below the 15 us resolution of
  // the short format, and is never understated.
  static constexpr int kDispersionBucketShift = 20;
  void convert_rx(hwclock::UtcTime rx);
  std::uint64_t convert_tx(hwclock::UtcTime tx) {
    if (tx != last_tx_) {
      last_tx_ = tx;
      last_tx_raw_ = hwclock::NtpTimestamp::from_utc(tx).raw();
    }
    return last_tx_raw_;
  }

  shm::ServerState state_{};
  wire::NtpHeader template_{};  // leap, mode, stratum, precision, delay, refid, reference
  bool synchronized_ = false;

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

template <class Now>
NtpResponse Responder::handle(const NtpRequest& req, wire::MutableBytes out, Now&& now) {
  const NtpOutcome verdict = check(req);
  if (verdict != NtpOutcome::kAnswered) return {verdict, 0};
  if (out.size() < sizeof(wire::NtpHeader)) return {NtpOutcome::kDropNoRoom, 0};

  const auto* q = reinterpret_cast<const wire::NtpHeader*>(req.payload.data());
  const std::uint8_t version_bits = q->li_vn_mode & 0x38;
  std::int8_t poll = q->poll;
  const wire::Be64 origin = q->transmit_ts;

  if (poll < state_.min_poll) poll = state_.min_poll;
  if (poll > state_.max_poll) poll = state_.max_poll;

  auto* r = reinterpret_cast<wire::NtpHeader*>(out.data());
  std::memcpy(r, &template_, sizeof template_);
  r->li_vn_mode = static_cast<std::uint8_t>(template_.li_vn_mode | version_bits);
  r->poll = poll;
  if (req.rx != last_rx_) convert_rx(req.rx);
  if (synchronized_) r->root_dispersion.set(last_rx_dispersion_);
  r->origin_ts = origin;
  r->receive_ts.set(last_rx_raw_);
  r->transmit_ts.set(convert_tx(now()));
  return {synchronized_ ? NtpOutcome::kAnswered : NtpOutcome::kAnsweredUnsync, sizeof(wire::NtpHeader)};
}

}  // namespace linetime::dataplane
