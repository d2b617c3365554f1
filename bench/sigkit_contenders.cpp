// sigkit_contenders.cpp - sigkit's own consumers, as a user would write them:
//   sigkit_stream        stream::recv() / recv_for() + try_recv_many()
//   sigkit_stream_epoll  epoll on stream::fd(), then try_recv() until nullopt
//                        (the documented event-loop pattern; it drains the
//                        wakeup every time, like the hand-written path)
//   sigkit_flag          flag::take() in a spinning loop (flags have no fd)
//   sigkit_stream_kernel a kernel-queue stream (queue_kind::kernel): the
//                        signal stays blocked and recv() reads sigkit's
//                        signalfd; compared with the kernel floor
#include <sys/epoll.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <sigkit/flag.hpp>
#include <sigkit/stream.hpp>
#include <stdexcept>
#include <utility>

#include "contender.hpp"

namespace bench {
namespace {

sigkit::stream make_stream(int signo, std::size_t capacity) {
  return sigkit::stream(sigkit::signal_set{sigkit::signal{signo}}, sigkit::stream_options{capacity, true});
}

sigkit::stream make_kernel_stream(int signo) {
  sigkit::stream_options options;
  options.queue = sigkit::queue_kind::kernel;
  return sigkit::stream(sigkit::signal_set{sigkit::signal{signo}}, options);
}

class stream_recv final : public contender {
 public:
  stream_recv(int signo, std::size_t capacity) : s_(make_stream(signo, capacity)) {}
  explicit stream_recv(sigkit::stream s) : s_(std::move(s)) {}
  std::uint64_t wait_one() override {
    (void)s_.recv();
    return 1;
  }
  std::uint64_t consume(int timeout_ms) override {
    if (!s_.recv_for(std::chrono::milliseconds(timeout_ms))) return 0;
    std::uint64_t n = 1;
    for (;;) {  // then everything pending, as many per call as fit
      const std::size_t got = s_.try_recv_many(batch_);
      n += got;
      if (got < batch_.size()) return n;
    }
  }
  std::uint64_t dropped() const override { return s_.dropped(); }

 private:
  sigkit::stream s_;
  std::array<sigkit::event, 64> batch_{};
};

class stream_epoll final : public contender {
 public:
  stream_epoll(int signo, std::size_t capacity)
      : s_(make_stream(signo, capacity)), ep_(::epoll_create1(EPOLL_CLOEXEC)) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    if (ep_ < 0 || ::epoll_ctl(ep_, EPOLL_CTL_ADD, s_.fd(), &ev) != 0) throw std::runtime_error("epoll");
  }
  ~stream_epoll() override { ::close(ep_); }
  stream_epoll(const stream_epoll&) = delete;
  stream_epoll& operator=(const stream_epoll&) = delete;

  std::uint64_t wait_one() override {
    for (;;) {
      const std::uint64_t n = consume(-1);
      if (n > 0) return n;
    }
  }
  std::uint64_t consume(int timeout_ms) override {
    epoll_event ev{};
    if (::epoll_wait(ep_, &ev, 1, timeout_ms) <= 0) return 0;  // timeout or EINTR
    std::uint64_t n = 0;
    while (s_.try_recv()) ++n;  // until nullopt: this drains the wakeup
    return n;
  }
  std::uint64_t dropped() const override { return s_.dropped(); }

 private:
  sigkit::stream s_;
  int ep_;
};

class flag_spin final : public contender {
 public:
  explicit flag_spin(int signo) : f_(sigkit::signal_set{sigkit::signal{signo}}) {}
  std::uint64_t wait_one() override {
    while (!f_.take()) {
    }
    return delta();
  }
  std::uint64_t consume(int timeout_ms) override {
    // A flag is polled between chunks of work: spin on it for the timeout.
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (!f_.take()) {
      if (std::chrono::steady_clock::now() >= until) return 0;
    }
    return delta();
  }

 private:
  std::uint64_t delta() {
    const std::uint64_t now = f_.count();
    const std::uint64_t d = now - seen_;
    seen_ = now;
    return d;
  }
  sigkit::flag f_;
  std::uint64_t seen_ = 0;
};

const contender_registrar reg_stream{{"sigkit_stream", 10, delivery::handler, true, true,
                                      [](int signo, std::size_t capacity) -> std::unique_ptr<contender> {
                                        return std::make_unique<stream_recv>(signo, capacity);
                                      }}};
const contender_registrar reg_stream_epoll{{"sigkit_stream_epoll", 11, delivery::handler, true, true,
                                            [](int signo, std::size_t capacity) -> std::unique_ptr<contender> {
                                              return std::make_unique<stream_epoll>(signo, capacity);
                                            }}};
const contender_registrar reg_stream_kernel{{"sigkit_stream_kernel", 13, delivery::blocked, true, false,
                                             [](int signo, std::size_t) -> std::unique_ptr<contender> {
                                               return std::make_unique<stream_recv>(make_kernel_stream(signo));
                                             }}};
const contender_registrar reg_flag{
    {"sigkit_flag", 12, delivery::handler, false, false,
     [](int signo, std::size_t) -> std::unique_ptr<contender> { return std::make_unique<flag_spin>(signo); }}};

}  // namespace
}  // namespace bench
