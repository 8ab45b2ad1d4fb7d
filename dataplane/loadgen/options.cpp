#include "dataplane/loadgen/options.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace linetime::loadgen {

namespace {

using Error = Unexpected<std::string>;

Error fail(std::string s) { return unexpected(std::move(s)); }

bool number(const std::string& s, double& out) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  out = std::strtod(s.c_str(), &end);
  return errno == 0 && end != nullptr && *end == '\0' && std::isfinite(out);
}

bool integer(const std::string& s, std::uint64_t& out) {
  if (s.empty() || s[0] == '-') return false;
  char* end = nullptr;
  errno = 0;
  out = std::strtoull(s.c_str(), &end, 10);
  return errno == 0 && end != nullptr && *end == '\0';
}

const Ipv4Prefix kBenchmarking{wire::Ipv4Address::of(198, 18, 0, 0), 15};
const Ipv4Prefix kLoopback{wire::Ipv4Address::of(127, 0, 0, 0), 8};

}  // namespace

Expected<Ipv4Prefix, std::string> parse_prefix(const std::string& text) {
  const auto slash = text.find('/');
  const auto ip = wire::parse_ipv4_address(text.substr(0, slash));
  if (!ip) return fail("'" + text + "' is not an IPv4 address or prefix; write it like 198.18.128.0/20");
  Ipv4Prefix p{*ip, 32};
  if (slash != std::string::npos) {
    std::uint64_t len = 0;
    if (!integer(text.substr(slash + 1), len) || len > 32) {
      return fail("'" + text + "' has a bad prefix length; it goes from /0 to /32");
    }
    p.length = static_cast<unsigned>(len);
  }
  return p;
}

bool address_allowed(const Options& o, wire::Ipv4Address a) {
  return kBenchmarking.contains(a) || kLoopback.contains(a) || (o.have_lab_network && o.lab_network.contains(a));
}

std::string usage() {
  return "linetime-loadgen [EAL options] -- --dst-mac MAC [options]\n"
         "  --port N             DPDK port id (0)\n"
         "  --dst IP             server address (198.18.0.1)\n"
         "  --src IP|PREFIX      client addresses, e.g. 198.18.128.0/20 (198.18.1.1)\n"
         "  --src-ports N        source ports per address, from 20000 (1024)\n"
         "  --rate R             requests/s, 0 = as fast as the port takes them (0)\n"
         "  --rates R1,R2,..     one step per rate\n"
         "  --find-max           search the highest rate losing at most --max-loss\n"
         "  --rate-max R         upper bound of the search (default: the unpaced rate)\n"
         "  --max-loss F         loss allowed in a passing step, 0 to 1 (0.001)\n"
         "  --duration S         seconds per step, at most 600 (5)\n"
         "  --count N            requests per step at most (no limit)\n"
         "  --drain S            seconds answers are still awaited after a step (0.1)\n"
         "  --slice S            CSV row every S seconds (0.1)\n"
         "  --interleaved        interleaved client mode (RFC 9769)\n"
         "  --no-hw-timestamps   software receive timestamps even when the port has hardware ones\n"
         "  --csv FILE           one row per slice\n"
         "  --json FILE          steps and their distributions\n"
         "  --lab-network CIDR   also allow addresses in this network (only 198.18.0.0/15 and\n"
         "                       127.0.0.0/8 otherwise: this tool floods its destination)\n"
         "  --keys FILE          symmetric keys, ntp.keys(5) format (\"1 AES <hex>\" per line)\n"
         "  --key ID             sign every request with key ID of --keys (MD5, SHA1, AES-CMAC, ...);\n"
         "                       answers' MACs are verified with it, and the table, CSV and JSON\n"
         "                       count verified answers, failed MACs and crypto-NAKs; answers whose\n"
         "                       MAC fails are not used and count as lost\n";
}

Expected<Options, std::string> parse_options(const std::vector<std::string>& args) {
  Options o;
  bool have_mac = false;
  bool have_duration = false;
  std::string src_text = "198.18.1.1";
  std::uint64_t ports = 1024;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    std::string v;
    auto value = [&]() -> bool {
      if (i + 1 >= args.size()) return false;
      v = args[++i];
      return true;
    };
    double d = 0;
    std::uint64_t n = 0;
    if (a == "--interleaved") {
      o.interleaved = true;
      continue;
    }
    if (a == "--find-max") {
      o.mode = RunMode::kFindMax;
      continue;
    }
    if (a == "--no-hw-timestamps") {
      o.hw_timestamps = false;
      continue;
    }
    if (a == "--help" || a == "-h") return fail(usage());
    static const char* const kTakesValue[] = {"--port", "--dst-mac", "--dst", "--src", "--src-ports", "--rate",
                                              "--rates", "--rate-max", "--max-loss", "--duration", "--count",
                                              "--drain", "--slice", "--csv", "--json", "--lab-network",
                                              "--keys", "--key"};
    if (std::find(std::begin(kTakesValue), std::end(kTakesValue), a) == std::end(kTakesValue)) {
      return fail("unknown option '" + a + "'\n" + usage());
    }
    if (!value()) return fail(a + " needs a value (see --help)");
    if (a == "--port") {
      if (!integer(v, n) || n > 0xffff) return fail("--port takes a DPDK port id like 0, not '" + v + "'");
      o.port = static_cast<std::uint16_t>(n);
    } else if (a == "--dst-mac") {
      const auto m = wire::parse_mac_address(v);
      if (!m) return fail("--dst-mac takes a MAC address like 02:00:00:00:00:01, not '" + v + "'");
      o.dst_mac = *m;
      have_mac = true;
    } else if (a == "--dst") {
      const auto ip = wire::parse_ipv4_address(v);
      if (!ip) return fail("--dst takes an IPv4 address like 198.18.0.1, not '" + v + "'");
      o.dst = *ip;
    } else if (a == "--src") {
      src_text = v;
    } else if (a == "--src-ports") {
      if (!integer(v, n) || n < 1 || n > 40000) return fail("--src-ports takes 1 to 40000, not '" + v + "'");
      ports = n;
    } else if (a == "--rate") {
      if (!number(v, d) || d < 0) return fail("--rate takes requests per second (0 = unpaced), not '" + v + "'");
      o.rates = {d};
      if (o.mode == RunMode::kSteps) o.mode = RunMode::kFixed;
    } else if (a == "--rates") {
      o.rates.clear();
      std::size_t start = 0;
      while (start <= v.size()) {
        const std::size_t comma = v.find(',', start);
        const std::string item = v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (!number(item, d) || d < 0) return fail("--rates takes rates like 100000,200000,400000; '" + item + "' is not one");
        o.rates.push_back(d);
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
      if (o.rates.size() > kMaxSteps) return fail("--rates takes at most 64 steps");
      if (o.mode != RunMode::kFindMax) o.mode = RunMode::kSteps;
    } else if (a == "--rate-max") {
      if (!number(v, d) || d <= 0) return fail("--rate-max takes a positive rate in requests per second, not '" + v + "'");
      o.rate_max = d;
    } else if (a == "--max-loss") {
      if (!number(v, d) || d < 0 || d >= 1) return fail("--max-loss takes a share from 0 to 1 (0.001 = 0.1 %), not '" + v + "'");
      o.max_loss = d;
    } else if (a == "--duration") {
      if (!number(v, d) || d <= 0 || d > kMaxDurationS) return fail("--duration takes 0 to 600 seconds per step, not '" + v + "'");
      o.duration_s = d;
      have_duration = true;
    } else if (a == "--count") {
      if (!integer(v, n) || n == 0) return fail("--count takes a positive number of requests per step, not '" + v + "'");
      o.count = n;
    } else if (a == "--drain") {
      if (!number(v, d) || d < 0 || d > 10) return fail("--drain takes 0 to 10 seconds, not '" + v + "'");
      o.drain_s = d;
    } else if (a == "--slice") {
      if (!number(v, d) || d < 0.001 || d > kMaxDurationS) return fail("--slice takes 0.001 to 600 seconds, not '" + v + "'");
      o.slice_s = d;
    } else if (a == "--csv") {
      o.csv = v;
    } else if (a == "--json") {
      o.json = v;
    } else if (a == "--lab-network") {
      const auto p = parse_prefix(v);
      if (!p) return fail("--lab-network: " + p.error());
      o.lab_network = *p;
      o.have_lab_network = true;
    } else if (a == "--keys") {
      if (v.empty()) return fail("--keys takes the path of an ntp.keys(5) file, like /etc/ntp/keys");
      o.keys_file = v;
    } else if (a == "--key") {
      if (!integer(v, n) || n < auth::kMinKeyId || n > auth::kMaxKeyId) {
        return fail("--key takes a key id from 1 to 65535 (the first column of the --keys file), not '" + v + "'");
      }
      o.key_id = static_cast<std::uint32_t>(n);
    }
  }
  if (!have_mac) return fail("--dst-mac is required: the MAC address of the server (or of the next hop)");
  if (!o.keys_file.empty() && o.key_id == 0) {
    return fail("--keys " + o.keys_file + " needs --key ID: the id of the key to sign requests with");
  }
  if (o.keys_file.empty() && o.key_id != 0) {
    return fail("--key " + std::to_string(o.key_id) + " needs --keys FILE: the ntp.keys(5) file that holds the key");
  }
  if (o.mode == RunMode::kFindMax && !have_duration) o.duration_s = 1;

  const auto src = parse_prefix(src_text);
  if (!src) return fail("--src: " + src.error());
  const std::uint64_t addresses = src->length >= 31 ? 1 : (std::uint64_t{1} << (32 - src->length)) - 2;
  if (addresses * ports > kMaxClients) {
    return fail("--src " + src_text + " with " + std::to_string(ports) + " ports is " + std::to_string(addresses * ports) +
                " clients; at most 4194304: use a longer prefix or fewer --src-ports");
  }
  // A /31 or /32 is used as given; a larger prefix without its network and
  // broadcast addresses.
  o.population.first_address = src->length >= 31 ? src->address : wire::Ipv4Address{(src->address.value & src->mask()) + 1};
  o.population.addresses = static_cast<std::uint32_t>(addresses);
  o.population.ports = static_cast<std::uint16_t>(ports);
  o.population.first_port = 20000;

  const std::string ranges = "198.18.0.0/15 (the benchmarking range) or 127.0.0.0/8";
  if (!address_allowed(o, o.dst)) {
    return fail("destination " + wire::to_string(o.dst) + " is outside " + ranges +
                ", and this tool floods its destination: use an address in those ranges, or name the lab network "
                "it is on with --lab-network CIDR");
  }
  const wire::Ipv4Address last{o.population.first_address.value + o.population.addresses - 1};
  if (!address_allowed(o, o.population.first_address) || !address_allowed(o, last)) {
    return fail("source " + src_text + " is outside " + ranges +
                ": use client addresses in those ranges, or name the lab network they are on with --lab-network CIDR");
  }
  return o;
}

Expected<auth::Key, std::string> select_key(const std::string& file, std::string_view text, std::uint32_t id,
                                            std::vector<std::string>& warnings) {
  const auth::KeysFile keys = auth::parse_keys(text);
  std::string errors;
  for (const auth::KeysProblem& p : keys.problems) {
    const std::string line = file + ":" + std::to_string(p.line) + ": " + p.message;
    if (p.error) {
      errors += (errors.empty() ? "" : "\n") + line;
    } else {
      warnings.push_back(line);
    }
  }
  if (!errors.empty()) return fail(errors);
  if (const auth::Key* k = keys.find(id)) return *k;
  std::string held;
  constexpr std::size_t kListed = 10;
  for (std::size_t i = 0; i < keys.keys.size() && i < kListed; ++i) {
    held += (i ? ", " : "") + std::to_string(keys.keys[i].id);
  }
  if (keys.keys.size() > kListed) held += ", ...";
  const std::string fix = "add a line '" + std::to_string(id) + " AES <32 hex digits>' to the file";
  if (held.empty()) return fail("key " + std::to_string(id) + " is not in " + file + ", which holds no key: " + fix);
  return fail("key " + std::to_string(id) + " is not in " + file + " (it holds " + held +
              "): name one of those with --key, or " + fix);
}

Expected<auth::Key, std::string> load_key(const Options& o, std::vector<std::string>& warnings) {
  std::ifstream in(o.keys_file, std::ios::binary);
  if (!in) {
    return fail("cannot read keys file " + o.keys_file + " (" + std::strerror(errno) +
                "): check the path given to --keys and that this user may read it");
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (auto why = auth::keys_file_exposure(o.keys_file)) warnings.push_back(*why);
  return select_key(o.keys_file, text.str(), o.key_id, warnings);
}

}  // namespace linetime::loadgen
