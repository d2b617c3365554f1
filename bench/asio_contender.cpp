// asio_contender.cpp - standalone Asio's signal_set (compiled only when
// asio.hpp was found): async_wait, re-armed from the completion handler as
// Asio programs do, driven by io_context::run_one().
//
// How Asio receives a signal (asio/detail/impl/signal_set_service.ipp): a
// plain handler writes the signal number (an int) to one process-wide pipe
// for every delivery; the reactor reads the pipe an int at a time and hands
// each number to every signal_set registered for it (under a mutex), where
// it completes a pending async_wait or is counted as undelivered. A full
// pipe (16384 deliveries) loses deliveries without a trace.
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <chrono>
#include <memory>

#include "contender.hpp"

namespace bench {
namespace {

class asio_signal_set final : public contender {
 public:
  explicit asio_signal_set(int signo) : set_(io_, signo) { arm(); }
  ~asio_signal_set() override {
    set_.cancel();
    io_.poll();  // let the cancelled wait complete
  }
  asio_signal_set(const asio_signal_set&) = delete;
  asio_signal_set& operator=(const asio_signal_set&) = delete;

  std::uint64_t wait_one() override {
    const std::uint64_t before = fired_;
    while (fired_ == before) io_.run_one();
    return fired_ - before;
  }
  std::uint64_t consume(int timeout_ms) override {
    const std::uint64_t before = fired_;
    io_.run_one_for(std::chrono::milliseconds(timeout_ms));
    io_.poll();
    return fired_ - before;
  }

 private:
  void arm() {
    set_.async_wait([this](const asio::error_code& ec, int) {
      if (ec) return;  // cancelled
      ++fired_;
      arm();
    });
  }

  asio::io_context io_;
  asio::signal_set set_;
  std::uint64_t fired_ = 0;
};

const contender_registrar reg{
    {"asio_signal_set", 20, delivery::handler, true, false,
     [](int signo, std::size_t) -> std::unique_ptr<contender> { return std::make_unique<asio_signal_set>(signo); },
     [](int signo) -> std::function<void()> {
       auto io = std::make_shared<asio::io_context>();
       return [io, signo] { const asio::signal_set s(*io, signo); };
     }}};

}  // namespace
}  // namespace bench
