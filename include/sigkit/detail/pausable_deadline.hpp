// sigkit/detail/pausable_deadline.hpp - a deadline whose clock does not run
// while it is paused: the forwarder's kill_after and the supervisor's
// timeouts and grace periods, which must not count time the child spent
// stopped. Saturating like deadline: a duration past the clock's range
// never fires, and pausing or resuming such a deadline cannot wrap.
#pragma once

#include <algorithm>
#include <chrono>
#include <optional>

#include "deadline.hpp"

namespace sigkit {
inline namespace v1 {
namespace detail {

/// A deadline that does not run while paused. Not thread-safe.
class pausable_deadline {
 public:
  using clock = std::chrono::steady_clock;

  /// Fires `after` from `now` (zero or less: at once), or, if `paused`, that
  /// long after resume().
  void arm(clock::duration after, bool paused, clock::time_point now) noexcept {
    if (paused) {
      at_.reset();
      left_ = std::max(clock::duration::zero(), after);
    } else {
      at_ = deadline::from(now, after).when();
      left_.reset();
    }
  }
  void disarm() noexcept {
    at_.reset();
    left_.reset();
  }
  /// Stops the clock (no-op unless running).
  void pause(clock::time_point now) noexcept {
    if (!at_) return;
    left_ = *at_ > now ? *at_ - now : clock::duration::zero();
    at_.reset();
  }
  /// Restarts the clock with what was left (no-op unless paused).
  void resume(clock::time_point now) noexcept {
    if (!left_) return;
    at_ = deadline::from(now, *left_).when();
    left_.reset();
  }
  bool armed() const noexcept { return at_.has_value() || left_.has_value(); }
  bool running() const noexcept { return at_.has_value(); }
  bool paused() const noexcept { return left_.has_value(); }
  /// When it fires, if it is running (time_point::max(): never).
  std::optional<clock::time_point> due() const noexcept { return at_; }
  bool expired(clock::time_point now) const noexcept { return at_ && now >= *at_; }

 private:
  std::optional<clock::time_point> at_;  // running: fires then
  std::optional<clock::duration> left_;  // paused: this much is left
};

}  // namespace detail
}  // namespace v1
}  // namespace sigkit
