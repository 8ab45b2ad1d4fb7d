#include "control/status.h"

#include <cmath>
#include <cstdio>

namespace linetime::control {

std::string json_quote(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

namespace {

// A small writer for flat JSON objects: "key": value pairs separated by commas.
class Object {
 public:
  Object& str(const char* key, const std::string& v) { return raw(key, json_quote(v)); }
  Object& num(const char* key, double v) {
    if (!std::isfinite(v)) return raw(key, "null");
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.9g", v);
    return raw(key, buf);
  }
  Object& integer(const char* key, std::int64_t v) { return raw(key, std::to_string(v)); }
  Object& raw(const char* key, const std::string& v) {
    body_ += (body_.empty() ? "" : ",") + json_quote(key) + ":" + v;
    return *this;
  }
  std::string done() const { return "{" + body_ + "}"; }

 private:
  std::string body_;
};

}  // namespace

std::string to_json(const Status& s) {
  const SystemVars& v = s.system;
  Object sys;
  sys.str("mode", v.mode)
      .str("clock_control", v.clock_control)
      .integer("leap", v.leap)
      .integer("stratum", v.stratum)
      .str("refid", v.refid)
      .str("system_peer", v.system_peer)
      .integer("precision", v.precision_log2)
      .num("root_delay_ms", v.root_delay_ms)
      .num("root_dispersion_ms", v.root_dispersion_ms)
      .num("offset_ms", v.offset_ms)
      .num("frequency_ppm", v.frequency_ppm)
      .num("jitter_ms", v.jitter_ms)
      .integer("poll", v.poll_log2)
      .num("uptime_s", v.uptime_s)
      .str("version", v.version);
  std::string rows;
  for (const SourceRow& r : s.sources) {
    Object o;
    o.str("tally", std::string(1, r.tally))
        .str("remote", r.remote)
        .str("refid", r.refid)
        .integer("stratum", r.stratum)
        .str("type", std::string(1, r.type))
        .raw("when_s", r.when_s ? std::to_string(static_cast<std::int64_t>(*r.when_s)) : "null")
        .integer("poll", r.poll_log2)
        .integer("reach", r.reach)
        .num("delay_ms", r.delay_ms)
        .num("offset_ms", r.offset_ms)
        .num("jitter_ms", r.jitter_ms)
        .str("state", r.state)
        .integer("sent", static_cast<std::int64_t>(r.sent))
        .integer("received", static_cast<std::int64_t>(r.received))
        .integer("bogus", static_cast<std::int64_t>(r.bogus))
        .str("auth", r.auth)
        .integer("unauthenticated", static_cast<std::int64_t>(r.unauthenticated))
        .integer("crypto_nak", static_cast<std::int64_t>(r.crypto_nak))
        .integer("bad_mac", static_cast<std::int64_t>(r.bad_mac));
    rows += (rows.empty() ? "" : ",") + o.done();
  }
  return Object().raw("system", sys.done()).raw("sources", "[" + rows + "]").done();
}

}  // namespace linetime::control
