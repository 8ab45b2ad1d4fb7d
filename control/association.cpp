#include "control/association.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "control/config.h"
#include "dataplane/wire/ntp.h"

namespace linetime::control {

namespace dsc = linetime::discipline;
using hwclock::NtpTimestamp;

const char* to_string(DemobilizeReason r) {
  switch (r) {
    case DemobilizeReason::kKissDeny: return "the server denied service (kiss code DENY)";
    case DemobilizeReason::kKissRstr: return "the server restricts access (kiss code RSTR)";
  }
  return "?";
}

const char* to_string(ReplyDrop d) {
  switch (d) {
    case ReplyDrop::kMalformed: return "malformed";
    case ReplyDrop::kBadVersion: return "bad-version";
    case ReplyDrop::kBadMode: return "bad-mode";
    case ReplyDrop::kUnauthenticated: return "unauthenticated";
    case ReplyDrop::kCryptoNak: return "crypto-nak";
    case ReplyDrop::kBadMac: return "bad-mac";
    case ReplyDrop::kDuplicate: return "duplicate";
    case ReplyDrop::kBogus: return "bogus";
    case ReplyDrop::kZeroTimestamp: return "zero-timestamp";
    case ReplyDrop::kUnsync: return "unsynchronized";
    case ReplyDrop::kRootDistance: return "root-distance";
    case ReplyDrop::kBadDelay: return "bad-delay";
    case ReplyDrop::kNoPrevious: return "no-previous-exchange";
    case ReplyDrop::kCount: break;
  }
  return "?";
}

const char* to_string(AuthState a) {
  switch (a) {
    case AuthState::kNone: return "none";
    case AuthState::kPending: return "pending";
    case AuthState::kOk: return "ok";
    case AuthState::kBad: return "bad";
    case AuthState::kNoKey: return "no-key";
  }
  return "?";
}

AssociationConfig association_config(const Source& source, const std::shared_ptr<const auth::KeyTable>& keys) {
  AssociationConfig c;
  c.remote = source.host;
  c.minpoll = source.minpoll;
  c.maxpoll = source.maxpoll;
  c.iburst = source.iburst;
  c.burst = source.burst;
  c.prefer = source.prefer;
  c.noselect = source.noselect;
  c.version = source.version;
  c.key = source.key;
  if (source.key && keys) {
    // Shares the table's ownership: the MAC lives as long as the association.
    if (const auth::Mac* m = keys->find(*source.key)) c.mac = std::shared_ptr<const auth::Mac>(keys, m);
  }
  c.xleave = source.xleave;
  return c;
}

Association::Association(const AssociationConfig& cfg, std::uint64_t seed) : cfg_(cfg), rng_(seed) {
  cfg_.minpoll = std::clamp(cfg_.minpoll, kMinPollLog2, kMaxPollLog2);
  cfg_.maxpoll = std::clamp(cfg_.maxpoll, cfg_.minpoll, kMaxPollLog2);
  cfg_.version = std::clamp(cfg_.version, 1, 4);
  cfg_.cookie_random_bits = std::clamp(cfg_.cookie_random_bits, 0, 32);
  system_poll_ = cfg_.minpoll;
  if (cfg_.key) {
    const bool usable = cfg_.mac && cfg_.mac->id() == *cfg_.key;
    auth_ = usable ? AuthState::kPending : AuthState::kNoKey;
    // Never unauthenticated to a server that is to be authenticated.
    if (!usable) demobilized_ = true;
  }
}

int Association::base_poll() const { return std::clamp(system_poll_, cfg_.minpoll, cfg_.maxpoll); }

int Association::poll_log2() const { return std::min(std::max({base_poll(), unreach_poll_, kod_poll_}), kMaxPollLog2); }

Duration Association::interval(int poll_log2) { return Duration::from_seconds(std::ldexp(1.0, poll_log2)); }

void Association::set_system_poll(int poll_log2) { system_poll_ = poll_log2; }

UtcTime Association::next_timer() const {
  if (demobilized_) return UtcTime(std::numeric_limits<std::int64_t>::max());
  if (!started_) return UtcTime(std::numeric_limits<std::int64_t>::min());
  return next_timer_;
}

void Association::reschedule() {
  if (!started_ || demobilized_) return;
  const Duration spacing = std::min(kBurstSpacing, interval(poll_log2()) / 4);
  if (burst_left_ > 0) {
    next_timer_ = last_send_ + spacing;
  } else {
    const Duration regular = Duration::from_seconds(interval(poll_log2()).seconds() * jitter_);
    next_timer_ = std::max(last_regular_ + regular, last_send_ + spacing);
  }
}

NtpTimestamp Association::cookie(UtcTime t) {
  std::uint64_t raw = NtpTimestamp::from_utc(t).raw();
  if (cfg_.cookie_random_bits > 0) {
    const std::uint64_t mask =
        cfg_.cookie_random_bits >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << cfg_.cookie_random_bits) - 1;
    raw = (raw & ~mask) | (rng_() & mask);
  }
  return NtpTimestamp::from_raw(raw == 0 ? 1 : raw);
}

Actions Association::on_timer(UtcTime now) {
  Actions out;
  if (demobilized_ || (started_ && now < next_timer_)) return out;
  started_ = true;

  if (burst_left_ == 0) {
    // A regular poll. Back off while unreachable; start a burst when asked to.
    if (misses_ >= kUnreachableAfter) unreach_poll_ = std::min(std::max(unreach_poll_, base_poll()) + 1, cfg_.maxpoll);
    const bool rate_limited = kod_poll_ > kMinPollLog2;
    if ((cfg_.iburst && reach_ == 0 && !rate_limited) || (cfg_.burst && reach_ != 0)) burst_left_ = kBurstLength - 1;
    last_regular_ = now;
    const double u = (static_cast<double>(rng_() >> 11) + 0.5) * 0x1.0p-53;
    jitter_ = 1 + (u - 0.5) / 16;
  } else {
    --burst_left_;
  }

  const std::uint8_t old_reach = reach_;
  reach_ = static_cast<std::uint8_t>(reach_ << 1);
  if (old_reach != 0 && reach_ == 0) out.push(Unreachable{});

  // The request. An interleaved one names the last reply (origin = its receive
  // timestamp, receive = our arrival time of it) so that a server supporting
  // the mode can send that reply's precise transmit timestamp.
  Send send;
  auto* h = wire::overlay<wire::NtpHeader>(wire::MutableBytes(send.packet));
  h->li_vn_mode = wire::ntp_li_vn_mode(0, static_cast<unsigned>(cfg_.version), static_cast<unsigned>(wire::NtpMode::kClient));
  h->poll = static_cast<std::int8_t>(poll_log2());
  Request req;
  req.seq = ++seq_;
  req.t1 = now;
  const bool interleaved = cfg_.xleave && exchange_.has_value() && misses_ < kMaxInterleavedMisses;
  if (interleaved) {
    wire::store_ts(h->origin_ts, exchange_->t2_raw);
    req.receive_field = cookie(exchange_->t4);
    req.exchange_seq = exchange_->seq;
    wire::store_ts(h->receive_ts, req.receive_field);
  }
  // The transmit timestamp differs from the receive timestamp (so an
  // interleaved answer is told apart from a basic one) and from the previous
  // request's (so a late answer to that one fails the origin test).
  const NtpTimestamp previous = request_ ? request_->transmit_field : NtpTimestamp{};
  do {
    req.transmit_field = cookie(now);
  } while (req.transmit_field == req.receive_field || req.transmit_field == previous);
  wire::store_ts(h->transmit_ts, req.transmit_field);
  if (cfg_.key) send.length = auth::sign(*cfg_.mac, send.packet.data(), sizeof(wire::NtpHeader));
  out.push(send);
  request_ = req;
  last_send_ = now;
  ++misses_;
  ++counters_.sent;
  reschedule();
  return out;
}

void Association::on_transmitted(UtcTime t1_precise) {
  if (!request_) return;
  // A transmit timestamp far from when we handed the packet over belongs to
  // something else (chrony's MAX_TX_DELAY).
  const Duration d = t1_precise - request_->t1;
  if (d > Duration::from_s(1) || d < -Duration::from_s(1)) return;
  request_->t1 = t1_precise;
  if (exchange_ && exchange_->seq == request_->seq) exchange_->t1 = t1_precise;
}

void Association::on_clock_step(Duration step) {
  next_timer_ += step;
  last_regular_ += step;
  last_send_ += step;
  if (request_) request_->t1 += step;
  if (exchange_) {
    exchange_->t1 += step;
    exchange_->t4 += step;
  }
  if (last_reply_time_) *last_reply_time_ += step;
}

void Association::on_frequency_change(UtcTime when, double dfreq) {
  // Had the clock run faster by dfreq since t, it would have read less at t by
  // dfreq * (when - t) to agree at `when`.
  const auto reexpress = [&](UtcTime& t) { t = t - Duration::from_seconds(dfreq * (when - t).seconds()); };
  if (request_) reexpress(request_->t1);
  if (exchange_) {
    reexpress(exchange_->t1);
    reexpress(exchange_->t4);
  }
}

Actions Association::drop(ReplyDrop why) {
  ++counters_.dropped[static_cast<std::size_t>(why)];
  return {};
}

std::optional<ReplyDrop> Association::authenticate(const wire::NtpPacket& p) const {
  switch (auth::check_mac(p, *cfg_.mac)) {
    case auth::MacCheck::kVerified: return std::nullopt;
    case auth::MacCheck::kCryptoNak: return ReplyDrop::kCryptoNak;
    case auth::MacCheck::kBadMac: return ReplyDrop::kBadMac;
    case auth::MacCheck::kNone:
    case auth::MacCheck::kOtherKey: break;
  }
  return ReplyDrop::kUnauthenticated;
}

Actions Association::on_reply(wire::Bytes packet, UtcTime rx_time, UtcTime now) {
  ++counters_.received;
  if (demobilized_) return drop(ReplyDrop::kBogus);
  const auto parsed = wire::parse_ntp(packet);
  if (!parsed) return drop(parsed.error() == wire::ParseError::kBadVersion ? ReplyDrop::kBadVersion : ReplyDrop::kMalformed);
  const wire::NtpHeader& h = *parsed->header;
  if (h.mode() != static_cast<unsigned>(wire::NtpMode::kServer)) return drop(ReplyDrop::kBadMode);
  // Test 5 before everything that changes state: a forged or unauthenticated
  // packet must not consume the request (the genuine reply still counts).
  if (cfg_.key) {
    if (const auto failed = authenticate(*parsed)) {
      auth_ = AuthState::kBad;
      return drop(*failed);
    }
    auth_ = AuthState::kOk;
  }

  const NtpTimestamp org = wire::load_ts(h.origin_ts);
  const NtpTimestamp rec = wire::load_ts(h.receive_ts);
  const NtpTimestamp xmt = wire::load_ts(h.transmit_ts);

  // Test 1: a copy of the last reply.
  if (!xmt.is_zero() && xmt == last_reply_transmit_) return drop(ReplyDrop::kDuplicate);
  // Test 2: an answer to the request in flight, basic or interleaved.
  if (!request_ || request_->answered) return drop(ReplyDrop::kBogus);
  const bool basic = org == request_->transmit_field;
  const bool interleaved = cfg_.xleave && !request_->receive_field.is_zero() && org == request_->receive_field;
  if (!basic && !interleaved) return drop(ReplyDrop::kBogus);

  Actions out;
  const std::uint32_t refid = h.reference_id.get();
  if (h.stratum == 0 && h.leap() == static_cast<unsigned>(wire::Leap::kUnsync)) {
    // Kiss-o'-death: an answer, never a measurement.
    request_->answered = true;
    misses_ = 0;
    ++counters_.kod;
    out.push(KissOfDeath{refid});
    if (refid == kKissRate) {
      kod_poll_ = std::min(std::max({kod_poll_, poll_log2(), cfg_.minpoll}) + 1, kMaxPollLog2);
      burst_left_ = 0;
      reschedule();
    } else if (refid == kKissDeny || refid == kKissRstr) {
      demobilized_ = true;
      out.push(Demobilize{refid == kKissDeny ? DemobilizeReason::kKissDeny : DemobilizeReason::kKissRstr});
    }
    return out;
  }

  // Test 3: the timestamps an answer needs.
  if (org.is_zero() || rec.is_zero() || xmt.is_zero()) return drop(ReplyDrop::kZeroTimestamp);

  // A valid answer: the server is reachable.
  request_->answered = true;
  ++counters_.valid;
  reach_ |= 1;
  misses_ = 0;
  unreach_poll_ = kMinPollLog2;
  last_reply_transmit_ = xmt;
  last_reply_time_ = rx_time;
  stratum_ = h.stratum;
  reference_id_ = refid;
  const std::optional<Exchange> previous = exchange_;
  exchange_ = Exchange{request_->seq, request_->t1, rec, rx_time};
  reschedule();

  // Test 6: the server's clock must be synchronized; test 7: its root distance sane.
  if (h.leap() == static_cast<unsigned>(wire::Leap::kUnsync) || h.stratum == 0 || h.stratum >= wire::kStratumUnsync) {
    return drop(ReplyDrop::kUnsync);
  }
  const Duration root_delay = wire::load_short(h.root_delay).to_duration();
  const Duration root_dispersion = wire::load_short(h.root_dispersion).to_duration();
  if (root_delay / 2 + root_dispersion >= Duration::from_seconds(dsc::kMaxDispS)) return drop(ReplyDrop::kRootDistance);

  // The four timestamps: this exchange's in basic mode; in interleaved mode the
  // previous exchange completed by the precise transmit time of its reply.
  UtcTime t1, t2, t3, t4;
  if (basic) {
    t1 = request_->t1;
    t2 = rec.to_utc(now);
    t3 = xmt.to_utc(now);
    t4 = rx_time;
  } else {
    if (!previous || previous->seq != request_->exchange_seq) return drop(ReplyDrop::kNoPrevious);
    t1 = previous->t1;
    t2 = previous->t2_raw.to_utc(now);
    t3 = xmt.to_utc(now);
    t4 = previous->t4;
  }
  const Duration precision = Duration::from_seconds(dsc::log2_seconds(cfg_.precision_log2) + dsc::log2_seconds(h.precision));
  const Duration local = t4 - t1;
  const Duration remote = t3 - t2;
  const Duration delay = local - remote;
  if (local < Duration{} || remote < -precision || remote > kMaxServerHold || delay > kMaxDelay ||
      delay < -(precision + Duration::from_seconds(kNegativeDelayRate * local.seconds()))) {
    return drop(ReplyDrop::kBadDelay);
  }

  SampleReady s;
  s.header.stratum = h.stratum;
  s.header.leap = static_cast<dsc::Leap>(h.leap());
  s.header.precision_log2 = h.precision;
  s.header.reference_id = refid;
  s.header.root_delay = root_delay;
  s.header.root_dispersion = root_dispersion;
  s.sample = dsc::measure(t1, t2, t3, t4, precision);
  s.interleaved = !basic;
  last_interleaved_ = !basic;
  ++counters_.samples;
  if (!basic) ++counters_.interleaved;
  out.push(s);
  return out;
}

}  // namespace linetime::control
