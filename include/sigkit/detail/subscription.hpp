// sigkit/detail/subscription.hpp - what a stream and a flag have in common:
// an RAII subscription of a heap "core" (the part the signal handler
// reaches, at a fixed address) to a set of signals; movable, closable.
#pragma once

#include <memory>
#include <string>
#include <system_error>

#include "../error.hpp"
#include "../signal.hpp"
#include "table.hpp"

namespace sigkit {
inline namespace v1 {
namespace detail {

/// Owns a `Core` (a detail::subscriber with a `signals` member) while it is
/// subscribed. Move-only; the core never moves.
template <class Core>
class subscription {
 public:
  subscription() noexcept = default;
  subscription(subscription&&) noexcept = default;
  subscription& operator=(subscription&& other) noexcept {
    if (this != &other) {
      close();
      core_ = std::move(other.core_);
    }
    return *this;
  }
  subscription(const subscription&) = delete;
  subscription& operator=(const subscription&) = delete;

  /// Unsubscribes. When the last subscriber of a signal goes, the
  /// disposition from before sigkit is restored exactly.
  ~subscription() { close(); }

  /// Unsubscribes now; the object becomes empty (valid() false).
  void close() noexcept {
    if (!core_) return;
    unsubscribe(core_.get(), core_->signals);
    core_.reset();
  }

  /// False after a move or close(), or when the error_code constructor failed.
  bool valid() const noexcept { return core_ != nullptr; }
  explicit operator bool() const noexcept { return valid(); }

  /// The signals this object receives (empty if !valid()).
  signal_set signals() const noexcept { return core_ ? core_->signals : signal_set{}; }

 protected:
  /// Subscribes `core` to core->signals and keeps it. On failure throws
  /// std::system_error naming `who` and the signal whose sigaction()
  /// failed (or that a kernel-queue stream holds: EBUSY), with nothing
  /// changed.
  void adopt(std::unique_ptr<Core> core, const std::string& who) {
    signal failed{};
    const std::error_code ec = subscribe(core.get(), core->signals, &failed);
    throw_if(ec, subscribe_failure(who.c_str(), failed, ec));
    close();
    core_ = std::move(core);
  }

  std::unique_ptr<Core> core_;
};

}  // namespace detail
}  // namespace v1
}  // namespace sigkit
