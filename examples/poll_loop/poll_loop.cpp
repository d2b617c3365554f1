// poll_loop: a hand-written epoll loop where signals are just one more fd.
//
// The loop watches three descriptors:
//   - a sigkit::stream for SIGTSTP, SIGCONT, SIGINT and SIGTERM,
//   - a timerfd that ticks every 50 ms ("tick N"),
//   - one end of a socketpair, on which a worker thread posts messages.
//
// Job control done properly: on SIGTSTP (Ctrl-Z, or `kill -TSTP`) the loop
// pauses its timer, prints "paused", and then really stops the process with
// sigkit::raise_default(sigkit::terminal_stop), exactly as an uncaught
// SIGTSTP would, so the shell's `jobs`, `fg` and `bg` keep working. On
// SIGCONT (`fg`) it re-arms the timer and prints "resumed". SIGINT or SIGTERM
// ends the loop: exit 0 with the tick count.
#include <sigkit/sigkit.hpp>

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>

namespace {

int check(int result, const char* what) {  // exits with the errno text on failure
  if (result < 0) {
    std::fprintf(stderr, "poll_loop: %s: %s\n", what, std::strerror(errno));
    std::exit(2);
  }
  return result;
}

// Starts (every 50 ms) or stops (all zero) the timer. Re-setting the timer
// also discards expirations not yet read.
void set_timer(int tfd, bool on) {
  itimerspec spec{};
  if (on) spec.it_interval.tv_nsec = spec.it_value.tv_nsec = 50'000'000;
  check(::timerfd_settime(tfd, 0, &spec, nullptr), "timerfd_settime");
}

void watch(int epfd, int fd) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  check(::epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev), "epoll_ctl");
}

}  // namespace

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);

  sigkit::stream signals{{sigkit::terminal_stop, sigkit::cont, sigkit::interrupt, sigkit::terminate}};
  const int tfd = check(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC), "timerfd_create");
  int pair[2];  // pair[0]: the loop's end, pair[1]: the worker's end
  check(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), "socketpair");

  const int epfd = check(::epoll_create1(EPOLL_CLOEXEC), "epoll_create1");
  watch(epfd, signals.fd());
  watch(epfd, tfd);
  watch(epfd, pair[0]);

  // A worker thread that reports to the loop once a second. It never touches
  // the loop's state: it only writes messages into the socketpair.
  std::jthread worker([fd = pair[1]](std::stop_token stop) {
    std::mutex m;
    std::condition_variable_any cv;
    std::unique_lock lock(m);
    for (int n = 1; !cv.wait_for(lock, stop, std::chrono::seconds(1), [] { return false; }) && !stop.stop_requested();
         ++n) {
      const std::string msg = "heartbeat " + std::to_string(n);
      if (::send(fd, msg.data(), msg.size(), MSG_NOSIGNAL) < 0) return;
    }
  });

  set_timer(tfd, true);
  std::printf("ready: pid %d ticking every 50 ms (Ctrl-Z pauses, fg resumes, Ctrl-C quits)\n",
              static_cast<int>(::getpid()));

  std::uint64_t ticks = 0;
  for (;;) {
    epoll_event events[8];
    const int n = ::epoll_wait(epfd, events, 8, -1);
    if (n < 0 && errno == EINTR) continue;  // a stop/continue interrupts epoll_wait
    check(n, "epoll_wait");
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == tfd) {
        std::uint64_t expirations = 0;
        if (::read(tfd, &expirations, sizeof expirations) < 0) {
          if (errno == EAGAIN) continue;  // the timer was re-set since epoll_wait saw it
          check(-1, "read(timerfd)");
        }
        ticks += expirations;
        std::printf("tick %llu\n", static_cast<unsigned long long>(ticks));
      } else if (fd == pair[0]) {
        char buf[64];
        const ssize_t len = check(static_cast<int>(::recv(pair[0], buf, sizeof buf, 0)), "recv");
        std::printf("worker says: %.*s\n", static_cast<int>(len), buf);
      } else if (fd == signals.fd()) {
        // Drain, then act: every pending signal, in the order they came.
        while (auto e = signals.try_recv()) {
          if (e->signal == sigkit::terminal_stop) {
            set_timer(tfd, false);
            std::printf("paused after %llu ticks\n", static_cast<unsigned long long>(ticks));
            // Stop for real, the way SIGTSTP's default action would. This
            // returns once someone sends SIGCONT (the shell's fg or bg).
            sigkit::raise_default(sigkit::terminal_stop);
          } else if (e->signal == sigkit::cont) {
            set_timer(tfd, true);
            std::printf("resumed\n");
          } else {  // SIGINT or SIGTERM
            std::printf("%s: exiting after %llu ticks\n", e->signal.name().data(),
                        static_cast<unsigned long long>(ticks));
            ::close(epfd);
            ::close(tfd);
            return 0;  // the worker is stopped and joined, then the stream restores the dispositions
          }
        }
      }
    }
  }
}
