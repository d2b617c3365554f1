// sigkit/wakeup.hpp - a file descriptor that a signal handler can make
// readable: an eventfd where there is one (SIGKIT_HAVE_EVENTFD), a
// self-pipe elsewhere (or on Linux with SIGKIT_NO_EVENTFD defined, so that
// the fallback is tested too).
#pragma once

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <system_error>

#include "detail/sys.hpp"
#include "error.hpp"

namespace sigkit {
inline namespace v1 {

/// A wakeup file descriptor with an "already pending" flag in front of it.
///
/// Invariant: the descriptor is readable only while pending() is true, and at
/// most one notification (one eventfd increment, one pipe byte) is ever
/// outstanding. So notify() makes a system call only for the first
/// notification after a drain, and a consumer that sees pending() false
/// knows there is nothing to read.
///
/// Not movable: signal handlers hold its address. One consumer at a time.
class wakeup {
 public:
  /// Opens the descriptor(s), non-blocking and close-on-exec. Throws
  /// std::system_error (EMFILE, ENFILE, ...).
  wakeup() {
    std::error_code ec;
    open(ec);
    detail::throw_if(ec, SIGKIT_HAVE_EVENTFD ? "wakeup: eventfd failed" : "wakeup: pipe failed");
  }
  /// As wakeup(), reporting failure through `ec` (valid() is then false).
  explicit wakeup(std::error_code& ec) noexcept { open(ec); }

  wakeup(const wakeup&) = delete;
  wakeup& operator=(const wakeup&) = delete;

  ~wakeup() {
    detail::close_quietly(read_fd_);
    if (write_fd_ != read_fd_) detail::close_quietly(write_fd_);
  }

  /// True if the descriptors are open.
  bool valid() const noexcept { return read_fd_ >= 0; }

  /// The descriptor to poll for POLLIN.
  int fd() const noexcept { return read_fd_; }

  /// True while a notification has been made and not yet drained.
  bool pending() const noexcept { return pending_.load(std::memory_order_seq_cst); }

  /// Makes fd() readable unless it already is. Keeps errno.
  /// Async-signal-safe, lock-free, and makes no system call when a
  /// notification is already pending.
  void notify() noexcept {
    // Store (done by the caller), then wake: the exchange orders the
    // caller's store before the flag, which the consumer clears only after
    // it has drained the descriptor.
    if (pending_.exchange(true, std::memory_order_seq_cst)) return;
    const int saved = errno;
#if SIGKIT_HAVE_EVENTFD
    const std::uint64_t one = 1;
    while (::write(write_fd_, &one, sizeof one) < 0 && errno == EINTR) {
    }
#else
    const char byte = 0;
    while (::write(write_fd_, &byte, 1) < 0 && errno == EINTR) {
    }
#endif
    errno = saved;
  }

  /// Consumes an outstanding notification. Returns true if one was consumed
  /// (pending() is then false); false if none was readable yet (a notifier
  /// may be between setting the flag and writing: pending() stays true and
  /// fd() will become readable). Drain, then act: re-check your data after.
  bool drain() noexcept {
    if (!pending_.load(std::memory_order_seq_cst)) return false;
    const int saved = errno;
    char buf[64];
    const ssize_t n = detail::sys().read(read_fd_, buf, SIGKIT_HAVE_EVENTFD ? 8 : sizeof buf);
    errno = saved;
    if (n <= 0) return false;
    pending_.store(false, std::memory_order_seq_cst);
    return true;
  }

 private:
  void open(std::error_code& ec) noexcept {
    ec.clear();
#if SIGKIT_HAVE_EVENTFD
    read_fd_ = write_fd_ = detail::sys().eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (read_fd_ < 0) ec = detail::last_error();
#else
    int fds[2] = {-1, -1};
    if (detail::sys().pipe(fds) != 0) {
      ec = detail::last_error();
      return;
    }
    read_fd_ = fds[0];
    write_fd_ = fds[1];
#endif
  }

  int read_fd_ = -1;
  int write_fd_ = -1;
  std::atomic<bool> pending_{false};
};

}  // namespace v1
}  // namespace sigkit
