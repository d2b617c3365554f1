// sigkit/detail/kernel_queue.hpp - the core of a kernel-queue stream
// (stream_options::queue = queue_kind::kernel): the stream's signals stay
// blocked in every thread, no handler runs, and the consumer dequeues them
// from the kernel's own queue through a signalfd, at its own pace.
//
// Why
//   A handler runs on every return to user space while signals are pending:
//   a sender that queues faster than the handler can run starves the thread
//   it interrupts (bench/RESULTS.md, "Storm"). Dequeued by the consumer, a
//   signal costs the consumer nothing until it asks for it. The kernel's
//   queue replaces the ring: real-time signals queue there up to
//   RLIMIT_SIGPENDING, and past that the sender's sigqueue() fails with
//   EAGAIN, so nothing is dropped on the receiving side (dropped() is 0).
//
// Rules (each checked or documented where it is decided)
//   * Every thread must block the signals: a thread that leaves one
//     unblocked takes its deliveries through the disposition. The
//     constructor checks every thread's mask (/proc/self/task where there
//     is one; otherwise the calling thread only) and refuses with EPERM.
//     sigkit::process_block blocks them before threads start.
//   * One owner per signal and process: a signalfd read consumes the
//     signal, so a second kernel-queue stream, or any subscriber through
//     sigkit's handler (stream, flag, shutdown, trap, forwarder), on the
//     same signal would see only some deliveries or none. Both are refused
//     with EBUSY (slot::kernel_queue in detail/table.hpp, under the table
//     lock).
//   * The disposition is not touched: it is what a thread that unblocks
//     the signal, or a signal still pending when the stream is gone, meets.
//   * Closing leaves what the kernel still queues pending (blocked): a new
//     kernel-queue stream reads it, or the disposition takes it once the
//     signal is unblocked. Nothing is read ahead into the stream, so nothing
//     is lost with it.
//   * Fork: as for every stream, an inherited one is inert in the child
//     (incarnation), and the child may make its own; the blocked mask is
//     inherited (see process_block.hpp for exec).
//
// Two descriptors: a blocking signalfd for recv(), so that a waiting
// consumer makes one read() per signal as a sigwaitinfo() loop makes one
// call, and a non-blocking one for fd(), try_recv() and the timed waits.
// recv(stop_token) adds a wakeup, made on first use.
#pragma once

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stop_token>
#include <string>
#include <system_error>

#include "../error.hpp"
#include "../event.hpp"
#include "../process_block.hpp"
#include "../signal.hpp"
#include "../wakeup.hpp"
#include "deadline.hpp"
#include "platform.hpp"
#include "signal_fd.hpp"
#include "sys.hpp"
#include "table.hpp"

namespace sigkit {
inline namespace v1 {
namespace detail {

/// A kernel-queue stream's state. Not movable (the stream holds it by
/// pointer). One consumer at a time.
class kernel_queue {
 public:
  /// Takes ownership of `signals` (validated by the caller) for this
  /// process and opens the signalfds. Throws std::system_error, naming
  /// `who`, with errc::not_supported (no signalfd in this build),
  /// errc::operation_not_permitted (a thread does not block a signal),
  /// errc::device_or_resource_busy (another kernel-queue stream or a
  /// handler-path subscriber has one) or the errno of signalfd() (EMFILE,
  /// ...). On failure nothing has changed.
  kernel_queue(const signal_set& signals, const char* who) : signals_(signals), creator_(::getpid()) {
    const std::string me(who);
    if (!SIGKIT_HAVE_SIGNALFD)
      throw_error(std::make_error_code(std::errc::not_supported),
                  me + ": stream_options::queue = queue_kind::kernel needs a signalfd (Linux), which this build does "
                       "not have (SIGKIT_HAVE_SIGNALFD is 0); use the handler path (queue_kind::ring)");
    const auto open = threads_not_blocking(signals_);
    if (!open.empty())
      throw_error(std::make_error_code(std::errc::operation_not_permitted),
                  me + ": a kernel-queue stream needs its signals blocked in every thread, and " + describe(open) +
                      " (it would take those deliveries itself); block them before starting threads "
                      "(sigkit::process_block)");
    claim(me);
    blocking_fd_ = open_signalfd(signals_, false);
    if (blocking_fd_ >= 0) fd_ = open_signalfd(signals_, true);
    if (fd_ < 0) {
      const std::error_code ec = last_error();
      release();
      throw_error(ec, me + ": signalfd(" + signals_.to_string() + ") failed");
    }
  }
  kernel_queue(const kernel_queue&) = delete;
  kernel_queue& operator=(const kernel_queue&) = delete;

  /// Gives the signals back (what the kernel still queues stays pending)
  /// and closes the descriptors.
  ~kernel_queue() {
    release();
    close_quietly(fd_);
    close_quietly(blocking_fd_);
  }

  /// The non-blocking signalfd: readable while a signal is queued.
  int fd() const noexcept { return fd_; }
  const signal_set& signals() const noexcept { return signals_; }
  std::uint64_t incarnation() const noexcept { return incarnation_; }
  pid_t creator() const noexcept { return creator_; }

  /// The next queued signal, or nullopt; never blocks.
  std::optional<event> try_recv() { return read_one(fd_, "try_recv"); }

  /// Up to out.size() queued signals into `out`, up to 16 per read(); stops
  /// at the first read() that finds fewer than it asked for (the queue is
  /// then empty).
  std::size_t try_recv_many(std::span<event> out) {
    std::size_t n = 0;
    while (n < out.size()) {
      const std::size_t want = out.size() - n;
      const long got = read_signals(fd_, want, [&](const event& e) { out[n++] = e; });
      if (got < 0) throw_error(last_error(), "stream::try_recv_many: read(signalfd) failed");
      if (static_cast<std::size_t>(got) < std::min<std::size_t>(want, signals_per_read)) break;
    }
    return n;
  }

  /// Waits for the next signal: one blocking read().
  event recv() {
    for (;;)
      if (auto e = read_one(blocking_fd_, "recv")) return *e;  // nullopt: EINTR
  }

  /// Waits until `until` for the next signal; nullopt once it has passed.
  std::optional<event> recv(const deadline& until) {
    for (;;) {
      if (auto e = try_recv()) return e;
      if (until.passed() || !wait(until, nullptr, "recv_for")) return try_recv();
    }
  }

  /// Waits for the next signal or until `stop` is requested; nullopt once
  /// stop is requested (checked before taking a signal).
  std::optional<event> recv(const std::stop_token& stop) {
    if (stop.stop_requested()) return std::nullopt;
    wakeup& poke = stop_wakeup();
    std::stop_callback on_stop(stop, [&poke]() noexcept { poke.notify(); });
    for (;;) {
      if (stop.stop_requested()) return std::nullopt;
      if (auto e = try_recv()) return e;
      wait(deadline::never(), &poke, "recv");
      poke.drain();
    }
  }

 private:
  std::optional<event> read_one(int fd, const char* what) {
    std::optional<event> out;
    const long n = read_signals(fd, 1, [&out](const event& e) { out = e; });
    if (n < 0) throw_error(last_error(), std::string("stream::") + what + ": read(signalfd) failed");
    return out;
  }

  // True if the signalfd (or `poke`) became readable, false on timeout.
  bool wait(const deadline& until, const wakeup* poke, const char* what) {
    pollfd fds[2] = {{fd_, POLLIN, 0}, {poke != nullptr ? poke->fd() : -1, POLLIN, 0}};
    const int r = poll_until(fds, 2, until);
    if (r < 0) throw_error(last_error(), std::string("stream::") + what + ": poll failed");
    return r > 0;
  }

  wakeup& stop_wakeup() {
    if (!stop_) stop_ = std::make_unique<wakeup>();
    return *stop_;
  }

  // Under the table lock: refuse a signal that this process's kernel-queue
  // stream or handler-path subscribers have, then take them all.
  void claim(const std::string& me) {
    table_lock lock;
    incarnation_ = ensure_incarnation();
    for (signal s : signals_) {
      const slot& sl = global().slots[s.number()];
      const char* why = sl.kernel_queue == incarnation_ ? " has a kernel-queue stream already"
                        : has_live_subscriber(s.number(), incarnation_)
                            ? " has a subscriber through sigkit's handler (a stream, flag, shutdown, trap or forwarder)"
                            : nullptr;
      if (why != nullptr)
        throw_error(std::make_error_code(std::errc::device_or_resource_busy),
                    me + ": " + std::string(s.name()) + why +
                        ", and a kernel-queue stream takes every delivery from the kernel: each would see only some "
                        "of them");
    }
    for (signal s : signals_) global().slots[s.number()].kernel_queue = incarnation_;
  }

  void release() noexcept {
    table_lock lock;
    for (signal s : signals_) {
      slot& sl = global().slots[s.number()];
      if (sl.kernel_queue == incarnation_) sl.kernel_queue = 0;
    }
  }

  signal_set signals_;
  pid_t creator_;
  std::uint64_t incarnation_ = 0;
  int blocking_fd_ = -1;
  int fd_ = -1;
  std::unique_ptr<wakeup> stop_;
};

}  // namespace detail
}  // namespace v1
}  // namespace sigkit
