// sigkit/detail/watcher.hpp - the private thread behind shutdown, trap and
// forwarder: a stream of signals, a wakeup that pokes the thread, and the
// deadline poll that waits on both (and on any other descriptor).
//
// Fork
//   The thread exists only in the process that started it. In a forked
//   child an inherited watcher is inert: stop() (and the destructor) leave
//   its thread alone instead of joining a thread that is not there, and
//   its stream refuses to be read (see stream::check). The owners (shutdown,
//   trap, forwarder) also leave their own state alone there, so that no
//   cleanup of the parent's runs twice.
#pragma once

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <span>
#include <stop_token>
#include <thread>
#include <utility>

#include "../signal.hpp"
#include "../stream.hpp"
#include "../wakeup.hpp"
#include "deadline.hpp"
#include "sys.hpp"

namespace sigkit {
inline namespace v1 {
namespace detail {

/// A stream watched by a private thread, which a poke (or a stop request)
/// wakes. Not movable: the thread holds its address.
class watcher {
 public:
  /// Subscribes `signals` (throws like sigkit::stream, changing nothing).
  explicit watcher(signal_set signals, stream_options options = {}) : events_(signals, options) {}
  /// The forwarder's: `signals` may hold synchronous signals (see
  /// stream(signal_set, stream_options, detail::sent_faults_too_t)).
  watcher(signal_set signals, stream_options options, sent_faults_too_t tag) : events_(signals, options, tag) {}

  watcher(const watcher&) = delete;
  watcher& operator=(const watcher&) = delete;

  /// Stops and joins the thread (not in a forked child).
  ~watcher() { stop(); }

  /// The watched stream (the thread reads it).
  stream& events() noexcept { return events_; }
  const stream& events() const noexcept { return events_; }

  /// Wakes the thread's wait() once. Async-signal-safe.
  void poke() noexcept { poke_.notify(); }

  /// Runs `body(stop_token)` on the private thread; a stop request pokes
  /// its wait().
  template <class F>
  void start(F body) {
    thread_ = std::make_unique<std::jthread>([this, body = std::move(body)](std::stop_token done) mutable {
      std::stop_callback wake(done, [this]() noexcept { poke(); });
      body(done);
    });
  }

  /// True once start() has run (in this process or the one that forked it).
  bool started() const noexcept { return thread_ != nullptr; }

  /// How many descriptors wait() takes besides its own two.
  static constexpr std::size_t max_extra = 4;

  /// Waits until an event may be pending, poke() was called, a descriptor
  /// of `extra` (at most max_extra; negative ones are skipped) is ready or
  /// `until` passes; then consumes the poke. Returns the number of ready
  /// descriptors (0 on timeout), or -1 with errno if poll() failed.
  /// `extra`'s revents are set. Allocates nothing.
  int wait(const deadline& until, std::span<pollfd> extra = {}) {
    pollfd all[2 + max_extra] = {{events_.fd(), POLLIN, 0}, {poke_.fd(), POLLIN, 0}};
    const std::size_t n = extra.size() < max_extra ? extra.size() : max_extra;
    for (std::size_t i = 0; i < n; ++i) all[2 + i] = extra[i];
    const int ready = poll_until(all, static_cast<nfds_t>(2 + n), until);
    for (std::size_t i = 0; i < n; ++i) extra[i].revents = all[2 + i].revents;
    const int saved = errno;
    poke_.drain();
    errno = saved;
    return ready;
  }

  /// Asks the thread to stop and joins it; in a forked child, where the
  /// thread does not exist, forgets it instead.
  void stop() noexcept {
    if (!thread_) return;
    if (::getpid() != owner_) {
      (void)thread_.release();  // not ours to join (or free) here
      return;
    }
    thread_->request_stop();
    if (thread_->joinable()) thread_->join();
    thread_.reset();
  }

 private:
  stream events_;
  wakeup poke_;
  pid_t owner_ = ::getpid();
  std::unique_ptr<std::jthread> thread_;
};

}  // namespace detail
}  // namespace v1
}  // namespace sigkit
