// sigkit/detail/sys.hpp - the seam around the system calls ordinary code
// makes, so that tests can inject EINTR, EMFILE and friends.
//
// Nothing a signal handler runs goes through this table: the handler calls
// the kernel directly (see detail/handler.hpp).
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#if defined(__linux__) && !defined(SIGKIT_FORCE_SELF_PIPE)
#include <sys/eventfd.h>
#define SIGKIT_HAVE_EVENTFD 1
#else
#define SIGKIT_HAVE_EVENTFD 0
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
#if defined(__linux__) || defined(__FreeBSD__) || defined(__NetBSD__) || defined(__OpenBSD__)
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

/// Waits until `fd` is readable or `timeout` passes (negative: forever).
/// Retries EINTR with the remaining time. Returns 1 if readable, 0 on
/// timeout, -1 with errno on error.
inline int wait_readable(int fd, std::chrono::nanoseconds timeout) noexcept {
  using clock = std::chrono::steady_clock;
  const bool forever = timeout < std::chrono::nanoseconds::zero();
  const auto deadline = forever ? clock::time_point::max() : clock::now() + timeout;
  for (;;) {
    int ms = -1;
    if (!forever) {
      const auto left = deadline - clock::now();
      if (left <= clock::duration::zero()) {
        ms = 0;
      } else {
        // Round up so that we never wake before the deadline.
        const auto left_ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
        ms = left_ms > 0x7fffffff ? 0x7fffffff : static_cast<int>(left_ms);
      }
    }
    pollfd p{fd, POLLIN, 0};
    const int r = sys().poll(&p, 1, ms);
    if (r > 0) return 1;
    if (r == 0) {
      if (forever || clock::now() >= deadline) return 0;
      continue;  // woke early (clock granularity): wait for the rest
    }
    if (errno != EINTR) return -1;
    // Interrupted: a storm of signals must not stretch the timeout.
    if (!forever && clock::now() >= deadline) return 0;
  }
}

}  // namespace detail
}  // namespace v1
}  // namespace sigkit
