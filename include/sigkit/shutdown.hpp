// sigkit/shutdown.hpp - a std::stop_token driven by signals, with escalation:
// the first signal asks the program to stop, a second one (or a deadline)
// makes it die the way that signal would.
#pragma once

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <system_error>
#include <thread>

#include "action.hpp"
#include "detail/deadline.hpp"
#include "detail/watcher.hpp"
#include "signal.hpp"
#include "stream.hpp"

namespace sigkit {
inline namespace v1 {

/// How a shutdown escalates once stop has been requested by a signal.
struct shutdown_options {
  /// A second signal of the set makes the process die of it at once
  /// (unblock, SIG_DFL, re-raise: the exit status shows the signal).
  bool second_signal_kills = true;
  /// If positive: this long after the first signal, if the shutdown object
  /// still exists, the process dies of that first signal. Zero or negative:
  /// never; a duration too long for the clock (nanoseconds::max()) never
  /// passes either.
  std::chrono::nanoseconds force_after{0};
};

/// Graceful shutdown, the way servers and CLIs want it:
///
///     sigkit::shutdown stop;                      // SIGINT + SIGTERM
///     while (!stop.token().stop_requested()) work();
///
/// The first signal of the set requests stop on `token()`; `which()` tells
/// which signal did it and who sent it. A second signal of the set (Ctrl-C
/// pressed twice), or `force_after` elapsing, makes the process die the way
/// that signal would by default, so the parent sees `WIFSIGNALED` rather
/// than a made-up exit code. Destroying the object stops its thread and
/// restores every disposition it changed.
///
/// The signals are watched by a sigkit::stream on a private thread; no user
/// code ever runs inside a signal handler.
class shutdown {
 public:
  /// Watches SIGINT and SIGTERM.
  shutdown() : shutdown(signal_set{interrupt, terminate}) {}

  /// Watches `signals` (each must be streamable: catchable, not
  /// synchronous). Throws like sigkit::stream, changing nothing.
  explicit shutdown(signal_set signals, shutdown_options options = {})
      : state_(std::make_unique<state>(signals, options)) {
    start();
  }

  shutdown(const shutdown&) = delete;
  shutdown& operator=(const shutdown&) = delete;
  shutdown(shutdown&&) = delete;
  shutdown& operator=(shutdown&&) = delete;

  /// Stops the watcher thread, then restores the dispositions.
  ~shutdown() {
    if (::getpid() != owner_) {
      // A forked child: the watcher thread does not exist here, so it
      // cannot be joined; leave the parent's objects alone.
      (void)on_request_.release();
      (void)state_.release();
      return;
    }
    state_->watch.stop();
    on_request_.reset();
  }

  /// Stopped once the first signal arrives (or request_stop() is called).
  std::stop_token token() const noexcept { return state_->source.get_token(); }

  /// True once stop was requested.
  bool stop_requested() const noexcept { return state_->source.stop_requested(); }

  /// Requests stop without a signal. which() stays empty until a signal
  /// arrives; that signal starts the force_after clock, and a second one
  /// escalates as usual.
  void request_stop() noexcept { state_->source.request_stop(); }

  /// The first signal received, with its sender (the one that requested
  /// stop, unless request_stop() came first); empty until one arrives.
  std::optional<event> which() const {
    std::lock_guard lock(state_->mu);
    return state_->first;
  }

  /// Blocks until stop is requested.
  void wait() const {
    std::unique_lock lock(state_->mu);
    state_->cv.wait(lock, [&] { return state_->source.stop_requested(); });
  }

  /// Blocks until stop is requested or `timeout` passes; true if stopped.
  /// Zero or less looks once; a timeout too long for the clock
  /// (nanoseconds::max()) waits until stop is requested.
  bool wait_for(std::chrono::nanoseconds timeout) const {
    const auto until = detail::deadline::after(timeout);
    const auto stopped = [&] { return state_->source.stop_requested(); };
    std::unique_lock lock(state_->mu);
    if (!until.forever()) return state_->cv.wait_until(lock, until.when(), stopped);
    state_->cv.wait(lock, stopped);
    return true;
  }

  /// Sets (or changes) the deadline after the first signal: once it has
  /// passed and this object still exists, the process dies of the first
  /// signal. Zero or negative disables it. Takes effect at once, also if
  /// stop was already requested.
  void force_after(std::chrono::nanoseconds grace) {
    {
      std::lock_guard lock(state_->mu);
      state_->options.force_after = grace;
    }
    state_->watch.poke();
  }

  /// The signals being watched.
  signal_set signals() const { return state_->watch.events().signals(); }

 private:
  using clock = std::chrono::steady_clock;

  struct state {
    state(signal_set signals, shutdown_options opts) : watch(signals), options(opts) {}
    detail::watcher watch;  // poked when force_after() or stop changed
    std::stop_source source;
    mutable std::mutex mu;
    std::condition_variable cv;
    std::optional<event> first;
    clock::time_point first_at{};
    shutdown_options options;
    void wake() {
      { std::lock_guard lock(mu); }
      cv.notify_all();
    }
  };

  void start() {
    // Keep the stop callback (which wakes waiters) for the object's life.
    on_request_ = std::make_unique<std::stop_callback<waker>>(state_->source.get_token(), waker{state_.get()});
    state_->watch.start([st = state_.get()](std::stop_token done) { watch(*st, done); });
  }

  struct waker {
    state* st;
    void operator()() const noexcept {
      try {
        st->wake();
      } catch (...) {  // std::mutex::lock cannot fail here in practice
      }
    }
  };

  // When the process must die of the first signal (never() without one,
  // or without force_after).
  static detail::deadline force_deadline(state& st, signal& first_signal) {
    std::lock_guard lock(st.mu);
    if (!st.first || st.options.force_after <= std::chrono::nanoseconds::zero()) return detail::deadline::never();
    first_signal = st.first->signal;
    return detail::deadline::from(st.first_at, st.options.force_after);
  }

  static void watch(state& st, const std::stop_token& done) {
    for (;;) {
      if (done.stop_requested()) return;
      signal first_signal{0};
      const detail::deadline force = force_deadline(st, first_signal);
      if (force.passed()) raise_default(first_signal);  // dies
      if (st.watch.wait(force) < 0) throw std::system_error(errno, std::system_category(), "sigkit::shutdown: poll");
      while (auto e = st.watch.events().try_recv()) {
        bool escalate = false;
        {
          std::lock_guard lock(st.mu);
          if (!st.first) {
            st.first = *e;
            st.first_at = clock::now();
          } else {
            escalate = st.options.second_signal_kills;
          }
        }
        if (escalate) raise_default(e->signal);  // dies (returns only for signals that do not kill)
        st.source.request_stop();
        st.wake();
      }
    }
  }

  pid_t owner_ = ::getpid();
  std::unique_ptr<state> state_;  // shared with the watcher thread by address; it outlives it
  std::unique_ptr<std::stop_callback<waker>> on_request_;
};

}  // namespace v1
}  // namespace sigkit
