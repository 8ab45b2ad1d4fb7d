// A value or a typed error, for pure code that must not throw (std::expected
// arrives with C++23; this is the subset linetime uses). It lives with the time
// types because hwclock/ is the one folder every other folder may depend on.
#pragma once

#include <type_traits>
#include <utility>

namespace linetime {

template <class E>
struct Unexpected {
  E error;
};

template <class E>
constexpr Unexpected<E> unexpected(E e) {
  return Unexpected<E>{e};
}

template <class T, class E>
class Expected {
 public:
  constexpr Expected(T value) : value_(std::move(value)), ok_(true) {}  // NOLINT: implicit by design
  constexpr Expected(Unexpected<E> u) : error_(u.error), ok_(false) {}  // NOLINT: implicit by design

  constexpr bool has_value() const { return ok_; }
  constexpr explicit operator bool() const { return ok_; }

  constexpr T& value() & { return value_; }
  constexpr const T& value() const& { return value_; }
  constexpr T&& value() && { return std::move(value_); }
  constexpr T* operator->() { return &value_; }
  constexpr const T* operator->() const { return &value_; }
  constexpr T& operator*() & { return value_; }
  constexpr const T& operator*() const& { return value_; }
  constexpr T&& operator*() && { return std::move(value_); }

  constexpr const E& error() const { return error_; }

 private:
  T value_{};
  E error_{};
  bool ok_;
};

}  // namespace linetime
