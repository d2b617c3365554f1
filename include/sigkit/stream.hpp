// sigkit/stream.hpp - typed signal streams: every delivery, with its
// siginfo, handed to ordinary code through a lock-free ring and a wakeup fd.
#pragma once

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <system_error>

#include "detail/deadline.hpp"
#include "detail/ring.hpp"
#include "detail/subscription.hpp"
#include "detail/table.hpp"
#include "error.hpp"
#include "signal.hpp"
#include "wakeup.hpp"

namespace sigkit {
inline namespace v1 {

/// Who sent a signal: siginfo's si_pid, si_uid and si_code.
struct origin {
  pid_t pid = 0;  // sender (or, for SIGCHLD, the child); 0 for the kernel
  uid_t uid = 0;  // sender's real user id
  int code = 0;   // si_code: SI_USER, SI_QUEUE, SI_KERNEL, CLD_EXITED, ...
};

/// One delivery of a signal, as the handler saw it.
struct event {
  sigkit::signal signal{};  // which signal
  origin from{};            // who sent it
  union sigval value {};    // the sigqueue() payload (SI_QUEUE, SI_TIMER, SI_MESGQ); zero otherwise
  int child_status = 0;     // SIGCHLD: si_status (exit code or signal number)

  /// Raised by the kernel itself (si_code > 0: SI_KERNEL, CLD_*, POLL_*...).
  bool from_kernel() const noexcept { return from.code > 0; }
  /// Sent by a process: kill(), sigqueue(), tgkill()/raise().
  bool from_user() const noexcept {
#if defined(SI_TKILL)
    if (from.code == SI_TKILL) return true;
#endif
    return from.code == SI_USER || from.code == SI_QUEUE;
  }
  /// Typed at (or raised by) the controlling terminal: the kernel's tty
  /// driver sends SIGINT/SIGQUIT/SIGTSTP/SIGWINCH/SIGHUP/SIGTTIN/SIGTTOU
  /// with si_code SI_KERNEL and no sender.
  bool from_terminal() const noexcept {
#if defined(SI_KERNEL)
    if (from.code != SI_KERNEL || from.pid != 0) return false;
    const int n = signal.number();
    return n == SIGINT || n == SIGQUIT || n == SIGTSTP || n == SIGWINCH || n == SIGHUP || n == SIGTTIN || n == SIGTTOU;
#else
    return false;
#endif
  }
};

namespace detail {

/// Builds the event record for one delivery. Async-signal-safe.
inline event make_event(int signo, const siginfo_t* info) noexcept {
  event ev{};
  ev.signal = signal{signo};
  if (info == nullptr) return ev;
  const int code = info->si_code;
  ev.from.code = code;
  bool has_sender = code == SI_USER || code == SI_QUEUE || code == SI_MESGQ;
#if defined(SI_TKILL)
  has_sender = has_sender || code == SI_TKILL;
#endif
  if (signo == SIGCHLD && code > 0) {
    has_sender = true;  // si_pid/si_uid describe the child
    ev.child_status = info->si_status;
  }
  if (has_sender) {
    ev.from.pid = info->si_pid;
    ev.from.uid = info->si_uid;
  }
  if (code == SI_QUEUE || code == SI_TIMER || code == SI_MESGQ) ev.value = info->si_value;
  return ev;
}

/// The part of a stream the handler reaches. Heap-allocated so that the
/// stream object itself can move.
struct stream_core : subscriber {
  stream_core(const signal_set& set, std::size_t capacity, bool chain_previous, std::error_code& ec)
      : ring(capacity), wake(ec), signals(set), creator(::getpid()) {
    deliver = &stream_core::deliver_one;
    chain = chain_previous;
  }

  /// Store, then wake. Async-signal-safe.
  static void deliver_one(subscriber* self, int signo, const siginfo_t* info) noexcept {
    auto* core = static_cast<stream_core*>(self);
    if (!core->ring.try_push(make_event(signo, info))) core->dropped.fetch_add(1, std::memory_order_relaxed);
    core->wake.notify();
  }

  /// Drain, then act: take an event if one is there. Consumer only.
  std::optional<event> pop() noexcept {
    event e;
    if (ring.try_pop(e)) return e;
    wake.drain();
    if (ring.try_pop(e)) return e;
    return std::nullopt;
  }

  mpsc_ring<event> ring;
  wakeup wake;
  std::atomic<std::uint64_t> dropped{0};
  signal_set signals;
  pid_t creator;
};

/// Tag for sigkit's forwarder: its stream may hold the synchronous signals,
/// of which the table hands it only those another process sent (see
/// detail::snapshot::user_subs).
struct sent_faults_too_t {
  explicit sent_faults_too_t() = default;
};
inline constexpr sent_faults_too_t sent_faults_too{};

}  // namespace detail

/// Options for a stream.
struct stream_options {
  std::size_t capacity = 64;  // events buffered before deliveries are dropped (and counted)
  bool chain = true;          // also run the handler that was installed before sigkit
};

/// An RAII subscription that delivers every signal of a set, with its
/// siginfo, to ordinary code. Move-only. One consumer at a time.
///
/// Standard signals that arrive while one of the same number is already
/// pending are merged by the kernel (one delivery); real-time signals queue.
///
/// close(), valid(), `operator bool` and signals() come from
/// detail::subscription; destroying or closing the last subscriber of a
/// signal restores the disposition from before sigkit exactly.
class stream : public detail::subscription<detail::stream_core> {
 public:
  class iterator;

  /// Subscribes to `signals`. Throws std::invalid_argument naming the signal
  /// if any is invalid, uncatchable (SIGKILL, SIGSTOP) or synchronous, or if
  /// the set is empty or capacity is 0; std::system_error if the wakeup fd
  /// cannot be made (EMFILE...) or sigaction fails. On failure nothing has
  /// changed.
  explicit stream(signal_set signals, stream_options options = {}) { open(signals, options, "stream", false); }

  /// sigkit's forwarder: as above, and `signals` may hold synchronous
  /// signals, of which this stream receives only those another process sent
  /// (a real fault still kills the process).
  stream(signal_set signals, stream_options options, detail::sent_faults_too_t) {
    open(signals, options, "forwarder", true);
  }

  /// As above, reporting every failure through `ec` (valid() is then false).
  /// Bad signals give std::errc::invalid_argument.
  stream(signal_set signals, stream_options options, std::error_code& ec) noexcept {
    detail::capture_error(ec, [&] { *this = stream(signals, options); });
  }

  /// A descriptor that is readable while events may be pending: poll it for
  /// POLLIN, then call try_recv() until it returns nullopt. -1 if !valid().
  int fd() const noexcept { return core_ ? core_->wake.fd() : -1; }

  /// How many events the ring holds at most.
  std::size_t capacity() const noexcept { return core_ ? core_->ring.capacity() : 0; }

  /// Deliveries that found the ring full. Counted, never silent.
  std::uint64_t dropped() const noexcept { return core_ ? core_->dropped.load(std::memory_order_relaxed) : 0; }

  /// The next event if one is pending; never blocks. Throws std::logic_error
  /// if used after a move or in a forked child.
  std::optional<event> try_recv() {
    check("try_recv");
    return core_->pop();
  }

  /// Waits for the next event. EINTR-safe. Throws std::system_error if
  /// polling fails, std::logic_error as try_recv() does.
  event recv() {
    check("recv");
    for (;;) {
      if (auto e = core_->pop()) return *e;
      wait(detail::deadline::never(), "recv");
    }
  }

  /// Waits at most `timeout` for the next event; nullopt on timeout. Zero
  /// or less takes a pending event without waiting; a timeout too long for
  /// the clock (nanoseconds::max()) waits until an event comes.
  std::optional<event> recv_for(std::chrono::nanoseconds timeout) {
    check("recv_for");
    const auto until = detail::deadline::after(timeout);
    for (;;) {
      if (auto e = core_->pop()) return e;
      if (until.passed() || !wait(until, "recv_for")) return core_->pop();
    }
  }

  /// Waits for the next event or until `stop` is requested; nullopt once
  /// stop is requested (checked before taking an event).
  std::optional<event> recv(std::stop_token stop) {
    check("recv");
    if (stop.stop_requested()) return std::nullopt;
    detail::stream_core* core = core_.get();
    std::stop_callback on_stop(stop, [core]() noexcept { core->wake.notify(); });
    for (;;) {
      if (stop.stop_requested()) return std::nullopt;
      if (auto e = core->pop()) return e;
      wait(detail::deadline::never(), "recv");
    }
  }

  /// noexcept forms: failures (including use after move or in a forked
  /// child, as std::errc::operation_not_permitted) go to `ec`.
  std::optional<event> try_recv(std::error_code& ec) noexcept {
    return detail::capture_error(ec, [&] { return try_recv(); });
  }
  std::optional<event> recv(std::error_code& ec) noexcept {
    return detail::capture_error(ec, [&] { return std::optional<event>(recv()); });
  }
  std::optional<event> recv_for(std::chrono::nanoseconds timeout, std::error_code& ec) noexcept {
    return detail::capture_error(ec, [&] { return recv_for(timeout); });
  }

  /// A blocking input range: `for (sigkit::event e : s) ...` waits for each
  /// event in turn (break to leave).
  iterator begin();
  std::default_sentinel_t end() const noexcept { return {}; }

  /// A range that ends once `stop` is requested.
  struct until_range;
  until_range until(std::stop_token stop);

 private:
  void open(const signal_set& signals, const stream_options& options, const char* who, bool sent_faults) {
    detail::check_subscribable(signals, who, sent_faults);
    if (options.capacity == 0) throw std::invalid_argument(std::string("sigkit::") + who + ": capacity must be at least 1");
    std::error_code ec;
    auto core = std::make_unique<detail::stream_core>(signals, options.capacity, options.chain, ec);
    detail::throw_if(ec, std::string(who) + ": cannot create the wakeup descriptor for " + signals.to_string());
    adopt(std::move(core), who);
  }

  void check(const char* what) const {
    if (!core_)
      throw std::logic_error(std::string("sigkit::stream::") + what + ": the stream is empty (moved from or closed)");
    if (core_->incarnation != detail::current_incarnation())
      throw std::logic_error(std::string("sigkit::stream::") + what + ": this stream was made by process " +
                             std::to_string(core_->creator) + " and is inert in this forked child (pid " +
                             std::to_string(::getpid()) +
                             "): its wakeups belong to the parent. Create a new stream in the child.");
  }

  // Returns true if the fd became readable, false on timeout.
  bool wait(const detail::deadline& until, const char* what) {
    const int r = detail::wait_readable(core_->wake.fd(), until);
    if (r < 0) detail::throw_error(detail::last_error(), std::string("stream::") + what + ": poll failed");
    return r > 0;
  }

};

/// Input iterator over a stream's events. Fetches lazily: dereferencing
/// waits for the next event; ++ moves past it.
class stream::iterator {
 public:
  using iterator_concept = std::input_iterator_tag;
  using value_type = event;
  using difference_type = std::ptrdiff_t;

  iterator() = default;
  const event& operator*() const {
    fetch();
    return *current_;
  }
  const event* operator->() const { return &**this; }
  iterator& operator++() {
    fetch();
    current_.reset();
    return *this;
  }
  void operator++(int) { ++*this; }
  /// Never equal to end() for a plain range; for until(stop), equal once
  /// stop is requested.
  friend bool operator==(const iterator& it, std::default_sentinel_t) {
    if (!it.stop_) return false;
    it.fetch();
    return !it.current_.has_value();
  }

 private:
  friend class stream;
  iterator(stream* s, std::optional<std::stop_token> stop) : stream_(s), stop_(std::move(stop)) {}
  void fetch() const {
    if (current_) return;
    current_ = stop_ ? stream_->recv(*stop_) : std::optional<event>(stream_->recv());
  }
  stream* stream_ = nullptr;
  std::optional<std::stop_token> stop_;
  mutable std::optional<event> current_;
};

inline stream::iterator stream::begin() { return iterator(this, std::nullopt); }

/// The range returned by stream::until().
struct stream::until_range {
  stream* s;
  std::stop_token stop;
  iterator begin() const { return iterator(s, stop); }
  std::default_sentinel_t end() const noexcept { return {}; }
};
inline stream::until_range stream::until(std::stop_token stop) { return {this, std::move(stop)}; }

static_assert(std::input_iterator<stream::iterator>);
static_assert(std::sentinel_for<std::default_sentinel_t, stream::iterator>);

namespace detail {
template <int... Signos>
constexpr bool all_distinct() {
  constexpr int v[] = {Signos...};
  for (std::size_t i = 0; i < sizeof...(Signos); ++i)
    for (std::size_t j = i + 1; j < sizeof...(Signos); ++j)
      if (v[i] == v[j]) return false;
  return true;
}
}  // namespace detail

/// A stream whose signals are checked at compile time:
/// `sigkit::stream_of<SIGINT, SIGTERM> s;`
template <int... Signos>
class stream_of : public stream {
  static_assert(sizeof...(Signos) > 0, "sigkit::stream_of: list at least one signal");
  static_assert(((Signos != 0) && ...), "sigkit::stream_of: 0 is not a signal");
  static_assert(((Signos > 0 && Signos < NSIG) && ...), "sigkit::stream_of: signal number out of range (1..NSIG-1)");
  static_assert(((Signos != SIGKILL) && ...), "sigkit::stream_of: SIGKILL cannot be caught, blocked or ignored");
  static_assert(((Signos != SIGSTOP) && ...), "sigkit::stream_of: SIGSTOP cannot be caught, blocked or ignored");
  static_assert((!signal{Signos}.synchronous() && ...),
                "sigkit::stream_of: synchronous signals (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS) cannot be "
                "streamed; use scoped_action");
  static_assert(detail::all_distinct<Signos...>(), "sigkit::stream_of: a signal is listed twice");

 public:
  /// True if S is one of this stream's signals.
  template <int S>
  static constexpr bool contains = ((S == Signos) || ...);

  explicit stream_of(stream_options options = {}) : stream(signal_set{signal{Signos}...}, options) {}
};

}  // namespace v1
}  // namespace sigkit
