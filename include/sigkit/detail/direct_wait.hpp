// sigkit/detail/direct_wait.hpp - a thread that sleeps in sigtimedwait(),
// as a minimal sigwaitinfo() forwarder (tini, dumb-init) does: the wait of
// the forwarder's thread with forward_options::dequeue_directly.
//
// The thread blocks its set (the signals it forwards and SIGCHLD) and takes
// them one per wait, straight from the kernel's queue: every one that no
// other thread can take (all of them in run(), which blocks the set in its
// own thread too). What reaches the forwarder another way, through sigkit's
// handler on another thread (a thread that leaves the set unblocked, a
// synchronous signal another process sent), lands in the forwarder's
// stream, whose delivery pokes this thread (detail/thread_poke.hpp): a
// SIGCHLD sent to it alone, which pends until it waits. So nothing waits
// unseen, whatever the other threads block.
//
// A SIGCHLD taken here (and any signal of the set that is not forwarded as
// taken) goes through sigkit's handler as a function call
// (deliver_as_if_caught), so every subscriber, the forwarder's stream
// included, sees it as if it had been delivered. Only where there is
// sigtimedwait() (SIGKIT_HAVE_SIGTIMEDWAIT).
#pragma once

#include <pthread.h>
#include <signal.h>
#include <time.h>

#include <cerrno>

#include "../event.hpp"
#include "../signal.hpp"
#include "deadline.hpp"
#include "platform.hpp"
#include "table.hpp"
#include "thread_poke.hpp"

#if SIGKIT_HAVE_SIGTIMEDWAIT
namespace sigkit {
inline namespace v1 {
namespace detail {

/// The calling thread blocks `signals` (which must hold SIGCHLD) and takes
/// them with sigtimedwait(). The block stays when this object goes: a
/// thread that ends with it drops a poke still pending with the thread
/// (unblocked, it would be delivered as a SIGCHLD nobody sent); one that
/// goes on calls take_last_pokes(), then unblock().
/// Not movable: other threads poke it by id.
class direct_wait {
 public:
  explicit direct_wait(const signal_set& signals) noexcept : set_(signals.to_sigset()) {
    ::pthread_sigmask(SIG_BLOCK, &set_, &old_);
  }
  direct_wait(const direct_wait&) = delete;
  direct_wait& operator=(const direct_wait&) = delete;
  ~direct_wait() = default;

  /// Gives the thread its mask from before, for a thread that goes on
  /// without waiting here (no poke may be pending then: see
  /// take_last_pokes()).
  void unblock() noexcept { ::pthread_sigmask(SIG_SETMASK, &old_, nullptr); }

  /// For a thread that goes on after its waits, once nothing can poke it
  /// any more: takes every SIGCHLD pending for it (or for the process)
  /// without waiting, drops the pokes and hands the others to sigkit's
  /// handler; unblock() may follow.
  void take_last_pokes() const noexcept {
    sigset_t child;
    ::sigemptyset(&child);
    ::sigaddset(&child, SIGCHLD);
    const timespec zero{};
    for (;;) {
      siginfo_t info{};
      const int signo = ::sigtimedwait(&child, &info, &zero);
      if (signo < 0 && errno == EINTR) continue;  // a handler ran: look again
      if (signo != SIGCHLD) return;               // EAGAIN: none left
      if (!is_poke(info)) deliver_as_if_caught(SIGCHLD, info);
    }
  }

  /// The waiting thread's id, for poke_thread().
  pid_t thread() const noexcept { return tid_; }

  /// What one wait() took.
  enum class taken {
    nothing,    // the deadline passed, or a handler ran on this thread
    signal,     // a signal to act on: `on_signal` was called with it
    delivered,  // a SIGCHLD (or another signal of the set not in `direct`), handed to sigkit's handler
    poke,       // poke_thread(thread())
  };

  /// Sleeps until a signal of the set is pending or `until` passes, and
  /// takes one signal: a signal of `direct` goes to `on_signal(event)`; any
  /// other but a poke to sigkit's handler.
  template <class F>
  [[gnu::hot]] taken wait(const deadline& until, const signal_set& direct, F&& on_signal) const {
    siginfo_t info{};
    int signo = 0;
    if (until.forever()) {
      signo = ::sigwaitinfo(&set_, &info);
    } else {
      const auto left = until.left();
      timespec ts{};
      ts.tv_sec = static_cast<time_t>(left.count() / 1'000'000'000);
      ts.tv_nsec = static_cast<long>(left.count() % 1'000'000'000);
      signo = ::sigtimedwait(&set_, &info, &ts);
    }
    if (signo <= 0) return taken::nothing;  // EAGAIN (timed out), EINTR
    if (direct.contains(signal{signo})) {
      on_signal(make_event(signo, &info));
      return taken::signal;
    }
    if (is_poke(info)) return taken::poke;
    deliver_as_if_caught(signo, info);
    return taken::delivered;
  }

 private:
  sigset_t set_;
  sigset_t old_{};
  pid_t tid_ = this_thread_id();
};

}  // namespace detail
}  // namespace v1
}  // namespace sigkit
#endif  // SIGKIT_HAVE_SIGTIMEDWAIT
