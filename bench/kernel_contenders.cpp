// kernel_contenders.cpp - the kernel floor: the signal stays blocked in every
// thread and the observer dequeues it itself, with no handler at all.
//   kernel_sigwaitinfo      sigwaitinfo() / sigtimedwait()
//   kernel_signalfd_read    read() on a blocking signalfd
//   kernel_signalfd_epoll   epoll_wait() on a non-blocking signalfd, then read()
// The caller blocks the signal in every thread before making these.
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

#include "contender.hpp"

namespace bench {
namespace {

sigset_t only(int signo) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, signo);
  return set;
}

class sigwaitinfo_wait final : public contender {
 public:
  explicit sigwaitinfo_wait(int signo) : set_(only(signo)) {}
  std::uint64_t wait_one() override {
    siginfo_t info;
    while (::sigwaitinfo(&set_, &info) < 0) {
    }
    return 1;
  }
  std::uint64_t consume(int timeout_ms) override {
    siginfo_t info;
    timespec wait{timeout_ms / 1000, static_cast<long>(timeout_ms % 1000) * 1'000'000};
    if (::sigtimedwait(&set_, &info, &wait) < 0) return 0;
    std::uint64_t n = 1;
    const timespec zero{0, 0};
    while (::sigtimedwait(&set_, &info, &zero) >= 0) ++n;
    return n;
  }

 private:
  sigset_t set_;
};

// Reads up to this many records per read() when draining.
constexpr int batch = 64;

class signalfd_read final : public contender {
 public:
  explicit signalfd_read(int signo) {
    const sigset_t set = only(signo);
    fd_ = ::signalfd(-1, &set, SFD_CLOEXEC);
    nb_ = ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);  // for draining without blocking
    if (fd_ < 0 || nb_ < 0) throw std::runtime_error("signalfd");
  }
  ~signalfd_read() override {
    ::close(fd_);
    ::close(nb_);
  }
  signalfd_read(const signalfd_read&) = delete;
  signalfd_read& operator=(const signalfd_read&) = delete;

  std::uint64_t wait_one() override {
    signalfd_siginfo info;
    while (::read(fd_, &info, sizeof info) != static_cast<ssize_t>(sizeof info)) {
    }
    return 1;
  }
  std::uint64_t consume(int timeout_ms) override {
    signalfd_siginfo infos[batch];
    pollfd p{nb_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return 0;
    std::uint64_t n = 0;
    for (;;) {
      const ssize_t r = ::read(nb_, infos, sizeof infos);
      if (r <= 0) return n;
      n += static_cast<std::uint64_t>(r) / sizeof(signalfd_siginfo);
    }
  }

 private:
  int fd_ = -1;
  int nb_ = -1;
};

class signalfd_epoll final : public contender {
 public:
  explicit signalfd_epoll(int signo) {
    const sigset_t set = only(signo);
    fd_ = ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    if (fd_ < 0 || ep_ < 0 || ::epoll_ctl(ep_, EPOLL_CTL_ADD, fd_, &ev) != 0)
      throw std::runtime_error("signalfd/epoll");
  }
  ~signalfd_epoll() override {
    ::close(ep_);
    ::close(fd_);
  }
  signalfd_epoll(const signalfd_epoll&) = delete;
  signalfd_epoll& operator=(const signalfd_epoll&) = delete;

  std::uint64_t wait_one() override {
    for (;;) {
      epoll_event ev;
      if (::epoll_wait(ep_, &ev, 1, -1) <= 0) continue;
      signalfd_siginfo info;
      if (::read(fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) return 1;
    }
  }
  std::uint64_t consume(int timeout_ms) override {
    epoll_event ev;
    if (::epoll_wait(ep_, &ev, 1, timeout_ms) <= 0) return 0;
    signalfd_siginfo infos[batch];
    std::uint64_t n = 0;
    for (;;) {
      const ssize_t r = ::read(fd_, infos, sizeof infos);
      if (r <= 0) return n;
      n += static_cast<std::uint64_t>(r) / sizeof(signalfd_siginfo);
    }
  }

 private:
  int fd_ = -1;
  int ep_ = -1;
};

const contender_registrar reg_sigwaitinfo{
    {"kernel_sigwaitinfo", 1, delivery::blocked, true, false,
     [](int signo, std::size_t) -> std::unique_ptr<contender> { return std::make_unique<sigwaitinfo_wait>(signo); }}};
const contender_registrar reg_signalfd{
    {"kernel_signalfd_read", 2, delivery::blocked, true, false,
     [](int signo, std::size_t) -> std::unique_ptr<contender> { return std::make_unique<signalfd_read>(signo); }}};
const contender_registrar reg_signalfd_epoll{
    {"kernel_signalfd_epoll", 3, delivery::blocked, true, false,
     [](int signo, std::size_t) -> std::unique_ptr<contender> { return std::make_unique<signalfd_epoll>(signo); }}};

}  // namespace
}  // namespace bench
