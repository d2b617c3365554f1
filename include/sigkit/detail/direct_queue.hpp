// sigkit/detail/direct_queue.hpp - signals taken straight from the kernel
// (a signalfd) by one thread, bypassing sigkit's handler: the low-latency
// path of forward_options::dequeue_directly.
//
// A signalfd reads a signal only while every thread blocks it, so the
// owning thread blocks the set for as long as the queue lives; a signal
// another thread leaves unblocked still goes through the handler (and the
// forwarder's stream). Where there is no signalfd (SIGKIT_HAVE_SIGNALFD 0)
// the queue is inactive and everything takes the handler path.
#pragma once

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include "../signal.hpp"
#include "platform.hpp"
#include "signal_fd.hpp"

namespace sigkit {
inline namespace v1 {
namespace detail {

/// The calling thread blocks `signals` and reads them from a signalfd, for
/// as long as this object lives on that thread. Inactive (fd() == -1,
/// drain() does nothing) for an empty set, without signalfd, or if the
/// signalfd cannot be made.
class direct_queue {
 public:
  explicit direct_queue(const signal_set& signals) noexcept {
#if SIGKIT_HAVE_SIGNALFD
    if (signals.empty()) return;
    const sigset_t set = signals.to_sigset();
    if (::pthread_sigmask(SIG_BLOCK, &set, &old_) != 0) return;
    fd_ = open_signalfd(signals, true);
    if (fd_ < 0) ::pthread_sigmask(SIG_SETMASK, &old_, nullptr);  // the handler path keeps working
#else
    (void)signals;
#endif
  }
  direct_queue(const direct_queue&) = delete;
  direct_queue& operator=(const direct_queue&) = delete;
  ~direct_queue() {
#if SIGKIT_HAVE_SIGNALFD
    if (fd_ < 0) return;
    ::close(fd_);
    // Whatever is still queued for the process goes back to the handler
    // path (another thread, or this one once unblocked).
    ::pthread_sigmask(SIG_SETMASK, &old_, nullptr);
#endif
  }

  int fd() const noexcept { return fd_; }

  /// Calls `f(event)` for every signal queued now.
  template <class F>
  void drain(F&& f) const {
    if (fd_ < 0) return;
    // A short read empties the queue: no second read() to hear EAGAIN (a
    // signal queued since then makes the descriptor readable again).
    while (read_signals(fd_, batch, f) == static_cast<long>(batch)) {
    }
  }

 private:
  static constexpr std::size_t batch = 16;
#if SIGKIT_HAVE_SIGNALFD
  sigset_t old_{};
#endif
  int fd_ = -1;
};

}  // namespace detail
}  // namespace v1
}  // namespace sigkit
