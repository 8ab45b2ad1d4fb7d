#include "dataplane/auth/keys.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>

namespace linetime::auth {

namespace {

struct NameEntry {
  std::string_view name;  // upper case
  Algorithm algorithm;
};

// ntpsec looks the type up in OpenSSL (ciphers with "-CBC" appended, as CMAC);
// these are the ones OpenSSL names and this build implements.
constexpr NameEntry kNames[] = {
    {"MD5", Algorithm::kMd5},
    {"SHA1", Algorithm::kSha1},
    {"SHA-1", Algorithm::kSha1},
    {"SHA224", Algorithm::kSha224},
    {"SHA256", Algorithm::kSha256},
    {"SHA384", Algorithm::kSha384},
    {"SHA512", Algorithm::kSha512},
    {"SHA3-224", Algorithm::kSha3_224},
    {"SHA3-256", Algorithm::kSha3_256},
    {"SHA3-384", Algorithm::kSha3_384},
    {"SHA3-512", Algorithm::kSha3_512},
    {"AES", Algorithm::kAes128Cmac},
    {"AES-128", Algorithm::kAes128Cmac},
    {"AES128CMAC", Algorithm::kAes128Cmac},
    {"AES-192", Algorithm::kAes192Cmac},
    {"AES-256", Algorithm::kAes256Cmac},
};

std::string upper(std::string_view s) {
  std::string u(s);
  for (char& c : u) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return u;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

std::vector<std::string_view> words(std::string_view line) {
  if (auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
  std::vector<std::string_view> w;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    std::size_t j = i;
    while (j < line.size() && !std::isspace(static_cast<unsigned char>(line[j]))) ++j;
    if (j > i) w.push_back(line.substr(i, j - i));
    i = j;
  }
  return w;
}

class Parser {
 public:
  KeysFile run(std::string_view text) {
    int number = 0;
    std::size_t start = 0;
    while (start <= text.size()) {
      std::size_t end = text.find('\n', start);
      if (end == std::string_view::npos) end = text.size();
      ++number;
      line(text.substr(start, end - start), number);
      start = end + 1;
    }
    std::stable_sort(out_.keys.begin(), out_.keys.end(), [](const Key& a, const Key& b) { return a.id < b.id; });
    return std::move(out_);
  }

 private:
  void problem(int line, bool error, std::string message) {
    out_.problems.push_back({error, line, std::move(message)});
  }

  void line(std::string_view text, int number) {
    const auto w = words(text);
    if (w.empty()) return;
    const std::string_view example = " — write 'keyno type key', e.g. '1 AES 0123456789abcdef0123456789abcdef'";
    std::uint32_t id = 0;
    const auto [p, ec] = std::from_chars(w[0].data(), w[0].data() + w[0].size(), id);
    if (ec != std::errc{} || p != w[0].data() + w[0].size() || id < kMinKeyId || id > kMaxKeyId) {
      problem(number, true, "bad key number '" + std::string(w[0]) + "': key numbers are 1 to 65535" +
                                std::string(example));
      return;
    }
    const std::string key_name = "key " + std::to_string(id);
    if (w.size() < 3) {
      problem(number, true, key_name + " has no " + (w.size() < 2 ? "type and secret" : "secret") + std::string(example));
      return;
    }
    if (w.size() > 3) {
      problem(number, true, key_name + ": unexpected '" + std::string(w[3]) +
                                "' after the secret — a secret has no spaces; comments start with '#'");
      return;
    }
    Key key;
    key.id = id;
    const std::string type = upper(w[1]);
    if (auto a = algorithm_from_name(type)) {
      key.algorithm = *a;
    } else if (type[0] == 'M') {
      key.algorithm = Algorithm::kMd5;  // ntpsec's backward compatibility
      problem(number, false, key_name + ": unknown type '" + std::string(w[1]) +
                                 "' taken as MD5, as ntpd does — write MD5 (or better AES)");
    } else {
      std::string list;
      for (auto n : algorithm_names()) list += (list.empty() ? "" : ", ") + std::string(n);
      problem(number, true, key_name + ": unsupported type '" + std::string(w[1]) + "' — use one of " + list);
      return;
    }
    if (!secret(w[2], key, key_name, number)) return;
    if (const std::size_t want = cmac_key_length(key.algorithm); want != 0 && key.secret.size() != want) {
      problem(number, false, key_name + " (" + to_string(key.algorithm) + ") has " +
                                 std::to_string(key.secret.size()) + " octets; the cipher takes " +
                                 std::to_string(want) + (key.secret.size() < want ? ", so it is padded with zeros"
                                                                                  : ", so the rest is ignored") +
                                 " — write " + std::to_string(2 * want) + " hex digits");
      key.secret.resize(want, 0);
    }
    for (const Key& k : out_.keys) {
      if (k.id == id) {
        problem(number, false, key_name + " is defined again: this line replaces the earlier one — remove one");
        std::erase_if(out_.keys, [id](const Key& x) { return x.id == id; });
        break;
      }
    }
    out_.keys.push_back(std::move(key));
  }

  bool secret(std::string_view s, Key& key, const std::string& key_name, int number) {
    if (s.size() <= kMaxAsciiKey) {
      for (char c : s) {
        if (c < 0x21 || c > 0x7e) {
          problem(number, true, key_name + ": the secret has a character that is not printable ASCII — write it in hex"
                                           " (more than 20 hex digits)");
          return false;
        }
      }
      key.secret.assign(s.begin(), s.end());
      return true;
    }
    if (s.size() > 2 * kMaxSecret) {
      problem(number, false, key_name + ": the hex secret has " + std::to_string(s.size()) +
                                 " digits; only the first 64 (32 octets) are used — shorten it");
      s = s.substr(0, 2 * kMaxSecret);
    }
    if (s.size() % 2 != 0) {
      problem(number, true, key_name + ": a secret longer than 20 characters is hexadecimal and needs an even number "
                                       "of digits — check the secret");
      return false;
    }
    key.secret.resize(s.size() / 2);
    for (std::size_t i = 0; i < s.size(); i += 2) {
      const int hi = hex_value(s[i]);
      const int lo = hex_value(s[i + 1]);
      if (hi < 0 || lo < 0) {
        problem(number, true, key_name + ": a secret longer than 20 characters is hexadecimal, and '" +
                                  std::string(1, hi < 0 ? s[i] : s[i + 1]) +
                                  "' is not a hex digit — write it in hex, or use at most 20 characters");
        key.secret.clear();
        return false;
      }
      key.secret[i / 2] = static_cast<std::uint8_t>(hi << 4 | lo);
    }
    return true;
  }

  KeysFile out_;
};

}  // namespace

const char* to_string(Algorithm a) {
  switch (a) {
    case Algorithm::kMd5: return "MD5";
    case Algorithm::kSha1: return "SHA1";
    case Algorithm::kSha224: return "SHA224";
    case Algorithm::kSha256: return "SHA256";
    case Algorithm::kSha384: return "SHA384";
    case Algorithm::kSha512: return "SHA512";
    case Algorithm::kSha3_224: return "SHA3-224";
    case Algorithm::kSha3_256: return "SHA3-256";
    case Algorithm::kSha3_384: return "SHA3-384";
    case Algorithm::kSha3_512: return "SHA3-512";
    case Algorithm::kAes128Cmac: return "AES-128";
    case Algorithm::kAes192Cmac: return "AES-192";
    case Algorithm::kAes256Cmac: return "AES-256";
  }
  return "unknown";
}

bool is_cmac(Algorithm a) { return cmac_key_length(a) != 0; }

std::size_t cmac_key_length(Algorithm a) {
  switch (a) {
    case Algorithm::kAes128Cmac: return 16;
    case Algorithm::kAes192Cmac: return 24;
    case Algorithm::kAes256Cmac: return 32;
    default: return 0;
  }
}

std::size_t digest_length(Algorithm a) {
  // MD5 and every CMAC give 16 octets; the rest are cut to 20.
  return a == Algorithm::kMd5 || is_cmac(a) ? 16 : kMaxMacDigest;
}

std::optional<Algorithm> algorithm_from_name(std::string_view name) {
  const std::string u = upper(name);
  for (const auto& e : kNames) {
    if (e.name == u) return e.algorithm;
  }
  return std::nullopt;
}

const std::vector<std::string_view>& algorithm_names() {
  static const std::vector<std::string_view> names = [] {
    std::vector<std::string_view> v;
    for (const auto& e : kNames) v.push_back(e.name);
    return v;
  }();
  return names;
}

const Key* KeysFile::find(std::uint32_t id) const {
  auto it = std::lower_bound(keys.begin(), keys.end(), id, [](const Key& k, std::uint32_t x) { return k.id < x; });
  return it != keys.end() && it->id == id ? &*it : nullptr;
}

KeysFile parse_keys(std::string_view text) { return Parser().run(text); }

std::optional<std::string> keys_file_exposure(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;  // reading it reports the error
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) == 0) return std::nullopt;
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
  return "keys file '" + path + "' has mode " + mode +
         ": its secrets are readable by other users — chmod 600 it (owned by the service user)";
}

}  // namespace linetime::auth
