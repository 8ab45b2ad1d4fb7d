#include "control/mode6.h"

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstring>

namespace linetime::control::mode6 {

namespace {

// ntpd breaks the variable list into lines of about this many characters
// (",\r\n" between variables); ntpq joins them again.
constexpr std::size_t kLineLength = 72;
// ntpd's MAXDISPERSE in milliseconds: the dispersion of an empty filter stage.
constexpr double kEmptyStageDispersionMs = 16000.0;

std::string printf_string(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string printf_string(const char* fmt, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  const int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0) return {};
  return std::string(buf, std::min<std::size_t>(static_cast<std::size_t>(n), sizeof buf - 1));
}

std::string fixed(double v, int decimals) {
  if (!std::isfinite(v)) v = 0;
  return printf_string("%.*f", decimals, v);
}

std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    // A quote or a control character would end the value early in ntpq's
    // parser: such characters are left out.
    if (c == '"' || static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) continue;
    out += c;
  }
  return out + "\"";
}

// name=value pairs in order, and the list text ntpd would send.
class VarList {
 public:
  void add(std::string name, std::string value) { items_.emplace_back(std::move(name), std::move(value)); }

  // All variables, or those named in `wanted`; nullopt when a name is unknown.
  // `known` lists names that are valid even when this list lacks them.
  std::optional<std::string> render(std::string_view wanted, const std::vector<std::string_view>& known) const {
    std::vector<const std::pair<std::string, std::string>*> chosen;
    if (trim(wanted).empty()) {
      for (const auto& it : items_) chosen.push_back(&it);
    } else {
      std::size_t pos = 0;
      while (pos <= wanted.size()) {
        std::size_t comma = wanted.find(',', pos);
        if (comma == std::string_view::npos) comma = wanted.size();
        std::string_view name = trim(wanted.substr(pos, comma - pos));
        if (const std::size_t eq = name.find('='); eq != std::string_view::npos) name = trim(name.substr(0, eq));
        pos = comma + 1;
        if (name.empty()) continue;
        const auto it = std::find_if(items_.begin(), items_.end(), [&](const auto& kv) { return kv.first == name; });
        if (it != items_.end()) {
          if (std::find(chosen.begin(), chosen.end(), &*it) == chosen.end()) chosen.push_back(&*it);
        } else if (std::find(known.begin(), known.end(), name) == known.end()) {
          return std::nullopt;
        }
      }
    }
    std::string out;
    std::size_t line = 0;
    for (std::size_t i = 0; i < chosen.size(); ++i) {
      const std::string item = chosen[i]->first + "=" + chosen[i]->second;
      if (i > 0) {
        if (line + 2 + item.size() > kLineLength) {
          out += ",\r\n";
          line = 0;
        } else {
          out += ", ";
          line += 2;
        }
      }
      out += item;
      line += item.size();
    }
    return out;
  }

 private:
  static std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n' || s.front() == 0)) {
      s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n' || s.back() == 0)) {
      s.remove_suffix(1);
    }
    return s;
  }
  std::vector<std::pair<std::string, std::string>> items_;
};

const std::vector<std::string_view> kSystemNames = {
    "version", "processor", "system", "leap", "stratum", "precision", "rootdelay", "rootdisp", "refid", "reftime",
    "clock", "peer", "tc", "mintc", "offset", "frequency", "sys_jitter", "clk_jitter", "clk_wander"};
const std::vector<std::string_view> kPeerNames = {
    "srcadr", "srcport", "srchost", "dstadr", "leap", "stratum", "precision", "rootdelay", "rootdisp", "refid",
    "rec", "reach", "unreach", "hmode", "pmode", "hpoll", "ppoll", "flash", "offset", "delay", "dispersion",
    "jitter", "xleave", "filtdelay", "filtoffset", "filtdisp"};

std::string filter_row(const std::vector<FilterStage>& f, double FilterStage::*field, double empty) {
  std::string out;
  for (std::size_t i = 0; i < kFilterStages; ++i) {
    const double v = i < f.size() ? f[i].*field : empty;
    out += ' ';
    out += fixed(v, 3);
  }
  return out;
}

void put_header(Fragment& f, const Request& req, std::uint8_t flags, std::uint16_t status, std::uint16_t offset,
                std::uint16_t count) {
  f.resize(std::max(f.size(), kHeaderLength));
  auto* h = reinterpret_cast<Header*>(f.data());
  h->li_vn_mode = static_cast<std::uint8_t>((req.version & 7) << 3 | kModeControl);
  h->r_e_m_op = static_cast<std::uint8_t>(kResponseBit | flags | (req.opcode & kOpcodeMask));
  h->sequence.set(req.sequence);
  h->status.set(status);
  h->assoc_id.set(req.assoc_id);
  h->offset.set(offset);
  h->count.set(count);
}

bool is_write(std::uint8_t opcode) {
  switch (static_cast<Opcode>(opcode)) {
    case Opcode::kWriteVar:
    case Opcode::kWriteClock:
    case Opcode::kSetTrap:
    case Opcode::kConfigure:
    case Opcode::kSaveConfig:
    case Opcode::kUnsetTrap:
      return true;
    default:
      return false;
  }
}

bool prefix_matches(const IpPrefix& p, const IpAddress& a) {
  if (p.address.is_v6 != a.is_v6) return false;
  if (!a.is_v6) {
    if (p.length <= 0) return true;
    const std::uint32_t mask = p.length >= 32 ? 0xffffffffu : ~(0xffffffffu >> p.length);
    return (a.v4.value & mask) == (p.address.v4.value & mask);
  }
  int bits = std::clamp(p.length, 0, 128);
  for (std::size_t i = 0; i < 16 && bits > 0; ++i, bits -= 8) {
    const std::uint8_t mask = bits >= 8 ? 0xff : static_cast<std::uint8_t>(0xff << (8 - bits));
    if ((a.v6.bytes[i] & mask) != (p.address.v6.bytes[i] & mask)) return false;
  }
  return true;
}

}  // namespace

const char* to_string(ParseFailure f) {
  switch (f) {
    case ParseFailure::kTruncated: return "truncated";
    case ParseFailure::kNotControl: return "not mode 6";
    case ParseFailure::kBadVersion: return "bad version";
    case ParseFailure::kResponse: return "response";
    case ParseFailure::kFragmented: return "fragmented request";
    case ParseFailure::kTooLong: return "count above 468";
  }
  return "?";
}

const char* to_string(Outcome o) {
  switch (o) {
    case Outcome::kAnswered: return "answered";
    case Outcome::kError: return "error";
    case Outcome::kRefused: return "refused";
    case Outcome::kRateLimited: return "rate_limited";
    case Outcome::kMalformed: return "malformed";
    case Outcome::kCount: break;
  }
  return "?";
}

Expected<Request, ParseFailure> parse_request(wire::Bytes packet) {
  const Header* h = wire::overlay<Header>(packet);
  if (h == nullptr) return unexpected(ParseFailure::kTruncated);
  if ((h->li_vn_mode & 7) != kModeControl) return unexpected(ParseFailure::kNotControl);
  const std::uint8_t version = (h->li_vn_mode >> 3) & 7;
  if (version < 1 || version > 4) return unexpected(ParseFailure::kBadVersion);
  if ((h->r_e_m_op & kResponseBit) != 0) return unexpected(ParseFailure::kResponse);
  if ((h->r_e_m_op & kMoreBit) != 0 || h->offset.get() != 0) return unexpected(ParseFailure::kFragmented);
  const std::size_t count = h->count.get();
  if (count > kMaxData) return unexpected(ParseFailure::kTooLong);
  if (packet.size() < kHeaderLength + count) return unexpected(ParseFailure::kTruncated);
  Request r;
  r.version = version;
  r.opcode = h->r_e_m_op & kOpcodeMask;
  r.sequence = h->sequence.get();
  r.assoc_id = h->assoc_id.get();
  r.data = std::string_view(reinterpret_cast<const char*>(packet.data() + kHeaderLength), count);
  return r;
}

Select select_of(discipline::SourceStatus s) {
  using discipline::SourceStatus;
  switch (s) {
    case SourceStatus::kSystemPeer: return Select::kSysPeer;
    case SourceStatus::kSurvivor: return Select::kCandidate;
    case SourceStatus::kExcess: return Select::kOutlier;  // linetimectl's '-' for a source clustering pruned
    case SourceStatus::kFalseticker: return Select::kFalsetick;
    default: return Select::kReject;
  }
}

std::uint16_t flash_of(discipline::SourceStatus s, std::uint8_t reach) {
  using discipline::SourceStatus;
  std::uint16_t f = reach == 0 ? kFlashUnreach : 0;
  switch (s) {
    case SourceStatus::kUnsync: f |= kFlashUnsync; break;
    case SourceStatus::kStratum: f |= kFlashStratum; break;
    case SourceStatus::kDistance: f |= kFlashDistance; break;
    default: break;
  }
  return f;
}

std::uint16_t system_status(const SystemInfo& s) {
  // LI (2 bits), clock source (6), event counter (4), last event code (4).
  return static_cast<std::uint16_t>((s.leap & 3) << 14 | (s.clock_source & 0x3f) << 8);
}

std::uint16_t peer_status(const PeerInfo& p) {
  // Status bits (configured 0x80, reachable 0x10) and the selection code in
  // the high octet; event counter and code in the low one.
  std::uint8_t high = static_cast<std::uint8_t>(p.select) & 7;
  if (p.configured) high |= 0x80;
  if (p.reach != 0) high |= 0x10;
  return static_cast<std::uint16_t>(high << 8);
}

std::string lfp_text(std::uint64_t t) {
  return printf_string("0x%08x.%08x", static_cast<unsigned>(t >> 32), static_cast<unsigned>(t & 0xffffffffu));
}

std::optional<std::string> system_variables(const SystemInfo& s, std::string_view wanted) {
  VarList v;
  v.add("version", quoted(s.version));
  v.add("processor", quoted(s.processor));
  v.add("system", quoted(s.system));
  v.add("leap", std::to_string(s.leap & 3));
  v.add("stratum", std::to_string(s.stratum));
  v.add("precision", std::to_string(s.precision_log2));
  v.add("rootdelay", fixed(s.root_delay_ms, 6));
  v.add("rootdisp", fixed(s.root_dispersion_ms, 6));
  v.add("refid", s.refid);
  v.add("reftime", lfp_text(s.reftime));
  v.add("clock", lfp_text(s.clock));
  v.add("peer", std::to_string(s.peer));
  v.add("tc", std::to_string(s.tc));
  v.add("mintc", std::to_string(s.mintc));
  v.add("offset", fixed(s.offset_ms, 6));
  v.add("frequency", fixed(s.frequency_ppm, 6));
  v.add("sys_jitter", fixed(s.sys_jitter_ms, 6));
  v.add("clk_jitter", fixed(s.clk_jitter_ms, 6));
  v.add("clk_wander", fixed(s.clk_wander_ppm, 6));
  return v.render(wanted, kSystemNames);
}

std::optional<std::string> peer_variables(const PeerInfo& p, std::string_view wanted) {
  VarList v;
  v.add("srcadr", p.srcadr);
  v.add("srcport", std::to_string(p.srcport));
  if (!p.srchost.empty()) v.add("srchost", quoted(p.srchost));
  v.add("dstadr", p.dstadr);
  v.add("leap", std::to_string(p.leap & 3));
  v.add("stratum", std::to_string(p.stratum));
  v.add("precision", std::to_string(p.precision_log2));
  v.add("rootdelay", fixed(p.root_delay_ms, 6));
  v.add("rootdisp", fixed(p.root_dispersion_ms, 6));
  v.add("refid", p.refid);
  if (p.rec) v.add("rec", lfp_text(*p.rec));
  v.add("reach", printf_string("0x%x", static_cast<unsigned>(p.reach)));
  v.add("unreach", std::to_string(p.unreach));
  v.add("hmode", std::to_string(p.hmode));
  v.add("pmode", std::to_string(p.pmode));
  v.add("hpoll", std::to_string(p.hpoll));
  v.add("ppoll", std::to_string(p.ppoll));
  v.add("flash", printf_string("0x%x", static_cast<unsigned>(p.flash)));
  v.add("offset", fixed(p.offset_ms, 6));
  v.add("delay", fixed(p.delay_ms, 6));
  v.add("dispersion", fixed(p.dispersion_ms, 6));
  v.add("jitter", fixed(p.jitter_ms, 6));
  v.add("xleave", p.xleave ? "1" : "0");
  v.add("filtdelay", filter_row(p.filter, &FilterStage::delay_ms, 0));
  v.add("filtoffset", filter_row(p.filter, &FilterStage::offset_ms, 0));
  v.add("filtdisp", filter_row(p.filter, &FilterStage::dispersion_ms, kEmptyStageDispersionMs));
  return v.render(wanted, kPeerNames);
}

std::vector<Fragment> fragments(const Request& req, std::uint16_t status, std::string_view data) {
  constexpr std::size_t kCap = kMaxData * kMaxFragments;
  if (data.size() > kCap) {
    // Cut after the last complete variable that fits; binary data (an
    // association list) is cut at a whole entry.
    std::size_t cut = data.substr(0, kCap).rfind(',');
    if (cut == std::string_view::npos) cut = kCap - kCap % 4;
    data = data.substr(0, cut);
  }
  std::vector<Fragment> out;
  std::size_t offset = 0;
  do {
    const std::size_t n = std::min(kMaxData, data.size() - offset);
    const bool more = offset + n < data.size();
    Fragment f((kHeaderLength + n + 3) & ~std::size_t{3}, 0);
    put_header(f, req, more ? kMoreBit : 0, status, static_cast<std::uint16_t>(offset), static_cast<std::uint16_t>(n));
    if (n > 0) std::memcpy(f.data() + kHeaderLength, data.data() + offset, n);
    out.push_back(std::move(f));
    offset += n;
  } while (offset < data.size());
  return out;
}

Fragment error_response(const Request& req, ErrorCode code) {
  Fragment f(kHeaderLength, 0);
  put_header(f, req, kErrorBit, static_cast<std::uint16_t>(static_cast<std::uint16_t>(code) << 8), 0, 0);
  return f;
}

std::vector<Fragment> answer(const Request& req, const Snapshot& snap) {
  if (is_write(req.opcode)) return {error_response(req, ErrorCode::kProhibited)};
  const auto op = static_cast<Opcode>(req.opcode);
  if (op != Opcode::kReadStat && op != Opcode::kReadVar) return {error_response(req, ErrorCode::kBadOpcode)};

  const PeerInfo* peer = nullptr;
  if (req.assoc_id != 0) {
    for (const PeerInfo& p : snap.peers) {
      if (p.assoc_id == req.assoc_id) peer = &p;
    }
    if (peer == nullptr) return {error_response(req, ErrorCode::kUnknownAssociation)};
  }

  if (op == Opcode::kReadStat) {
    if (peer != nullptr) return fragments(req, peer_status(*peer), {});
    std::string list;
    for (const PeerInfo& p : snap.peers) {
      const std::uint16_t st = peer_status(p);
      const char entry[4] = {static_cast<char>(p.assoc_id >> 8), static_cast<char>(p.assoc_id & 0xff),
                             static_cast<char>(st >> 8), static_cast<char>(st & 0xff)};
      list.append(entry, 4);
    }
    return fragments(req, system_status(snap.system), list);
  }

  const std::optional<std::string> text =
      peer != nullptr ? peer_variables(*peer, req.data) : system_variables(snap.system, req.data);
  if (!text) return {error_response(req, ErrorCode::kUnknownVariable)};
  return fragments(req, peer != nullptr ? peer_status(*peer) : system_status(snap.system), *text);
}

QueryAccess::QueryAccess(const std::vector<RestrictRule>& rules) {
  for (const RestrictRule& r : rules) {
    const bool refuses = (r.flags & (kRestrictNoquery | kRestrictIgnore)) != 0;
    if (r.target == RestrictTarget::kDefault) {
      Entry e;
      e.refuses = refuses;
      e.any_family = r.family == AddressFamily::kAny;
      e.v6 = r.family == AddressFamily::kIpv6;
      e.prefix.address.is_v6 = e.v6;
      e.prefix.length = 0;
      entries_.push_back(e);
    } else if (r.target == RestrictTarget::kPrefix) {
      Entry e;
      e.refuses = refuses;
      e.v6 = r.prefix.address.is_v6;
      e.prefix = r.prefix;
      entries_.push_back(e);
    }
    // Host names and `restrict source` name association addresses, not
    // querying clients: they do not take part here.
  }
}

bool QueryAccess::allows(const IpAddress& a) const {
  const Entry* best = nullptr;
  for (const Entry& e : entries_) {
    const bool family_ok = e.any_family || e.v6 == a.is_v6;
    if (!family_ok) continue;
    if (!e.any_family && !prefix_matches(e.prefix, a)) continue;
    if (best == nullptr || e.prefix.length >= best->prefix.length) best = &e;
  }
  const bool loopback = a.is_v6 ? a.v6.is_loopback() : a.v4.is_loopback();
  if (best != nullptr && best->prefix.length > 0) return !best->refuses;
  if (loopback) return true;
  return best != nullptr && !best->refuses;
}

void RateLimiter::refill(double& tokens, std::int64_t& updated_ns, std::int64_t now_ns, double rate, double burst) {
  if (updated_ns == INT64_MIN) {
    tokens = burst;
  } else if (now_ns > updated_ns) {
    tokens = std::min(burst, tokens + rate * static_cast<double>(now_ns - updated_ns) * 1e-9);
  }
  updated_ns = std::max(updated_ns, now_ns);
}

bool RateLimiter::admit(const IpAddress& from, std::int64_t now_ns, unsigned cost) {
  refill(total_tokens_, total_updated_ns_, now_ns, settings_.total_per_s, settings_.total_burst);
  auto it = std::find_if(buckets_.begin(), buckets_.end(), [&](const Bucket& b) { return b.address == from; });
  if (it == buckets_.end()) {
    if (buckets_.size() >= settings_.max_sources && !buckets_.empty()) {
      it = std::min_element(buckets_.begin(), buckets_.end(),
                            [](const Bucket& x, const Bucket& y) { return x.updated_ns < y.updated_ns; });
    } else {
      buckets_.emplace_back();
      it = buckets_.end() - 1;
    }
    *it = Bucket{from, 0, INT64_MIN};
  }
  refill(it->tokens, it->updated_ns, now_ns, settings_.per_source_per_s, settings_.per_source_burst);
  if (it->tokens < cost || total_tokens_ < cost) return false;
  it->tokens -= cost;
  total_tokens_ -= cost;
  return true;
}

Outcome Server::handle(wire::Bytes packet, const IpAddress& from, std::int64_t now_ns,
                       const std::function<Snapshot()>& snapshot, std::vector<Fragment>& out) {
  out.clear();
  Outcome o;
  if (!access_.allows(from)) {
    o = Outcome::kRefused;
  } else if (auto req = parse_request(packet); !req) {
    o = Outcome::kMalformed;
  } else if (!limiter_.admit(from, now_ns, 1)) {
    o = Outcome::kRateLimited;
  } else {
    out = answer(*req, snapshot());
    // The first fragment was paid for; the rest of a long answer is paid
    // now, or the answer shrinks to what the budget allows.
    std::size_t paid = 1;
    while (paid < out.size() && limiter_.admit(from, now_ns, 1)) ++paid;
    if (paid < out.size()) {
      out.clear();
      o = Outcome::kRateLimited;
    } else {
      o = (out.front()[1] & kErrorBit) != 0 ? Outcome::kError : Outcome::kAnswered;
    }
  }
  ++counts_[static_cast<std::size_t>(o)];
  return o;
}

}  // namespace linetime::control::mode6
