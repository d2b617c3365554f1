// sigkit/detail/signal_fd.hpp - reading signals straight from the kernel's
// queue through a signalfd (Linux), as events: the one place that opens a
// signalfd and turns its records into sigkit::event, for kernel-queue
// streams (detail/kernel_queue.hpp).
//
// A signalfd dequeues a signal only while no thread can take delivery of it
// (every thread blocks it); a signal that a thread leaves unblocked is
// delivered to that thread's disposition as usual. Where there is no
// signalfd (SIGKIT_HAVE_SIGNALFD 0) open_signalfd() fails with ENOSYS and
// nothing here reads anything.
#pragma once

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>

#include "../event.hpp"
#include "../signal.hpp"
#include "platform.hpp"
#include "sys.hpp"

#if SIGKIT_HAVE_SIGNALFD
#include <sys/signalfd.h>
#endif

namespace sigkit {
inline namespace v1 {
namespace detail {

/// A new signalfd for `signals`, close-on-exec, non-blocking if asked; -1
/// with errno on failure (ENOSYS without signalfd).
inline int open_signalfd(const signal_set& signals, bool nonblocking) noexcept {
#if SIGKIT_HAVE_SIGNALFD
  const sigset_t set = signals.to_sigset();
  return sys().signalfd(&set, SFD_CLOEXEC | (nonblocking ? SFD_NONBLOCK : 0));
#else
  (void)signals;
  (void)nonblocking;
  errno = ENOSYS;
  return -1;
#endif
}

#if SIGKIT_HAVE_SIGNALFD
/// The event of one signalfd record: the same fields the handler path
/// takes from a siginfo_t.
inline event to_event(const signalfd_siginfo& si) noexcept {
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
#endif

/// The most signals read_signals() takes in one read().
inline constexpr std::size_t signals_per_read = 16;

/// Reads at most `max` (1..signals_per_read) signals from signalfd `fd` in one read() and
/// calls `f(event)` for each, oldest first. Returns how many were read: 0
/// when a non-blocking descriptor has none (EAGAIN) or the read was
/// interrupted (EINTR); -1 with errno on any other error. A blocking
/// descriptor waits for the first one.
template <class F>
long read_signals(int fd, std::size_t max, F&& f) {
#if SIGKIT_HAVE_SIGNALFD
  signalfd_siginfo batch[signals_per_read];
  if (max > signals_per_read) max = signals_per_read;
  const ssize_t n = sys().read(fd, batch, max * sizeof batch[0]);
  if (n < 0) return errno == EAGAIN || errno == EINTR ? 0 : -1;
  const auto count = static_cast<std::size_t>(n) / sizeof batch[0];
  for (std::size_t i = 0; i < count; ++i) f(to_event(batch[i]));
  return static_cast<long>(count);
#else
  (void)fd;
  (void)max;
  (void)f;
  errno = ENOSYS;
  return -1;
#endif
}

}  // namespace detail
}  // namespace v1
}  // namespace sigkit
