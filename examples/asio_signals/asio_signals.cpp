// asio_signals: signals in an Asio event loop, next to the rest of the
// program's asynchronous work (here a timer), with sigkit/asio.hpp.
//
//   SIGHUP   "reload the configuration" and keep running
//   SIGUSR1  print how many ticks so far
//   SIGINT, SIGTERM  stop the timer and leave the loop: exit 0
//
// Each event arrives with its sender's pid, in an ordinary completion
// handler: no code runs in a signal handler, and once `signals` is gone the
// four dispositions are exactly what they were before.
#include <sigkit/asio.hpp>
#include <sigkit/stream.hpp>

#include <unistd.h>

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <cstdio>
#include <string>
#include <system_error>

namespace {

class app {
 public:
  explicit app(asio::io_context& io) : signals_(stream_, io), timer_(io) {}

  void start() {
    tick();
    wait_for_signal();
  }

 private:
  void tick() {
    timer_.expires_after(std::chrono::milliseconds(250));
    timer_.async_wait([this](std::error_code ec) {
      if (ec) return;  // cancelled: we are stopping
      std::printf("tick %d\n", ++ticks_);
      tick();
    });
  }

  void wait_for_signal() {
    signals_.async_recv([this](std::error_code ec, sigkit::event e) {
      if (ec) {
        std::printf("signal wait ended: %s\n", ec.message().c_str());
        return;
      }
      on_signal(e);
    });
  }

  void on_signal(const sigkit::event& e) {
    const std::string name(e.signal.name());
    if (e.signal == sigkit::hangup) {
      std::printf("%s from pid %d: reloading configuration\n", name.c_str(), static_cast<int>(e.from.pid));
    } else if (e.signal == sigkit::user1) {
      std::printf("%s from pid %d: %d ticks so far\n", name.c_str(), static_cast<int>(e.from.pid), ticks_);
    } else {  // INT or TERM
      std::printf("%s from pid %d: stopping after %d ticks\n", name.c_str(), static_cast<int>(e.from.pid), ticks_);
      timer_.cancel();  // no work left: io.run() returns
      return;
    }
    wait_for_signal();
  }

  // The stream must outlive the async_stream that reads it: declared first,
  // so it is made first and destroyed last.
  sigkit::stream stream_{{sigkit::interrupt, sigkit::terminate, sigkit::hangup, sigkit::user1}};
  sigkit::async_stream signals_;
  asio::steady_timer timer_;
  int ticks_ = 0;
};

}  // namespace

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // one line at a time, also into a pipe
  asio::io_context io;
  app a(io);
  a.start();
  std::printf("ready: pid %d, try kill -HUP / -USR1 / -TERM\n", static_cast<int>(::getpid()));
  io.run();
  std::printf("bye\n");
}
