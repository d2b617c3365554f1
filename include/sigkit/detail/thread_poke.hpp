// sigkit/detail/thread_poke.hpp - waking one thread that sleeps in
// sigtimedwait() (detail/direct_wait.hpp): a SIGCHLD queued to that thread
// alone, which it blocks and waits for, so that a poke sent before it
// waits pends until it does. Told apart from a real SIGCHLD by its
// siginfo: SI_QUEUE from this process, with a value only sigkit sends.
// Linux only (rt_tgsigqueueinfo), like the wait.
#pragma once

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "platform.hpp"

#if SIGKIT_HAVE_SIGTIMEDWAIT
namespace sigkit {
inline namespace v1 {
namespace detail {

/// The calling thread's kernel id (gettid()).
inline pid_t this_thread_id() noexcept { return static_cast<pid_t>(::syscall(SYS_gettid)); }

/// What a poke carries in si_value: the address of this object, which no
/// other sender has any reason to send.
inline constexpr char poke_mark = 0;

/// Sends the poke to thread `tid` of this process: a SIGCHLD queued to
/// that thread alone (rt_tgsigqueueinfo) with si_code SI_QUEUE and
/// poke_mark's address for value. Returns whether the call succeeded (a
/// seccomp filter may refuse it). Async-signal-safe (one system call;
/// errno kept). A thread that has ended is not hit: the call checks the
/// process too, and fails with ESRCH. With the process's queue of pending
/// signals full (RLIMIT_SIGPENDING) the kernel still sends the SIGCHLD, but
/// without its siginfo: the thread wakes all the same, and takes it for a
/// SIGCHLD from nobody in particular.
inline bool poke_thread(pid_t tid) noexcept {
  const int saved = errno;
  siginfo_t info{};
  info.si_signo = SIGCHLD;
  info.si_code = SI_QUEUE;
  info.si_pid = ::getpid();
  info.si_uid = ::getuid();
  info.si_value.sival_ptr = const_cast<char*>(&poke_mark);  // NOLINT(cppcoreguidelines-pro-type-const-cast)
  const long r = ::syscall(SYS_rt_tgsigqueueinfo, info.si_pid, tid, SIGCHLD, &info);
  errno = saved;
  return r == 0;
}

/// True for a poke_thread() taken by sigtimedwait(). (tgkill() is no use
/// here: some kernels report its si_code as SI_USER, which a kill() of
/// this process by itself also has.)
inline bool is_poke(const siginfo_t& info) noexcept {
  return info.si_signo == SIGCHLD && info.si_code == SI_QUEUE && info.si_pid == ::getpid() &&
         info.si_value.sival_ptr == &poke_mark;
}

}  // namespace detail
}  // namespace v1
}  // namespace sigkit
#endif  // SIGKIT_HAVE_SIGTIMEDWAIT
