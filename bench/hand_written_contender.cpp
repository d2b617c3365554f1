// hand_written_contender.cpp - the hand-written handler -> eventfd -> epoll
// path (hand_written.hpp) as a contender: epoll_wait, read the eventfd, take
// the record.
#include <sys/epoll.h>
#include <unistd.h>

#include <stdexcept>

#include "contender.hpp"
#include "hand_written.hpp"

namespace bench {
namespace {

class hand_written_epoll final : public contender {
 public:
  explicit hand_written_epoll(int signo) : install_(signo), ep_(::epoll_create1(EPOLL_CLOEXEC)) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    if (install_.fd() < 0 || ep_ < 0 || ::epoll_ctl(ep_, EPOLL_CTL_ADD, install_.fd(), &ev) != 0)
      throw std::runtime_error("hand-written: eventfd/epoll");
  }
  ~hand_written_epoll() override { ::close(ep_); }
  hand_written_epoll(const hand_written_epoll&) = delete;
  hand_written_epoll& operator=(const hand_written_epoll&) = delete;

  std::uint64_t wait_one() override {
    for (;;) {
      const std::uint64_t n = consume(-1);
      if (n > 0) return n;
    }
  }
  std::uint64_t consume(int timeout_ms) override {
    epoll_event ev;
    if (::epoll_wait(ep_, &ev, 1, timeout_ms) <= 0) return 0;  // timeout or EINTR
    return install_.take(record_);
  }

 private:
  hand_written_install install_;
  int ep_;
  hand_written_record record_{};
};

const contender_registrar reg{
    {"hand_written_eventfd_epoll", 5, delivery::handler, true, false,
     [](int signo, std::size_t) -> std::unique_ptr<contender> { return std::make_unique<hand_written_epoll>(signo); },
     [](int signo) -> std::function<void()> { return [signo] { const hand_written_install h(signo); }; }}};

}  // namespace
}  // namespace bench
