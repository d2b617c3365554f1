// sigkit/detail/sys.hpp - the seam around the system calls ordinary code
// makes, so that tests can inject EINTR, EMFILE, ESRCH and friends; and the
// few helpers built on it that every layer shares (the deadline poll,
// waiting for and signalling one child).
//
// Nothing a signal handler runs goes through this table: the handler calls
// the kernel directly (see detail/table.hpp).
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "deadline.hpp"
#include "platform.hpp"

#if SIGKIT_HAVE_EVENTFD
#include <sys/eventfd.h>
#endif
#if SIGKIT_HAVE_PRCTL
#include <sys/prctl.h>
#endif
#if SIGKIT_HAVE_SIGNALFD
#include <sys/signalfd.h>
#endif

namespace sigkit {
inline namespace v1 {
namespace detail {

#if SIGKIT_HAVE_EVENTFD
inline int real_eventfd(unsigned initval, int flags) noexcept { return ::eventfd(initval, flags); }
#else
inline int real_eventfd(unsigned, int) noexcept {
  errno = ENOSYS;
  return -1;
}
#endif

inline int real_pipe_cloexec_nonblock(int fds[2]) noexcept {
#if SIGKIT_HAVE_PIPE2
  return ::pipe2(fds, O_CLOEXEC | O_NONBLOCK);
#else
  // No pipe2: a concurrent fork+exec can inherit the pair in this window.
  if (::pipe(fds) != 0) return -1;
  for (int i = 0; i < 2; ++i) {
    if (::fcntl(fds[i], F_SETFD, FD_CLOEXEC) != 0 || ::fcntl(fds[i], F_SETFL, O_NONBLOCK) != 0) {
      const int err = errno;
      ::close(fds[0]);
      ::close(fds[1]);
      errno = err;
      return -1;
    }
  }
  return 0;
#endif
}

/// signalfd(-1, set, flags); ENOSYS without signalfd.
#if SIGKIT_HAVE_SIGNALFD
inline int real_signalfd(const sigset_t* set, int flags) noexcept { return ::signalfd(-1, set, flags); }
#else
inline int real_signalfd(const sigset_t*, int) noexcept {
  errno = ENOSYS;
  return -1;
}
#endif

/// pidfd_open(pid, 0), close-on-exec; ENOSYS without pidfds.
inline int real_pidfd_open(pid_t pid) noexcept {
#if SIGKIT_HAVE_PIDFD
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  errno = ENOSYS;
  return -1;
#endif
}

/// pidfd_send_signal(pidfd, signo, nullptr, 0); ENOSYS without pidfds.
inline int real_pidfd_send_signal(int pidfd, int signo) noexcept {
#if SIGKIT_HAVE_PIDFD
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, signo, nullptr, 0));
#else
  (void)pidfd;
  (void)signo;
  errno = ENOSYS;
  return -1;
#endif
}

/// System calls made by sigkit's ordinary (non-handler) code. Tests replace
/// entries to inject failures; each entry behaves like the POSIX call
/// (returns -1 and sets errno on failure).
struct sys_table {
  int (*eventfd)(unsigned, int) noexcept = real_eventfd;
  int (*pipe)(int[2]) noexcept = real_pipe_cloexec_nonblock;  // O_CLOEXEC|O_NONBLOCK
  int (*poll)(pollfd*, nfds_t, int) = ::poll;
  ssize_t (*read)(int, void*, size_t) = ::read;
  int (*close)(int) = ::close;
  int (*sigaction)(int, const struct sigaction*, struct sigaction*) noexcept = ::sigaction;
  int (*kill)(pid_t, int) noexcept = ::kill;
  int (*waitid)(idtype_t, id_t, siginfo_t*, int) = ::waitid;
  int (*pidfd_open)(pid_t) noexcept = real_pidfd_open;
  int (*pidfd_send_signal)(int, int) noexcept = real_pidfd_send_signal;
  int (*signalfd)(const sigset_t*, int) noexcept = real_signalfd;  // a new descriptor (flags: SFD_*)
};

/// The process's system-call table. Constant-initialised.
inline sys_table& sys() noexcept {
  static constinit sys_table table{};
  return table;
}

/// Closes `fd` if it is open; keeps errno.
inline void close_quietly(int fd) noexcept {
  if (fd < 0) return;
  const int saved = errno;
  sys().close(fd);  // never retried: on Linux the fd is gone even on EINTR
  errno = saved;
}

/// Waits until one of `fds` is ready or `until` passes, retrying EINTR with
/// the time that is left (a storm of signals does not stretch the wait).
/// Returns poll()'s count of ready descriptors, 0 once the deadline has
/// passed with none ready, -1 with errno on an error. Negative descriptors
/// are skipped, as poll() does.
inline int poll_until(pollfd* fds, nfds_t count, const deadline& until) noexcept {
  for (;;) {
    const int r = sys().poll(fds, count, until.poll_ms());
    if (r > 0) return r;
    if (r < 0 && errno != EINTR) return -1;
    if (until.passed()) return 0;
    // Interrupted, or woke early (clock granularity): wait for the rest.
  }
}

/// Waits until `fd` is readable or `until` passes. Returns 1 if readable,
/// 0 on timeout, -1 with errno on error.
inline int wait_readable(int fd, const deadline& until) noexcept {
  pollfd p{fd, POLLIN, 0};
  const int r = poll_until(&p, 1, until);
  return r > 0 ? 1 : r;
}

/// As wait_readable(), but a signal that interrupts the wait ends it too
/// (1, as when readable): the caller looks at its data again before it
/// waits again, since a handler that ran on this thread may have stored
/// what it waits for. Saves the second poll() that would only find the
/// descriptor readable. 0 once `until` has passed, -1 with errno on error.
inline int wait_readable_or_interrupted(int fd, const deadline& until) noexcept {
  pollfd p{fd, POLLIN, 0};
  const int r = sys().poll(&p, 1, until.poll_ms());
  if (r > 0) return 1;
  if (r < 0) return errno == EINTR ? 1 : -1;
  return until.passed() ? 0 : 1;  // woke early (clock granularity): the caller waits for the rest
}

/// Sends `signo` to one child: through its pidfd when there is one (so a
/// recycled pid is never hit), else with kill(pid).
inline int signal_child(pid_t pid, int pidfd, int signo) noexcept {
  if (pidfd >= 0) return sys().pidfd_send_signal(pidfd, signo);
  return sys().kill(pid, signo);
}

/// waitid() for one child: through its pidfd when there is one, else by
/// pid. Never waits for any other child.
inline int wait_child(pid_t pid, int pidfd, siginfo_t* info, int options) noexcept {
#if SIGKIT_HAVE_PIDFD
  if (pidfd >= 0) return sys().waitid(static_cast<idtype_t>(SIGKIT_P_PIDFD), static_cast<id_t>(pidfd), info, options);
#else
  (void)pidfd;
#endif
  return sys().waitid(P_PID, static_cast<id_t>(pid), info, options);
}

/// Makes this process a child subreaper (orphaned descendants are
/// reparented to it); ENOTSUP where the system has no such thing.
inline int become_subreaper() noexcept {
#if SIGKIT_HAVE_PRCTL
  return ::prctl(PR_SET_CHILD_SUBREAPER, 1);
#else
  errno = ENOTSUP;
  return -1;
#endif
}

/// Sets the disposition of a signal the C library reserves for itself
/// (glibc: 32 and 33, which its sigaction() refuses) to SIG_DFL, or to
/// SIG_IGN with `ignore`, straight through the kernel; with `only_if_default`
/// only where it is SIG_DFL now (a handler the C library installed stays).
/// Also works for any other signal. 0, or -1 with errno (ENOTSUP without
/// SIGKIT_HAVE_RAW_SIGACTION). Async-signal-safe (a forked child calls it).
inline int set_reserved_disposition(int signo, bool ignore, bool only_if_default = false) noexcept {
#if SIGKIT_HAVE_RAW_SIGACTION
  // The kernel's struct sigaction on x86 and Arm (not glibc's); its sigset
  // is 64 bits there.
  struct kernel_sigaction {
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)();
    unsigned long mask[8 / sizeof(unsigned long)];
  };
  constexpr unsigned long mask_bytes = sizeof(kernel_sigaction::mask);
  if (only_if_default) {
    kernel_sigaction now{};
    if (::syscall(SYS_rt_sigaction, signo, nullptr, &now, mask_bytes) != 0) return -1;
    if (now.handler != SIG_DFL) return 0;
  }
  kernel_sigaction act{};
  act.handler = ignore ? SIG_IGN : SIG_DFL;
  return ::syscall(SYS_rt_sigaction, signo, &act, nullptr, mask_bytes) == 0 ? 0 : -1;
#else
  (void)signo;
  (void)ignore;
  (void)only_if_default;
  errno = ENOTSUP;
  return -1;
#endif
}

/// Whether this process is a child subreaper (PR_GET_CHILD_SUBREAPER: set by
/// itself, or by the program that exec'd it, which it survives); false
/// where the system has no such thing.
inline bool is_subreaper() noexcept {
#if SIGKIT_HAVE_PRCTL
  int on = 0;
  return ::prctl(PR_GET_CHILD_SUBREAPER, &on) == 0 && on != 0;
#else
  return false;
#endif
}

/// Asks for `signo` when the parent of this process dies; ENOTSUP where the
/// system has no such thing. Async-signal-safe (a forked child calls it).
inline int set_parent_death_signal(int signo) noexcept {
#if SIGKIT_HAVE_PRCTL
  return ::prctl(PR_SET_PDEATHSIG, signo);
#else
  (void)signo;
  errno = ENOTSUP;
  return -1;
#endif
}

}  // namespace detail
}  // namespace v1
}  // namespace sigkit
