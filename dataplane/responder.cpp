#include "dataplane/responder.h"

namespace linetime::dataplane {

using wire::NtpMode;

namespace {
constexpr std::uint32_t kKissRate = 0x5241'5445;  // "RATE" (RFC 5905 section 7.4)
}  // namespace

const char* to_string(NtpOutcome o) {
  switch (o) {
    case NtpOutcome::kAnswered: return "answered";
    case NtpOutcome::kAnsweredUnsync: return "answered-unsync";
    case NtpOutcome::kAnsweredInterleaved: return "answered-interleaved";
    case NtpOutcome::kDropTruncated: return "drop-truncated";
    case NtpOutcome::kDropBadVersion: return "drop-bad-version";
    case NtpOutcome::kDropMalformed: return "drop-malformed";
    case NtpOutcome::kDropMode: return "drop-mode";
    case NtpOutcome::kDropControl: return "drop-control";
    case NtpOutcome::kDropPrivate: return "drop-private";
    case NtpOutcome::kDropSourcePort0: return "drop-source-port-0";
    case NtpOutcome::kDropNoRoom: return "drop-no-room";
    case NtpOutcome::kDropRestrictIgnore: return "drop-restrict-ignore";
    case NtpOutcome::kDropRestrictNoserve: return "drop-restrict-noserve";
    case NtpOutcome::kDropRestrictVersion: return "drop-restrict-version";
    case NtpOutcome::kDropRestrictNotrust: return "drop-restrict-notrust";
    case NtpOutcome::kDropRateLimited: return "drop-rate-limited";
    case NtpOutcome::kAnsweredKod: return "answered-kod-rate";
    case NtpOutcome::kAnsweredAuthenticated: return "answered-authenticated";
    case NtpOutcome::kAnsweredNakUnknownKey: return "answered-crypto-nak-unknown-key";
    case NtpOutcome::kAnsweredNakBadMac: return "answered-crypto-nak-bad-mac";
    case NtpOutcome::kCount: break;
  }
  return "unknown";
}

void Responder::convert_rx(hwclock::UtcTime rx) {
  last_rx_ = rx;
  last_rx_raw_ = hwclock::NtpTimestamp::from_utc(rx).raw() | kRxFlag;
  const std::int64_t bucket = rx.ticks() >> kDispersionBucketShift;
  if (bucket != last_rx_bucket_) {
    last_rx_bucket_ = bucket;
    const hwclock::UtcTime bucket_end((bucket + 1) << kDispersionBucketShift);
    last_rx_dispersion_ = hwclock::NtpShort::from_duration(state_.root_dispersion_at(bucket_end)).raw();
  }
}

void Responder::update(const shm::ServerState& state) {
  state_ = state;
  // Cached conversions depend on the state.
  last_rx_ = hwclock::UtcTime(std::numeric_limits<std::int64_t>::min());
  last_rx_bucket_ = std::numeric_limits<std::int64_t>::min();
  synchronized_ = state.synchronized != 0 && state.leap != static_cast<std::uint8_t>(wire::Leap::kUnsync) &&
                  state.stratum >= 1 && state.stratum < wire::kStratumUnsync;

  template_ = wire::NtpHeader{};
  template_.precision = state.precision;
  if (synchronized_) {
    template_.li_vn_mode = wire::ntp_li_vn_mode(state.leap, 0, static_cast<unsigned>(NtpMode::kServer));
    template_.stratum = state.stratum;
    template_.reference_id.set(state.reference_id);
    wire::store_short(template_.root_delay, hwclock::NtpShort::from_duration(state.root_delay()));
    wire::store_ts(template_.reference_ts, hwclock::NtpTimestamp::from_utc(state.reference_time()));
  } else {
    // RFC 5905 figure 11: an unsynchronized server says so with LI=3 and
    // stratum 16, and claims no reference time, delay or refid it could be
    // trusted for; dispersion is the maximum.
    template_.li_vn_mode = wire::ntp_li_vn_mode(static_cast<unsigned>(wire::Leap::kUnsync), 0, static_cast<unsigned>(NtpMode::kServer));
    template_.stratum = wire::kStratumUnsync;
    wire::store_short(template_.root_dispersion, hwclock::NtpShort::from_duration(hwclock::Duration(shm::kMaxDispersionNs)));
  }
}

Responder::Interleave Responder::interleave(const NtpRequest& req, const wire::NtpHeader& q, std::uint32_t slot) {
  Interleave x;
  if (clients_ == nullptr || req.client == nullptr || (req.client_length != 4 && req.client_length != 16)) return x;
  const ClientTable::Claim c = slot != ClientTable::kNoSlot
                                   ? clients_->claim_slot(slot, last_rx_raw_)
                                   : clients_->claim(ClientKey::from_address(req.client, req.client_length), last_rx_raw_);
  x.slot = c.slot;
  const std::uint64_t client_rx = q.receive_ts.get();
  // RFC 9769 section 2: the origin must be the receive timestamp we saved,
  // and a request whose receive and transmit timestamps are equal is basic.
  if (c.previous_rx == q.origin_ts.get() && c.previous_tx != 0 && client_rx != q.transmit_ts.get()) {
    x.interleaved = true;
    x.origin = client_rx;
    x.tx = c.previous_tx;
  }
  return x;
}

NtpResponse Responder::answer_flagged(const NtpRequest& req, wire::NtpHeader* r, ClockRef now, std::uint32_t slot) {
  const auto& q = *reinterpret_cast<const wire::NtpHeader*>(req.payload.data());
  const Interleave x = interleave(req, q, slot);
  if (!x.interleaved) {
    NtpResponse res = answer_basic(q, r, now);
    res.tx_slot = x.slot;
    return res;
  }
  fill(q, r);  // x holds what it needs of the request
  r->origin_ts.set(x.origin);
  r->transmit_ts.set(x.tx);
  NtpResponse res{synchronized_ ? NtpOutcome::kAnsweredInterleaved : NtpOutcome::kAnsweredUnsync, sizeof(wire::NtpHeader)};
  res.tx_slot = x.slot | kSlotInterleaved;
  return res;
}

NtpOutcome Responder::check_restricted(const NtpRequest& req) const {
  // ntpd drops an ignored client's packets before looking at them.
  if ((req.acl & kActIgnore) != 0) return NtpOutcome::kDropRestrictIgnore;
  const NtpOutcome o = check(req);
  if (o != NtpOutcome::kAnswered && o != NtpOutcome::kAnsweredAuthenticated) return o;
  if ((req.acl & kActNoserve) != 0) return NtpOutcome::kDropRestrictNoserve;
  const auto* q = reinterpret_cast<const wire::NtpHeader*>(req.payload.data());
  if ((req.acl & kActVersion) != 0 && q->version() != wire::kNtpMaxVersion) return NtpOutcome::kDropRestrictVersion;
  if ((req.acl & kActNotrust) != 0 && o != NtpOutcome::kAnsweredAuthenticated) return NtpOutcome::kDropRestrictNotrust;
  return o;
}

NtpResponse Responder::answer_plain(const NtpRequest& req, wire::NtpHeader* r, ClockRef now, std::uint32_t slot) {
  const auto& q = *reinterpret_cast<const wire::NtpHeader*>(req.payload.data());
  if ((q.origin_ts.get() & kRxFlag) != 0) return answer_flagged(req, r, now, slot);
  return answer_basic(q, r, now);
}

bool Responder::pass_limit_general(const NtpRequest& req, wire::NtpHeader* r, std::uint32_t& slot,
                                   NtpResponse& refused) {
  // Without a client table nothing can be remembered: answered unlimited
  // (the dataplane says so at start).
  if (clients_ == nullptr || req.client == nullptr || (req.client_length != 4 && req.client_length != 16)) return true;
  return decide(req, r, clients_->touch(ClientKey::from_address(req.client, req.client_length), last_rx_raw_), slot,
                refused);
}

bool Responder::refuse(const NtpRequest& req, wire::NtpHeader* r, RateVerdict v, NtpResponse& refused) const {
  if (v == RateVerdict::kLimitedKod && (req.acl & kActKod) != 0) {
    write_kod(*reinterpret_cast<const wire::NtpHeader*>(req.payload.data()), r, rate_params_.kod_min_poll);
    refused = {NtpOutcome::kAnsweredKod, sizeof(wire::NtpHeader)};
  } else {
    refused = {NtpOutcome::kDropRateLimited, 0};
  }
  return false;
}

NtpResponse Responder::answer_authenticated(const NtpRequest& req, wire::MutableBytes out, ClockRef now,
                                            std::uint32_t slot) {
  // check_tail() validated the packet. Without extension fields (the common
  // case) the MAC is all that follows the header; otherwise it is found by
  // parsing again.
  wire::NtpMac mac;
  wire::Bytes covered = req.payload.first(sizeof(wire::NtpHeader));
  if (wire::is_mac_length(req.payload.size() - sizeof(wire::NtpHeader))) {
    mac = wire::read_mac(req.payload.subspan(sizeof(wire::NtpHeader)));
  } else {
    const auto parsed = wire::parse_ntp(req.payload);
    mac = parsed->mac;
    covered = parsed->authenticated;
  }
  const auth::Mac* key = keys_ != nullptr ? keys_->find(mac.key_id) : nullptr;
  NtpOutcome outcome = NtpOutcome::kAnsweredAuthenticated;
  if (key == nullptr) {
    outcome = NtpOutcome::kAnsweredNakUnknownKey;
  } else if (!key->verify(covered.data(), covered.size(), mac.digest.data(), mac.digest.size())) {
    outcome = NtpOutcome::kAnsweredNakBadMac;
  }
  // ntpd drops what `notrust` covers unless it is authentic: no crypto-NAK.
  if (outcome != NtpOutcome::kAnsweredAuthenticated && (req.acl & kActNotrust) != 0) {
    return {NtpOutcome::kDropRestrictNotrust, 0};
  }
  const std::size_t tail = outcome == NtpOutcome::kAnsweredAuthenticated ? auth::kMacKeyIdLength + key->length()
                                                                         : auth::kMacKeyIdLength;
  if (out.size() < sizeof(wire::NtpHeader) + tail) return {NtpOutcome::kDropNoRoom, 0};
  // Everything read from the request is read: the answer may overwrite it.
  NtpResponse res = answer_plain(req, reinterpret_cast<wire::NtpHeader*>(out.data()), now, slot);
  if (outcome == NtpOutcome::kAnsweredAuthenticated) {
    res.length = static_cast<std::uint32_t>(auth::sign(*key, out.data(), sizeof(wire::NtpHeader)));
    // Counted as authenticated even when unsynchronized (the header says
    // that): the outcome also tells the caller not to restamp under the MAC.
    res.outcome = outcome;
  } else {
    res.length = static_cast<std::uint32_t>(auth::append_crypto_nak(out.data(), sizeof(wire::NtpHeader)));
    res.outcome = outcome;
  }
  return res;
}

void Responder::write_kod(const wire::NtpHeader& q, wire::NtpHeader* r, std::int8_t min_poll) {
  const wire::NtpHeader in = q;  // `r` may be `q`
  *r = wire::NtpHeader{};
  r->li_vn_mode = wire::ntp_li_vn_mode(static_cast<unsigned>(wire::Leap::kUnsync), in.version(),
                                       static_cast<unsigned>(NtpMode::kServer));
  r->stratum = 0;  // a kiss
  r->poll = in.poll > min_poll ? in.poll : min_poll;
  r->precision = in.precision;
  r->root_delay = in.root_delay;
  r->root_dispersion = in.root_dispersion;
  r->reference_id.set(kKissRate);
  r->reference_ts = in.reference_ts;
  r->origin_ts = in.transmit_ts;
  r->receive_ts = in.transmit_ts;
  r->transmit_ts = in.transmit_ts;
}

NtpOutcome Responder::check_tail(const NtpRequest& req) {
  const auto parsed = wire::parse_ntp(req.payload);
  if (!parsed) return NtpOutcome::kDropMalformed;
  if (parsed->has_mac) return NtpOutcome::kAnsweredAuthenticated;
  // Extension fields we do not know are ignored (RFC 7822): the answer is a
  // plain 48-octet header, never longer than the request.
  return NtpOutcome::kAnswered;
}

}  // namespace linetime::dataplane
