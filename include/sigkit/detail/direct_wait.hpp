// sigkit/detail/direct_wait.hpp - a thread that sleeps in sigtimedwait()
// for a set of signals that every other thread of the process blocks: the
// wait of run()'s forwarding thread, as a minimal sigwaitinfo() forwarder
// (tini, dumb-init) waits.
//
// Why it is sound only when no other thread can take the set: a thread in
// sigtimedwait() wakes for the signals of its set (and for a handler run on
// itself), not for a handler that runs on another thread. So everything
// that must wake it is in the set and blocked everywhere: the forwarded
// signals, SIGCHLD (the child's stops, continues and exit), the
// synchronous signals another process sends, and its own poke, a SIGCHLD
// sent to this thread alone. Signals pend until it takes them: nothing is
// lost between two waits. The ones that are not forwarded as taken
// (SIGCHLD, synchronous signals) go through sigkit's handler as a function
// call (deliver_as_if_caught), so every subscriber sees them as if they
// had been delivered. run() checks the condition (every thread blocks the
// set, from /proc) before it chooses this wait. Only where there is
// sigtimedwait() (SIGKIT_HAVE_SIGTIMEDWAIT).
#pragma once

#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "../event.hpp"
#include "../signal.hpp"
#include "deadline.hpp"
#include "platform.hpp"
#include "table.hpp"

#if SIGKIT_HAVE_SIGTIMEDWAIT
namespace sigkit {
inline namespace v1 {
namespace detail {

/// The calling thread blocks `signals` (which must hold SIGCHLD) for as
/// long as this object lives on that thread, and takes them with
/// sigtimedwait(). Not movable: poke() is called from other threads.
class direct_wait {
 public:
  explicit direct_wait(const signal_set& signals) noexcept : set_(signals.to_sigset()) {
    ::pthread_sigmask(SIG_BLOCK, &set_, &old_);
  }
  direct_wait(const direct_wait&) = delete;
  direct_wait& operator=(const direct_wait&) = delete;
  ~direct_wait() { ::pthread_sigmask(SIG_SETMASK, &old_, nullptr); }

  /// Wakes this thread's wait() once (at once if it is not waiting: the
  /// poke pends for it). Callable from any thread while this object lives.
  void poke() const noexcept { ::pthread_kill(self_, SIGCHLD); }

  /// What one wait() took.
  enum class taken {
    nothing,  // the deadline passed, or a handler ran on this thread
    signal,   // a signal to act on: `on_signal` was called with it
    delivered_child,  // a SIGCHLD, handed to sigkit's handler
    delivered_other,  // another signal of the set not in `direct`, handed likewise
    poke,
  };

  /// Sleeps until a signal of the set is pending or `until` passes, and
  /// takes one signal: a signal of `direct` goes to `on_signal(event)`; any
  /// other (SIGCHLD, a synchronous signal) to sigkit's handler.
  template <class F>
  taken wait(const deadline& until, const signal_set& direct, F&& on_signal) const {
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
    const signal s{signo};
    if (direct.contains(s)) {
      on_signal(make_event(signo, &info));
      return taken::signal;
    }
    if (is_poke(info)) return taken::poke;
    deliver_as_if_caught(signo, info);
    return signo == SIGCHLD ? taken::delivered_child : taken::delivered_other;
  }

 private:
  bool is_poke(const siginfo_t& info) const noexcept {
#if defined(SI_TKILL)
    return info.si_signo == SIGCHLD && info.si_code == SI_TKILL && info.si_pid == ::getpid();
#else
    return info.si_signo == SIGCHLD && info.si_code <= 0 && info.si_pid == ::getpid();
#endif
  }

  sigset_t set_;
  sigset_t old_{};
  pthread_t self_ = ::pthread_self();
};

}  // namespace detail
}  // namespace v1
}  // namespace sigkit
#endif  // SIGKIT_HAVE_SIGTIMEDWAIT
