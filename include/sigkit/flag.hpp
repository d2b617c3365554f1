// sigkit/flag.hpp - the cheapest subscriber: an atomic counter the handler
// bumps. No file descriptor, no ring; for loops that poll between chunks
// of work.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>

#include "detail/subscription.hpp"
#include "detail/table.hpp"
#include "error.hpp"
#include "signal.hpp"

namespace sigkit {
inline namespace v1 {
namespace detail {

struct flag_core : subscriber {
  explicit flag_core(const signal_set& set) : signals(set) { deliver = &flag_core::deliver_one; }
  /// Async-signal-safe.
  static void deliver_one(subscriber* self, int, const siginfo_t*) noexcept {
    static_cast<flag_core*>(self)->count.fetch_add(1, std::memory_order_release);
  }
  std::atomic<std::uint64_t> count{0};
  signal_set signals;
};

}  // namespace detail

/// A counter of deliveries of a set of signals. Move-only RAII
/// subscription; restores dispositions like stream does.
///
/// After fork() an inherited flag is inert in the child: its count stays
/// where it was. Make a new flag in the child.
///
/// close(), valid(), `operator bool` and signals() come from
/// detail::subscription, as for a stream.
class flag : public detail::subscription<detail::flag_core> {
 public:
  /// Throws std::invalid_argument for bad signals (as stream does) and
  /// std::system_error if sigaction fails or a signal has a kernel-queue
  /// stream (errc::device_or_resource_busy); nothing changes on failure.
  explicit flag(signal_set signals) {
    detail::check_subscribable(signals, "flag");
    adopt(std::make_unique<detail::flag_core>(signals), "flag");
  }
  /// As above, reporting failure through `ec` (valid() is then false).
  flag(signal_set signals, std::error_code& ec) noexcept {
    detail::capture_error(ec, [&] { *this = flag(signals); });
  }

  /// Deliveries seen so far (0 if !valid()).
  std::uint64_t count() const noexcept { return core_ ? core_->count.load(std::memory_order_acquire) : 0; }

  /// True once per batch: if any delivery arrived since the last take().
  bool take() noexcept {
    const std::uint64_t now = count();
    if (now == taken_) return false;
    taken_ = now;
    return true;
  }

 private:
  std::uint64_t taken_ = 0;
};

}  // namespace v1
}  // namespace sigkit
