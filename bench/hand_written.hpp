// hand_written.hpp - the hand-written reference that sigkit's targets are
// measured against: an SA_SIGINFO handler that records the siginfo fields
// sigkit records and makes an eventfd readable, written as tightly as we
// can (one store, one write(), errno kept). Shared by sigkit_bench and
// handler_probe so that callgrind counts exactly the code that was timed.
//
// It is deliberately minimal: one record slot (a burst keeps only the
// latest siginfo, the eventfd counter keeps the count), one process-wide
// instance, no chaining, no restore of anything but the disposition.
#pragma once

#include <signal.h>
#include <sys/eventfd.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace bench {

struct hand_written_record {
  int signo;
  int code;
  pid_t pid;
  uid_t uid;
  union sigval value;
};

struct hand_written_state {
  int efd = -1;
  hand_written_record last{};
};

inline hand_written_state& hand_written_global() noexcept {
  static constinit hand_written_state s{};
  return s;
}

}  // namespace bench

/// The handler. Async-signal-safe: one store and one write().
extern "C" inline void bench_hand_written_handler(int signo, siginfo_t* info, void*) noexcept {
  const int saved = errno;
  bench::hand_written_state& s = bench::hand_written_global();
  s.last = {signo, info->si_code, info->si_pid, info->si_uid, info->si_value};
  const std::uint64_t one = 1;
  (void)!::write(s.efd, &one, sizeof one);
  errno = saved;
}

namespace bench {

/// Installs the hand-written handler for `signo` with a fresh eventfd;
/// restores the previous disposition on destruction.
class hand_written_install {
 public:
  explicit hand_written_install(int signo) : signo_(signo) {
    hand_written_global().efd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct sigaction sa {};
    sa.sa_sigaction = &bench_hand_written_handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;  // the flags sigkit uses
    ::sigaction(signo_, &sa, &previous_);
  }
  ~hand_written_install() {
    ::sigaction(signo_, &previous_, nullptr);
    ::close(hand_written_global().efd);
    hand_written_global().efd = -1;
  }
  hand_written_install(const hand_written_install&) = delete;
  hand_written_install& operator=(const hand_written_install&) = delete;

  int fd() const noexcept { return hand_written_global().efd; }

  /// Consumes the eventfd: the number of deliveries since the last call
  /// (0 if none), copying the latest record into `out`.
  std::uint64_t take(hand_written_record& out) const noexcept {
    std::uint64_t n = 0;
    if (::read(fd(), &n, sizeof n) != static_cast<ssize_t>(sizeof n)) return 0;
    out = hand_written_global().last;
    return n;
  }

 private:
  int signo_;
  struct sigaction previous_ {};
};

}  // namespace bench
