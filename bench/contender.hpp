// contender.hpp - the common face of every way of receiving a signal that
// sigkit_bench compares: sigkit's stream and flag, the kernel floor
// (sigwaitinfo, signalfd), a hand-written handler -> eventfd -> epoll, and
// Asio / libuv when they were found. Each lives in its own .cpp and adds
// itself to contenders() at static-initialisation time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace bench {

/// One subscription to one signal, consumed through the library's normal
/// consumer path. Made and used on one thread at a time (the observer).
class contender {
 public:
  virtual ~contender() = default;
  /// Blocks until at least one delivery has been observed; returns how many
  /// were observed (normally 1).
  virtual std::uint64_t wait_one() = 0;
  /// Waits at most `timeout_ms` for deliveries, then consumes every one that
  /// is ready without blocking again; returns how many it consumed.
  virtual std::uint64_t consume(int timeout_ms) = 0;
  /// Deliveries the contender itself counted as dropped (sigkit streams).
  virtual std::uint64_t dropped() const { return 0; }
};

/// How a contender takes delivery of a signal.
enum class delivery {
  handler,  // a signal handler runs (the signal must be unblocked in the thread that takes it)
  blocked,  // the signal stays blocked in every thread and is dequeued (sigwaitinfo, signalfd)
};

struct contender_kind {
  std::string name;  // "sigkit_stream", "asio_signal_set", ...
  int order = 0;     // position in reports
  delivery how = delivery::handler;
  bool can_sleep = true;      // wait_one() sleeps (false: it spins, e.g. sigkit::flag)
  bool counts_drops = false;  // dropped() is meaningful
  /// Makes a subscription to `signo`; `capacity` is a ring size where the
  /// contender has one (sigkit stream), ignored otherwise.
  std::function<std::unique_ptr<contender>(int signo, std::size_t capacity)> make;
  /// Optional, for the registration benchmark: given a signal, returns an
  /// action that subscribes to it and unsubscribes again (state that a user
  /// keeps anyway, such as an io_context, lives in the closure).
  std::function<std::function<void()>(int signo)> registration{};
};

/// Every contender compiled into this binary, in report order.
std::vector<contender_kind>& contenders();

/// Adds a contender at static-initialisation time.
struct contender_registrar {
  explicit contender_registrar(contender_kind kind);
};

}  // namespace bench
