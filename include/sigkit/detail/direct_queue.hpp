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

#include <cstddef>
#include <cstdint>

#include "../signal.hpp"
#include "../stream.hpp"
#include "platform.hpp"

#if SIGKIT_HAVE_SIGNALFD
#include <sys/signalfd.h>
#endif

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
    fd_ = ::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
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
#if SIGKIT_HAVE_SIGNALFD
    if (fd_ < 0) return;
    signalfd_siginfo batch[16];
    for (;;) {
      const ssize_t n = ::read(fd_, batch, sizeof batch);
      if (n <= 0) return;  // EAGAIN: nothing left (EINTR: the next round)
      for (std::size_t i = 0; i < static_cast<std::size_t>(n) / sizeof batch[0]; ++i) f(to_event(batch[i]));
      // A short read emptied the queue: no second read() to hear EAGAIN (a
      // signal queued since then makes the descriptor readable again).
      if (static_cast<std::size_t>(n) < sizeof batch) return;
    }
#else
    (void)f;
#endif
  }

 private:
#if SIGKIT_HAVE_SIGNALFD
  static event to_event(const signalfd_siginfo& si) noexcept {
    siginfo_t info{};
    info.si_signo = static_cast<int>(si.ssi_signo);
    info.si_code = si.ssi_code;
    info.si_pid = static_cast<pid_t>(si.ssi_pid);
    info.si_uid = static_cast<uid_t>(si.ssi_uid);
    if (info.si_signo == SIGCHLD)
      info.si_status = si.ssi_status;
    else
      info.si_value.sival_ptr = reinterpret_cast<void*>(static_cast<std::uintptr_t>(si.ssi_ptr));  // NOLINT
    return make_event(info.si_signo, &info);
  }
  sigset_t old_{};
#endif
  int fd_ = -1;
};

}  // namespace detail
}  // namespace v1
}  // namespace sigkit
