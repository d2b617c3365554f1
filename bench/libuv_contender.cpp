// libuv_contender.cpp - libuv's uv_signal_t (compiled only when libuv was
// found), driven by uv_run(UV_RUN_ONCE).
//
// How libuv receives a signal (src/unix/signal.c): the handler takes a
// process-wide lock made of a pipe (read one byte), writes a 16-byte message
// to the loop's pipe for every handle watching the signal, and releases the
// lock (write one byte): three system calls per delivery, more with more
// handles. A full loop pipe (4096 messages) loses deliveries without a
// trace (the write fails with EAGAIN and the handler moves on).
#include <uv.h>

#include <memory>
#include <stdexcept>

#include "contender.hpp"

namespace bench {
namespace {

class libuv_signal final : public contender {
 public:
  explicit libuv_signal(int signo) {
    if (uv_loop_init(&loop_) != 0) throw std::runtime_error("uv_loop_init");
    uv_signal_init(&loop_, &sig_);
    sig_.data = this;
    uv_timer_init(&loop_, &timer_);
    if (uv_signal_start(&sig_, &libuv_signal::on_signal, signo) != 0) throw std::runtime_error("uv_signal_start");
  }
  ~libuv_signal() override {
    uv_close(reinterpret_cast<uv_handle_t*>(&sig_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);  // finishes the closes
    uv_loop_close(&loop_);
  }
  libuv_signal(const libuv_signal&) = delete;
  libuv_signal& operator=(const libuv_signal&) = delete;

  std::uint64_t wait_one() override {
    const std::uint64_t before = fired_;
    while (fired_ == before) uv_run(&loop_, UV_RUN_ONCE);
    return fired_ - before;
  }
  std::uint64_t consume(int timeout_ms) override {
    const std::uint64_t before = fired_;
    // Repeating, and from a fresh loop time: a one-shot timer that has already
    // expired when uv_run() starts runs before the poll and leaves it
    // without a timeout (it would block until the next signal).
    uv_update_time(&loop_);
    const auto ms = static_cast<std::uint64_t>(timeout_ms);
    uv_timer_start(
        &timer_, [](uv_timer_t*) {}, ms, ms);
    uv_run(&loop_, UV_RUN_ONCE);
    uv_timer_stop(&timer_);
    uv_run(&loop_, UV_RUN_NOWAIT);
    return fired_ - before;
  }

 private:
  static void on_signal(uv_signal_t* handle, int) { ++static_cast<libuv_signal*>(handle->data)->fired_; }

  uv_loop_t loop_{};
  uv_signal_t sig_{};
  uv_timer_t timer_{};
  std::uint64_t fired_ = 0;
};

// One subscribe + unsubscribe on a loop that stays alive.
struct libuv_registration {
  uv_loop_t loop{};
  explicit libuv_registration() { uv_loop_init(&loop); }
  ~libuv_registration() {
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
  }
  libuv_registration(const libuv_registration&) = delete;
  libuv_registration& operator=(const libuv_registration&) = delete;
  void once(int signo) {
    uv_signal_t h{};
    uv_signal_init(&loop, &h);
    uv_signal_start(
        &h, [](uv_signal_t*, int) {}, signo);
    uv_close(reinterpret_cast<uv_handle_t*>(&h), nullptr);
    uv_run(&loop, UV_RUN_NOWAIT);  // the close completes here
  }
};

const contender_registrar reg{
    {"libuv_signal", 21, delivery::handler, true, false,
     [](int signo, std::size_t) -> std::unique_ptr<contender> { return std::make_unique<libuv_signal>(signo); },
     [](int signo) -> std::function<void()> {
       auto r = std::make_shared<libuv_registration>();
       return [r, signo] { r->once(signo); };
     }}};

}  // namespace
}  // namespace bench
