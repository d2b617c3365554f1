// sigkit/detail/deadline.hpp - the moment a wait ends, made from any
// duration without overflow.
//
// Every duration sigkit takes means what it says, from nanoseconds::min()
// to nanoseconds::max(): zero or negative is "look once, do not wait"; a
// duration that reaches past the last time point steady_clock can hold is
// "wait for ever". The arithmetic saturates: `now() + nanoseconds::max()`
// is a signed overflow (undefined behaviour, and in practice a time point
// in the past, so the wait ended at once), and `now() + nanoseconds::min()`
// wrapped the other way into a wait that never ended.
#pragma once

#include <chrono>
#include <climits>
#include <cstdint>
#include <type_traits>

namespace sigkit {
inline namespace v1 {
namespace detail {

/// When a wait ends: a steady_clock time point, or never.
class deadline {
 public:
  using clock = std::chrono::steady_clock;
  static_assert(std::is_same_v<clock::duration, std::chrono::nanoseconds>,
                "sigkit assumes a nanosecond steady_clock (libstdc++, libc++)");

  /// `timeout` from now: already passed for zero or less, never for a
  /// timeout past the clock's range.
  static deadline after(std::chrono::nanoseconds timeout) noexcept { return from(clock::now(), timeout); }

  /// `timeout` after `start`, saturating the same way.
  static deadline from(clock::time_point start, std::chrono::nanoseconds timeout) noexcept {
    if (timeout <= std::chrono::nanoseconds::zero()) return deadline{start};
    std::int64_t end = 0;
    if (__builtin_add_overflow(start.time_since_epoch().count(), timeout.count(), &end)) return never();
    return deadline{clock::time_point(clock::duration(end))};
  }

  /// A deadline that never passes.
  static constexpr deadline never() noexcept { return deadline{clock::time_point::max()}; }

  /// True for never().
  constexpr bool forever() const noexcept { return when_ == clock::time_point::max(); }

  /// True once the deadline is here (never for never()).
  bool passed() const noexcept { return !forever() && clock::now() >= when_; }

  /// The time point (clock::time_point::max() for never()).
  constexpr clock::time_point when() const noexcept { return when_; }

  /// What is left: zero once passed, nanoseconds::max() for never().
  std::chrono::nanoseconds left() const noexcept {
    if (forever()) return std::chrono::nanoseconds::max();
    std::int64_t rest = 0;
    if (__builtin_sub_overflow(when_.time_since_epoch().count(), clock::now().time_since_epoch().count(), &rest))
      return std::chrono::nanoseconds::max();
    return std::chrono::nanoseconds(rest > 0 ? rest : 0);
  }

  /// The timeout to give poll(): -1 for never, 0 once passed, else the
  /// milliseconds left rounded up (so that poll() does not wake before the
  /// deadline), at most INT_MAX (a longer wait takes several polls).
  int poll_ms() const noexcept {
    if (forever()) return -1;
    const std::int64_t ns = left().count();
    if (ns <= 0) return 0;
    const std::int64_t ms = ns / 1'000'000 + (ns % 1'000'000 != 0 ? 1 : 0);
    return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
  }

 private:
  constexpr explicit deadline(clock::time_point when) noexcept : when_(when) {}
  clock::time_point when_;
};

}  // namespace detail
}  // namespace v1
}  // namespace sigkit
