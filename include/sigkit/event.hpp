// sigkit/event.hpp - one delivery of a signal as sigkit hands it to
// ordinary code: the signal, who sent it, the sigqueue() payload and a
// child's status; and the one function that builds it from a siginfo_t
// (the handler path) or a signalfd record (the kernel-queue path).
#pragma once

#include <signal.h>
#include <sys/types.h>

#include "signal.hpp"

namespace sigkit {
inline namespace v1 {

/// Who sent a signal: siginfo's si_pid, si_uid and si_code.
struct origin {
  pid_t pid = 0;  // sender (or, for SIGCHLD, the child); 0 for the kernel
  uid_t uid = 0;  // sender's real user id
  int code = 0;   // si_code: SI_USER, SI_QUEUE, SI_KERNEL, CLD_EXITED, ...
};

/// One delivery of a signal, as the handler saw it.
struct event {
  sigkit::signal signal{};  // which signal
  origin from{};            // who sent it
  union sigval value {};    // the sigqueue() payload (SI_QUEUE, SI_TIMER, SI_MESGQ); zero otherwise
  int child_status = 0;     // SIGCHLD: si_status (exit code or signal number)

  /// Raised by the kernel itself (si_code > 0: SI_KERNEL, CLD_*, POLL_*...).
  bool from_kernel() const noexcept { return from.code > 0; }
  /// Sent by a process: kill(), sigqueue(), tgkill()/raise().
  bool from_user() const noexcept {
#if defined(SI_TKILL)
    if (from.code == SI_TKILL) return true;
#endif
    return from.code == SI_USER || from.code == SI_QUEUE;
  }
  /// Typed at (or raised by) the controlling terminal: the kernel's tty
  /// driver sends SIGINT/SIGQUIT/SIGTSTP/SIGWINCH/SIGHUP/SIGTTIN/SIGTTOU
  /// with si_code SI_KERNEL and no sender.
  bool from_terminal() const noexcept {
#if defined(SI_KERNEL)
    if (from.code != SI_KERNEL || from.pid != 0) return false;
    const int n = signal.number();
    return n == SIGINT || n == SIGQUIT || n == SIGTSTP || n == SIGWINCH || n == SIGHUP || n == SIGTTIN || n == SIGTTOU;
#else
    return false;
#endif
  }
};

namespace detail {

/// Builds the event record for one delivery. Async-signal-safe.
inline event make_event(int signo, const siginfo_t* info) noexcept {
  event ev{};
  ev.signal = signal{signo};
  if (info == nullptr) return ev;
  const int code = info->si_code;
  ev.from.code = code;
  bool has_sender = code == SI_USER || code == SI_QUEUE || code == SI_MESGQ;
#if defined(SI_TKILL)
  has_sender = has_sender || code == SI_TKILL;
#endif
  if (signo == SIGCHLD && code > 0) {
    has_sender = true;  // si_pid/si_uid describe the child
    ev.child_status = info->si_status;
  }
  if (has_sender) {
    ev.from.pid = info->si_pid;
    ev.from.uid = info->si_uid;
  }
  if (code == SI_QUEUE || code == SI_TIMER || code == SI_MESGQ) ev.value = info->si_value;
  return ev;
}

}  // namespace detail
}  // namespace v1
}  // namespace sigkit
