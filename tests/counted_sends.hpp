// Test support: which system call sigkit signals a child with. While a
// counted_sends lives, sigkit's kill() and pidfd_send_signal() (the
// detail::sys() seam) are counted, then made as usual. One at a time, in a
// forked test child.
#pragma once

#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>

#include <sigkit/detail/sys.hpp>

namespace sigkit_test {

class counted_sends {
 public:
  /// Counts kill() calls aimed at `pid`, or with 0 at any other process
  /// (not at a group), and every pidfd_send_signal().
  explicit counted_sends(pid_t pid = 0) noexcept {
    target().store(pid);
    by_kill_count().store(0);
    by_pidfd_count().store(0);
    auto& sys = sigkit::detail::sys();
    sys.kill = counting_kill;
    sys.pidfd_send_signal = counting_pidfd_send_signal;
  }
  ~counted_sends() {
    auto& sys = sigkit::detail::sys();
    sys.kill = ::kill;
    sys.pidfd_send_signal = sigkit::detail::real_pidfd_send_signal;
  }
  counted_sends(const counted_sends&) = delete;
  counted_sends& operator=(const counted_sends&) = delete;

  /// The pid whose kill() calls count (a child spawned after this object).
  void aim_at(pid_t pid) noexcept { target().store(pid); }
  int by_kill() const noexcept { return by_kill_count().load(); }
  /// Whether this process gets pidfds now (a kernel or seccomp filter may
  /// refuse them where they were compiled in): else sigkit signals by pid.
  static bool pidfds_work() noexcept {
    const int fd = sigkit::detail::real_pidfd_open(::getpid());
    if (fd < 0) return false;
    ::close(fd);
    return true;
  }
  int by_pidfd() const noexcept { return by_pidfd_count().load(); }

 private:
  static std::atomic<pid_t>& target() noexcept {
    static std::atomic<pid_t> t{0};
    return t;
  }
  static std::atomic<int>& by_kill_count() noexcept {
    static std::atomic<int> n{0};
    return n;
  }
  static std::atomic<int>& by_pidfd_count() noexcept {
    static std::atomic<int> n{0};
    return n;
  }
  static int counting_kill(pid_t pid, int signo) noexcept {
    const pid_t aimed = target().load();
    if (pid > 0 && (aimed == 0 ? pid != ::getpid() : pid == aimed)) by_kill_count().fetch_add(1);
    return ::kill(pid, signo);
  }
  static int counting_pidfd_send_signal(int pidfd, int signo) noexcept {
    by_pidfd_count().fetch_add(1);
    return sigkit::detail::real_pidfd_send_signal(pidfd, signo);
  }
};

}  // namespace sigkit_test
