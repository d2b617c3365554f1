// sigkit/mask.hpp - RAII over pthread_sigmask for the calling thread.
#pragma once

#include <pthread.h>
#include <signal.h>

#include <system_error>

#include "error.hpp"
#include "signal.hpp"

namespace sigkit {
inline namespace v1 {

/// Blocks a set of signals in the calling thread for its lifetime. On
/// destruction it unblocks exactly the signals it blocked (those that were
/// not blocked already), so nested and overlapping scopes compose. Must be
/// destroyed on the thread that made it. Move-only.
class scoped_block {
 public:
  /// Blocks `signals` (SIGKILL and SIGSTOP are ignored by the kernel).
  explicit scoped_block(const signal_set& signals) {
    std::error_code ec;
    block(signals, ec);
    detail::throw_if(ec, "scoped_block: pthread_sigmask(SIG_BLOCK, " + signals.to_string() + ") failed");
  }
  scoped_block(const signal_set& signals, std::error_code& ec) noexcept { block(signals, ec); }

  scoped_block(scoped_block&& other) noexcept : added_(other.added_), active_(other.active_) { other.active_ = false; }
  scoped_block& operator=(scoped_block&& other) noexcept {
    if (this != &other) {
      reset();
      added_ = other.added_;
      active_ = other.active_;
      other.active_ = false;
    }
    return *this;
  }
  scoped_block(const scoped_block&) = delete;
  scoped_block& operator=(const scoped_block&) = delete;
  ~scoped_block() { reset(); }

  /// The signals this scope blocked (and will unblock).
  const signal_set& added() const noexcept { return added_; }

  /// Unblocks now.
  void reset() noexcept {
    if (!active_) return;
    active_ = false;
    if (added_.empty()) return;
    const sigset_t set = added_.to_sigset();
    pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  }

 private:
  void block(const signal_set& signals, std::error_code& ec) noexcept {
    ec.clear();
    const sigset_t want = signals.to_sigset();
    sigset_t old;
    const int err = pthread_sigmask(SIG_BLOCK, &want, &old);
    if (err != 0) {
      ec = detail::errno_code(err);
      return;
    }
    added_ = signals - signal_set(old);
    active_ = true;
  }

  signal_set added_;
  bool active_ = false;
};

/// The calling thread's blocked signals.
inline signal_set blocked_signals() noexcept {
  sigset_t cur;
  pthread_sigmask(SIG_BLOCK, nullptr, &cur);
  return signal_set(cur);
}

}  // namespace v1
}  // namespace sigkit
