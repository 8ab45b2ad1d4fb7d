// A small strict JSON reader (RFC 8259) for what linetimectl reads from the
// daemon's management socket: the status object of control/status.h.
//
// Strict means: one value and nothing but whitespace after it, no trailing
// commas, no comments, no duplicate keys in an object, no control characters
// in strings, numbers only in JSON's own grammar, \u escapes (with surrogate
// pairs) turned into UTF-8, and at most kMaxDepth nested arrays/objects.
// Errors say what was expected and at which byte.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "control/status.h"
#include "hwclock/expected.h"

namespace linetime::control {

class JsonValue {
 public:
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };
  JsonValue() = default;  // null

  Kind kind() const { return kind_; }
  bool is_null() const { return kind_ == Kind::kNull; }
  bool boolean() const { return boolean_; }
  double number() const { return number_; }
  const std::string& string() const { return string_; }
  const std::vector<JsonValue>& items() const { return items_; }  // array elements, or object values
  const std::vector<std::string>& keys() const { return keys_; }  // object keys, in file order
  // An object's member, or nullptr (also for non-objects).
  const JsonValue* find(std::string_view key) const;

  static JsonValue null() { return JsonValue(Kind::kNull); }
  static JsonValue of_bool(bool b);
  static JsonValue of_number(double d);
  static JsonValue of_string(std::string s);
  static JsonValue array(std::vector<JsonValue> items);
  static JsonValue object(std::vector<std::string> keys, std::vector<JsonValue> values);

 private:
  explicit JsonValue(Kind k) : kind_(k) {}
  Kind kind_ = Kind::kNull;
  bool boolean_ = false;
  double number_ = 0;
  std::string string_;
  std::vector<JsonValue> items_;
  std::vector<std::string> keys_;
};

inline constexpr std::size_t kJsonMaxDepth = 64;

Expected<JsonValue, std::string> parse_json(std::string_view text);

// The daemon's status object (to_json(Status)) read back. Unknown members are
// ignored, so a newer daemon can add some; a missing or mistyped known member
// is an error naming it. Numbers the daemon wrote as null (not finite) read as
// NaN; a null `when_s` is "no reply yet".
Expected<Status, std::string> status_from_json(std::string_view text);

}  // namespace linetime::control
