#include "dataplane/loadgen/report.h"

namespace linetime::loadgen {

namespace {

unsigned long long ull(std::uint64_t v) { return static_cast<unsigned long long>(v); }
long long ll(std::int64_t v) { return static_cast<long long>(v); }
double us(std::int64_t ns) { return static_cast<double>(ns) / 1e3; }

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

void json_unsigned_quantiles(std::FILE* f, const char* name, const Histogram& h) {
  std::fprintf(f, "\"%s\": {\"count\": %llu, \"min\": %llu, \"p1\": %llu, \"p10\": %llu, \"p50\": %llu, \"p90\": %llu, "
               "\"p99\": %llu, \"p999\": %llu, \"max\": %llu}",
               name, ull(h.count()), ull(h.min()), ull(h.quantile(0.01)), ull(h.quantile(0.1)), ull(h.quantile(0.5)),
               ull(h.quantile(0.9)), ull(h.quantile(0.99)), ull(h.quantile(0.999)), ull(h.max()));
}

void json_signed_quantiles(std::FILE* f, const char* name, const SignedHistogram& h) {
  const bool any = h.count() > 0;
  std::fprintf(f, "\"%s\": {\"count\": %llu, \"min\": %lld, \"p1\": %lld, \"p10\": %lld, \"p50\": %lld, \"p90\": %lld, "
               "\"p99\": %lld, \"p999\": %lld, \"max\": %lld}",
               name, ull(h.count()), ll(any ? h.min() : 0), ll(h.quantile(0.01)), ll(h.quantile(0.1)), ll(h.quantile(0.5)),
               ll(h.quantile(0.9)), ll(h.quantile(0.99)), ll(h.quantile(0.999)), ll(any ? h.max() : 0));
}

}  // namespace

SliceRow slice_row(double t_s, unsigned step, double target_rate, const Tally& t) {
  SliceRow r;
  r.t_s = t_s;
  r.step = step;
  r.target_rate = target_rate;
  r.sent = t.sent;
  r.received = t.received;
  r.answered = t.answered;
  r.interleaved = t.interleaved;
  r.unmatched = t.unmatched;
  r.delay_p50_ns = static_cast<std::int64_t>(t.delay_ns.quantile(0.5));
  r.delay_p99_ns = static_cast<std::int64_t>(t.delay_ns.quantile(0.99));
  r.residence_p50_ns = static_cast<std::int64_t>(t.residence_ns.quantile(0.5));
  r.residence_p99_ns = static_cast<std::int64_t>(t.residence_ns.quantile(0.99));
  r.offset_p1_ns = t.offset_ns.quantile(0.01);
  r.offset_p50_ns = t.offset_ns.quantile(0.5);
  r.offset_p99_ns = t.offset_ns.quantile(0.99);
  r.auth_verified = t.auth_verified;
  r.auth_mac_failed = t.auth_mac_failed;
  r.auth_crypto_nak = t.auth_crypto_nak;
  r.auth_unauthenticated = t.auth_unauthenticated;
  return r;
}

void write_csv_header(std::FILE* f) {
  std::fprintf(f, "t_s,sent,received,answered,step,target_rate,interleaved,unmatched,delay_p50_ns,delay_p99_ns,"
               "residence_p50_ns,residence_p99_ns,offset_p1_ns,offset_p50_ns,offset_p99_ns,"
               "auth_verified,auth_mac_failed,auth_crypto_nak,auth_unauthenticated\n");
}

void write_csv_row(std::FILE* f, const SliceRow& r) {
  std::fprintf(f, "%.3f,%llu,%llu,%llu,%u,%.0f,%llu,%llu,%lld,%lld,%lld,%lld,%lld,%lld,%lld,%llu,%llu,%llu,%llu\n",
               r.t_s, ull(r.sent), ull(r.received), ull(r.answered), r.step, r.target_rate, ull(r.interleaved),
               ull(r.unmatched), ll(r.delay_p50_ns), ll(r.delay_p99_ns), ll(r.residence_p50_ns),
               ll(r.residence_p99_ns), ll(r.offset_p1_ns), ll(r.offset_p50_ns), ll(r.offset_p99_ns),
               ull(r.auth_verified), ull(r.auth_mac_failed), ull(r.auth_crypto_nak), ull(r.auth_unauthenticated));
}

void write_table_header(std::FILE* f, bool authenticated) {
  std::fprintf(f, "%4s %11s %11s %11s %8s %7s %9s %9s %9s %9s %9s %9s %9s", "step", "target/s", "offered/s",
               "answered/s", "loss%", "xleave%", "dly50us", "dly99us", "res50us", "res99us", "off1us", "off50us",
               "off99us");
  if (authenticated) std::fprintf(f, " %9s %9s %9s", "macok%", "macbad%", "nak%");
  std::fprintf(f, "\n");
}

void write_table_row(std::FILE* f, const StepResult& s, bool authenticated) {
  const Tally& t = s.tally;
  char target[32];
  if (s.target_rate > 0) {
    std::snprintf(target, sizeof target, "%.0f", s.target_rate);
  } else {
    std::snprintf(target, sizeof target, "unpaced");
  }
  std::fprintf(f, "%4u %11s %11.0f %11.0f %8.3f %7.1f %9.2f %9.2f %9.2f %9.2f %9.2f %9.2f %9.2f", s.step, target,
               s.offered_rate(), s.answered_rate(), 100 * t.loss(), 100 * s.interleaved_share(),
               us(static_cast<std::int64_t>(t.delay_ns.quantile(0.5))), us(static_cast<std::int64_t>(t.delay_ns.quantile(0.99))),
               us(static_cast<std::int64_t>(t.residence_ns.quantile(0.5))),
               us(static_cast<std::int64_t>(t.residence_ns.quantile(0.99))), us(t.offset_ns.quantile(0.01)),
               us(t.offset_ns.quantile(0.5)), us(t.offset_ns.quantile(0.99)));
  if (authenticated) {
    std::fprintf(f, " %9.3f %9.3f %9.3f", 100 * t.auth_share(t.auth_verified), 100 * t.auth_share(t.auth_mac_failed),
                 100 * t.auth_share(t.auth_crypto_nak));
  }
  std::fprintf(f, "\n");
}

void write_json(std::FILE* f, const RunInfo& info, const std::vector<StepResult>& steps) {
  std::fprintf(f, "{\n  \"port\": %s,\n  \"timestamping\": %s,\n  \"destination\": %s,\n  \"clients\": %llu,\n"
               "  \"interleaved\": %s,\n  \"max_loss\": %g,\n",
               json_string(info.port).c_str(), json_string(info.timestamping).c_str(),
               json_string(info.destination).c_str(), ull(info.clients), info.interleaved ? "true" : "false",
               info.max_loss);
  if (info.key_id != 0) {
    std::fprintf(f, "  \"authentication\": {\"key\": %u, \"type\": %s},\n", static_cast<unsigned>(info.key_id),
                 json_string(info.key_type).c_str());
  } else {
    std::fprintf(f, "  \"authentication\": null,\n");
  }
  if (info.find_max) {
    std::fprintf(f, "  \"find_max\": {\"loss_free_rate\": %.0f, \"lowest_failing_rate\": %.0f},\n", info.max_rate,
                 info.lowest_failing_rate);
  }
  std::fprintf(f, "  \"steps\": [");
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const StepResult& s = steps[i];
    const Tally& t = s.tally;
    std::fprintf(f, "%s\n    {\"step\": %u, \"target_rate\": %.0f, \"send_s\": %.3f, \"sent\": %llu, \"received\": %llu, "
                 "\"answered\": %llu, \"interleaved\": %llu, \"unmatched\": %llu, \"hw_rx_timestamps\": %llu, "
                 "\"slipped\": %llu, \"offered_rate\": %.1f, \"answered_rate\": %.1f, \"loss\": %.6f, "
                 "\"interleaved_share\": %.4f,\n     ",
                 i ? "," : "", s.step, s.target_rate, s.send_s, ull(t.sent), ull(t.received), ull(t.answered),
                 ull(t.interleaved), ull(t.unmatched), ull(t.hw_rx), ull(s.slipped), s.offered_rate(), s.answered_rate(),
                 t.loss(), s.interleaved_share());
    json_unsigned_quantiles(f, "delay_ns", t.delay_ns);
    std::fprintf(f, ",\n     ");
    json_unsigned_quantiles(f, "residence_ns", t.residence_ns);
    std::fprintf(f, ",\n     ");
    json_signed_quantiles(f, "offset_ns", t.offset_ns);
    if (info.key_id != 0) {
      std::fprintf(f, ",\n     \"auth\": {\"checked\": %llu, \"verified\": %llu, \"mac_failed\": %llu, "
                   "\"crypto_nak\": %llu, \"unauthenticated\": %llu, \"verified_share\": %.6f, "
                   "\"mac_failed_share\": %.6f, \"crypto_nak_share\": %.6f, \"unauthenticated_share\": %.6f}",
                   ull(t.auth_answers()), ull(t.auth_verified), ull(t.auth_mac_failed), ull(t.auth_crypto_nak),
                   ull(t.auth_unauthenticated), t.auth_share(t.auth_verified), t.auth_share(t.auth_mac_failed),
                   t.auth_share(t.auth_crypto_nak), t.auth_share(t.auth_unauthenticated));
    }
    std::fprintf(f, "}");
  }
  std::fprintf(f, "\n  ]\n}\n");
}

}  // namespace linetime::loadgen
