#include "control/json.h"

#include <cmath>
#include <cstdlib>
#include <limits>

namespace linetime::control {

const JsonValue* JsonValue::find(std::string_view key) const {
  if (kind_ != Kind::kObject) return nullptr;
  for (std::size_t i = 0; i < keys_.size(); ++i) {
    if (keys_[i] == key) return &items_[i];
  }
  return nullptr;
}

JsonValue JsonValue::of_bool(bool b) {
  JsonValue v(Kind::kBool);
  v.boolean_ = b;
  return v;
}
JsonValue JsonValue::of_number(double d) {
  JsonValue v(Kind::kNumber);
  v.number_ = d;
  return v;
}
JsonValue JsonValue::of_string(std::string s) {
  JsonValue v(Kind::kString);
  v.string_ = std::move(s);
  return v;
}
JsonValue JsonValue::array(std::vector<JsonValue> items) {
  JsonValue v(Kind::kArray);
  v.items_ = std::move(items);
  return v;
}
JsonValue JsonValue::object(std::vector<std::string> keys, std::vector<JsonValue> values) {
  JsonValue v(Kind::kObject);
  v.keys_ = std::move(keys);
  v.items_ = std::move(values);
  return v;
}

namespace {

// Recursive descent over the text; `error` is set once, at the first problem.
class Parser {
 public:
  explicit Parser(std::string_view text) : s_(text) {}

  Expected<JsonValue, std::string> document() {
    JsonValue v = value(0);
    if (error_.empty()) {
      skip_space();
      if (pos_ != s_.size()) fail("end of input after the value");
    }
    if (!error_.empty()) return unexpected(error_);
    return v;
  }

 private:
  void fail(const std::string& expected) {
    if (!error_.empty()) return;
    error_ = "invalid JSON at byte " + std::to_string(pos_) + ": expected " + expected;
    if (pos_ < s_.size()) {
      const unsigned char c = static_cast<unsigned char>(s_[pos_]);
      error_ += c >= 0x20 && c < 0x7f ? std::string(", found '") + static_cast<char>(c) + "'" : ", found byte " + std::to_string(c);
    } else {
      error_ += ", found the end of input";
    }
  }
  bool ok() const { return error_.empty(); }
  void skip_space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  bool take(char c) {
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  JsonValue value(std::size_t depth) {
    skip_space();
    if (pos_ >= s_.size()) {
      fail("a value");
      return {};
    }
    const char c = s_[pos_];
    if (c == '{' || c == '[') {
      if (depth >= kJsonMaxDepth) {
        fail("at most " + std::to_string(kJsonMaxDepth) + " levels of nesting");
        return {};
      }
      return c == '{' ? object(depth + 1) : array(depth + 1);
    }
    if (c == '"') return JsonValue::of_string(string());
    if (literal("true")) return JsonValue::of_bool(true);
    if (literal("false")) return JsonValue::of_bool(false);
    if (literal("null")) return JsonValue::null();
    if (c == '-' || (c >= '0' && c <= '9')) return number();
    fail("a value");
    return {};
  }

  JsonValue object(std::size_t depth) {
    ++pos_;  // '{'
    std::vector<std::string> keys;
    std::vector<JsonValue> values;
    skip_space();
    if (take('}')) return JsonValue::object({}, {});
    while (ok()) {
      skip_space();
      if (pos_ >= s_.size() || s_[pos_] != '"') {
        fail("a member name in double quotes");
        break;
      }
      const std::size_t key_at = pos_;
      std::string key = string();
      if (!ok()) break;
      for (const auto& k : keys) {
        if (k == key) {
          pos_ = key_at;
          fail("no duplicate member name ('" + key + "' appears twice)");
        }
      }
      skip_space();
      if (!take(':')) fail("':' after a member name");
      JsonValue v = value(depth);
      if (!ok()) break;
      keys.push_back(std::move(key));
      values.push_back(std::move(v));
      skip_space();
      if (take('}')) return JsonValue::object(std::move(keys), std::move(values));
      if (!take(',')) fail("',' or '}' in an object");
    }
    return {};
  }

  JsonValue array(std::size_t depth) {
    ++pos_;  // '['
    std::vector<JsonValue> items;
    skip_space();
    if (take(']')) return JsonValue::array({});
    while (ok()) {
      JsonValue v = value(depth);
      if (!ok()) break;
      items.push_back(std::move(v));
      skip_space();
      if (take(']')) return JsonValue::array(std::move(items));
      if (!take(',')) fail("',' or ']' in an array");
    }
    return {};
  }

  int hex4() {
    int v = 0;
    for (int i = 0; i < 4; ++i) {
      if (pos_ >= s_.size()) {
        fail("four hex digits after \\u");
        return -1;
      }
      const char c = s_[pos_];
      int d = -1;
      if (c >= '0' && c <= '9') d = c - '0';
      if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
      if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
      if (d < 0) {
        fail("four hex digits after \\u");
        return -1;
      }
      v = v * 16 + d;
      ++pos_;
    }
    return v;
  }

  static void utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xc0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xe0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    }
  }

  std::string string() {
    ++pos_;  // '"'
    std::string out;
    while (ok()) {
      if (pos_ >= s_.size()) {
        fail("a closing '\"'");
        break;
      }
      const char c = s_[pos_];
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (static_cast<unsigned char>(c) < 0x20) {
        fail("no control character inside a string (escape it)");
        break;
      }
      if (c != '\\') {
        out += c;
        ++pos_;
        continue;
      }
      ++pos_;
      if (pos_ >= s_.size()) {
        fail("an escape after '\\'");
        break;
      }
      const char e = s_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          const int hi = hex4();
          if (hi < 0) break;
          std::uint32_t cp = static_cast<std::uint32_t>(hi);
          if (cp >= 0xdc00 && cp <= 0xdfff) {
            fail("a high surrogate before a low one");
            break;
          }
          if (cp >= 0xd800 && cp <= 0xdbff) {
            if (!literal("\\u")) {
              fail("a low surrogate \\uDC00-\\uDFFF after a high one");
              break;
            }
            const int lo = hex4();
            if (lo < 0) break;
            if (lo < 0xdc00 || lo > 0xdfff) {
              fail("a low surrogate \\uDC00-\\uDFFF after a high one");
              break;
            }
            cp = 0x10000 + ((cp - 0xd800) << 10) + (static_cast<std::uint32_t>(lo) - 0xdc00);
          }
          utf8(out, cp);
          break;
        }
        default:
          --pos_;
          fail("one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX");
      }
    }
    return {};
  }

  JsonValue number() {
    const std::size_t start = pos_;
    auto digits = [&] {
      const std::size_t from = pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
      return pos_ - from;
    };
    take('-');
    if (take('0')) {
      if (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
        fail("no leading zero in a number");
        return {};
      }
    } else if (digits() == 0) {
      fail("a digit");
      return {};
    }
    if (take('.') && digits() == 0) {
      fail("a digit after the decimal point");
      return {};
    }
    if (take('e') || take('E')) {
      if (!take('+')) take('-');
      if (digits() == 0) {
        fail("a digit in the exponent");
        return {};
      }
    }
    const std::string text(s_.substr(start, pos_ - start));
    return JsonValue::of_number(std::strtod(text.c_str(), nullptr));
  }

  std::string_view s_;
  std::size_t pos_ = 0;
  std::string error_;
};

// Typed access to the status object's members, collecting the first error.
class Reader {
 public:
  explicit Reader(std::string where) : where_(std::move(where)) {}
  const std::string& error() const { return error_; }

  const JsonValue* member(const JsonValue& o, const char* key, JsonValue::Kind kind, bool nullable = false) {
    const JsonValue* v = o.find(key);
    if (v == nullptr) {
      set(std::string(key) + " is missing");
      return nullptr;
    }
    if (nullable && v->is_null()) return v;
    if (v->kind() != kind) {
      set(std::string(key) + " should be " + kind_name(kind));
      return nullptr;
    }
    return v;
  }
  void str(const JsonValue& o, const char* key, std::string& out) {
    if (const JsonValue* v = member(o, key, JsonValue::Kind::kString)) out = v->string();
  }
  void chr(const JsonValue& o, const char* key, char& out) {
    if (const JsonValue* v = member(o, key, JsonValue::Kind::kString)) {
      if (v->string().size() != 1) return set(std::string(key) + " should be one character");
      out = v->string()[0];
    }
  }
  void num(const JsonValue& o, const char* key, double& out) {
    if (const JsonValue* v = member(o, key, JsonValue::Kind::kNumber, true)) {
      out = v->is_null() ? std::numeric_limits<double>::quiet_NaN() : v->number();
    }
  }
  template <class Int>
  void integer(const JsonValue& o, const char* key, Int& out, double lo, double hi) {
    if (const JsonValue* v = member(o, key, JsonValue::Kind::kNumber)) {
      const double d = v->number();
      if (d != std::floor(d) || d < lo || d > hi) {
        return set(std::string(key) + " should be an integer from " + std::to_string(static_cast<long long>(lo)) +
                   " to " + std::to_string(static_cast<long long>(hi)));
      }
      out = static_cast<Int>(d);
    }
  }
  void set(const std::string& what) {
    if (error_.empty()) error_ = "status from linetime-control: " + where_ + what;
  }
  void at(std::string where) { where_ = std::move(where); }

 private:
  static const char* kind_name(JsonValue::Kind k) {
    switch (k) {
      case JsonValue::Kind::kNull: return "null";
      case JsonValue::Kind::kBool: return "true or false";
      case JsonValue::Kind::kNumber: return "a number";
      case JsonValue::Kind::kString: return "a string";
      case JsonValue::Kind::kArray: return "an array";
      case JsonValue::Kind::kObject: return "an object";
    }
    return "?";
  }
  std::string where_;
  std::string error_;
};

}  // namespace

Expected<JsonValue, std::string> parse_json(std::string_view text) { return Parser(text).document(); }

Expected<Status, std::string> status_from_json(std::string_view text) {
  auto doc = parse_json(text);
  if (!doc) return unexpected("status from linetime-control: " + doc.error());
  Status s;
  Reader r("");
  if (doc->kind() != JsonValue::Kind::kObject) {
    r.set("the answer should be a JSON object");
    return unexpected(r.error());
  }
  constexpr double kMaxCount = 9007199254740992.0;  // 2^53: integers a double holds exactly
  if (const JsonValue* sys = r.member(*doc, "system", JsonValue::Kind::kObject)) {
    r.at("system.");
    SystemVars& v = s.system;
    r.str(*sys, "mode", v.mode);
    r.str(*sys, "clock_control", v.clock_control);
    r.integer(*sys, "leap", v.leap, 0, 3);
    r.integer(*sys, "stratum", v.stratum, 0, 255);
    r.str(*sys, "refid", v.refid);
    r.str(*sys, "system_peer", v.system_peer);
    r.integer(*sys, "precision", v.precision_log2, -128, 127);
    r.num(*sys, "root_delay_ms", v.root_delay_ms);
    r.num(*sys, "root_dispersion_ms", v.root_dispersion_ms);
    r.num(*sys, "offset_ms", v.offset_ms);
    r.num(*sys, "frequency_ppm", v.frequency_ppm);
    r.num(*sys, "jitter_ms", v.jitter_ms);
    r.integer(*sys, "poll", v.poll_log2, -128, 127);
    r.num(*sys, "uptime_s", v.uptime_s);
    r.str(*sys, "version", v.version);
  }
  r.at("");
  if (const JsonValue* rows = r.member(*doc, "sources", JsonValue::Kind::kArray)) {
    for (std::size_t i = 0; i < rows->items().size() && r.error().empty(); ++i) {
      r.at("sources[" + std::to_string(i) + "].");
      const JsonValue& o = rows->items()[i];
      if (o.kind() != JsonValue::Kind::kObject) {
        r.set("should be an object");
        break;
      }
      SourceRow row;
      r.chr(o, "tally", row.tally);
      r.str(o, "remote", row.remote);
      r.str(o, "refid", row.refid);
      r.integer(o, "stratum", row.stratum, 0, 255);
      r.chr(o, "type", row.type);
      if (const JsonValue* w = r.member(o, "when_s", JsonValue::Kind::kNumber, true)) {
        if (!w->is_null()) row.when_s = w->number();
      }
      r.integer(o, "poll", row.poll_log2, -128, 127);
      r.integer(o, "reach", row.reach, 0, 255);
      r.num(o, "delay_ms", row.delay_ms);
      r.num(o, "offset_ms", row.offset_ms);
      r.num(o, "jitter_ms", row.jitter_ms);
      r.str(o, "state", row.state);
      r.integer(o, "sent", row.sent, 0, kMaxCount);
      r.integer(o, "received", row.received, 0, kMaxCount);
      r.integer(o, "bogus", row.bogus, 0, kMaxCount);
      // Authentication: absent in the answers of daemons from before keys.
      if (o.find("auth") != nullptr) {
        r.str(o, "auth", row.auth);
        r.integer(o, "unauthenticated", row.unauthenticated, 0, kMaxCount);
        r.integer(o, "crypto_nak", row.crypto_nak, 0, kMaxCount);
        r.integer(o, "bad_mac", row.bad_mac, 0, kMaxCount);
      }
      s.sources.push_back(std::move(row));
    }
  }
  if (!r.error().empty()) return unexpected(r.error());
  return s;
}

}  // namespace linetime::control
