// sigkit/stream.hpp - typed signal streams: every delivery, with its
// siginfo, handed to ordinary code through a lock-free ring and a wakeup fd
// (the handler path), or read from the kernel's own queue through a
// signalfd (the kernel-queue path, detail/kernel_queue.hpp).
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
#include <span>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <system_error>
#include <thread>

#include "detail/deadline.hpp"
#include "detail/kernel_queue.hpp"
#include "detail/ring.hpp"
#include "detail/subscription.hpp"
#include "detail/table.hpp"
#include "detail/thread_poke.hpp"
#include "error.hpp"
#include "event.hpp"
#include "signal.hpp"
#include "wakeup.hpp"
#include "wakeup_group.hpp"

namespace sigkit {
inline namespace v1 {

namespace detail {

/// The part of a stream the handler reaches. Heap-allocated so that the
/// stream object itself can move.
struct stream_core : subscriber {
  /// With `shared_wake` (a wakeup_group's), the stream wakes that one;
  /// otherwise it opens its own (failure in `ec`).
  stream_core(const signal_set& set, std::size_t capacity, bool chain_previous,
              std::shared_ptr<group_wakeup> shared_wake, const char* who, std::error_code& ec)
      : ring(capacity), shared(std::move(shared_wake)), signals(set), creator(::getpid()) {
    deliver = &stream_core::deliver_one;
    chain = chain_previous;
    if (shared) {
      shared->join(who);
      wake = &shared->wake;
    } else {
      own.emplace(ec);
      wake = &*own;
    }
  }
  ~stream_core() {
    if (!shared) return;
    // Events nobody will take no longer keep the group's descriptor readable.
    std::ptrdiff_t left = 0;
    event e;
    while (ring.try_pop(e)) ++left;
    shared->leave(left);
  }
  stream_core(const stream_core&) = delete;
  stream_core& operator=(const stream_core&) = delete;

  /// Store, then wake. Async-signal-safe.
  static void deliver_one(subscriber* self, int signo, const siginfo_t* info) noexcept {
    auto* core = static_cast<stream_core*>(self);
    if (core->ring.try_push(make_event(signo, info))) {
      if (core->shared) core->shared->stored();
    } else {
      core->dropped.fetch_add(1, std::memory_order_relaxed);
    }
    core->wake->notify();
  }

#if SIGKIT_HAVE_SIGTIMEDWAIT
  /// A forwarder's stream: store and wake, then poke the forwarder's thread
  /// if it sleeps in sigtimedwait() (detail/direct_wait.hpp), which does not
  /// watch the wakeup. Async-signal-safe.
  static void deliver_and_poke(subscriber* self, int signo, const siginfo_t* info) noexcept {
    deliver_one(self, signo, info);
    auto* core = static_cast<stream_core*>(self);
    core->pokers.fetch_add(1, std::memory_order_seq_cst);
    const pid_t tid = core->poke_tid.load(std::memory_order_seq_cst);
    if (tid > 0) (void)poke_thread(tid);
    core->pokers.fetch_sub(1, std::memory_order_seq_cst);
  }
#endif

  /// Drain, then act: take an event if one is there. Consumer only. In a
  /// wakeup_group (wakeup_group.hpp), an empty member drains the shared
  /// descriptor only when no member holds an event, and a drain is followed
  /// by the group's re-check unless `settle` is false: a waiting recv()
  /// drains whenever it is woken and settles once, when it returns.
  std::optional<event> pop(bool settle = true) noexcept {
    event e;
    if (ring.try_pop(e)) return taken(e);
    if (shared && settle && shared->any_held()) return std::nullopt;  // the descriptor stays readable for them
    const bool drained = wake->drain();
    std::optional<event> out;
    if (ring.try_pop(e)) out = taken(e);
    if (drained && settle) settle_group();
    return out;
  }

  /// In a wakeup_group: make the shared descriptor readable again if any
  /// member holds an event. Consumer only.
  void settle_group() noexcept {
    if (shared) shared->rearm();
  }

  /// An event taken from the ring no longer counts as held in the group.
  event taken(const event& e) noexcept {
    if (shared) shared->taken();
    return e;
  }

  mpsc_ring<event> ring;
  wakeup* wake = nullptr;                // own's, or shared's
  std::optional<wakeup> own;             // this stream's own wakeup
  std::shared_ptr<group_wakeup> shared;  // a wakeup_group's, kept alive while the stream lives; set before
                                         // subscribing and never changed, so the handler may read it
  std::atomic<std::uint64_t> dropped{0};
  std::atomic<pid_t> poke_tid{0};  // deliver_and_poke's thread (0: none)
  std::atomic<int> pokers{0};      // deliver_and_poke calls between reading poke_tid and poking
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

/// Tag of the stream constructor that accepts an empty signal set (sigkit's
/// own watchers: shutdown, trap).
struct may_be_empty_t {
  explicit may_be_empty_t() = default;
};
inline constexpr may_be_empty_t may_be_empty{};

}  // namespace detail

/// Where a stream's events wait until the consumer takes them.
enum class queue_kind {
  /// sigkit's handler records each delivery in the stream's ring and wakes
  /// its descriptor (the default, on every POSIX system).
  ring,
  /// The signals stay blocked in every thread and the consumer dequeues
  /// them from the kernel's queue (a signalfd, Linux): never starved by a
  /// storm, nothing dropped (a full queue refuses the sender's sigqueue()
  /// with EAGAIN instead). See stream's documentation for the rules.
  kernel,
};

/// Options for a stream.
struct stream_options {
  std::size_t capacity =
      64;             // events buffered before deliveries are dropped (and counted); ring only, 1..stream::max_capacity
  bool chain = true;  // also run the handler that was installed before sigkit; ring only
  queue_kind queue = queue_kind::ring;  // where events wait (queue_kind::kernel: see stream)
  /// Ring only: wake this group's descriptor instead of one of the stream's
  /// own, so that one consumer of many streams is woken by one write per
  /// delivery (see wakeup_group). Read at construction; the stream shares
  /// the group's wakeup from then on.
  const wakeup_group* shared_wakeup = nullptr;
};

/// An RAII subscription that delivers every signal of a set, with its
/// siginfo, to ordinary code. Move-only. One consumer at a time.
///
/// Standard signals that arrive while one of the same number is already
/// pending are merged by the kernel (one delivery); real-time signals queue.
///
/// Order: events come out in the order the handler recorded them. For one
/// real-time signal that is the kernel's queue order when one thread at a
/// time runs the handler for it (only one thread leaves it unblocked, or it
/// is sent to one thread). Handlers running at once on several threads
/// record in whatever order they reach the ring, which may differ: a
/// siginfo_t carries no sequence number to restore the kernel's order by
/// (detail/ring.hpp, "Order"). Nothing is lost either way.
///
/// With stream_options::queue = queue_kind::kernel (Linux) no handler is
/// involved: the signals must be blocked in every thread of the process
/// (sigkit::process_block, made before threads start, does that), and the
/// consumer reads them from the kernel's queue at its own pace. The same
/// events and the same calls (recv, recv_for, stop tokens, ranges, fd()),
/// in the kernel's order (lowest standard signal first, then real-time
/// signals in queue order). Real-time signals queue in the kernel up to
/// RLIMIT_SIGPENDING (counted per user), beyond which the sender's
/// sigqueue() fails with EAGAIN: nothing is dropped here (dropped() and
/// capacity() are 0). A signal may have one kernel-queue stream per
/// process and then no other subscriber (the constructor refuses with
/// EBUSY); the disposition is left as it is; whatever is still queued when
/// the stream closes stays pending.
///
/// A ring stream's subscription comes from detail::subscription; close(),
/// valid(), `operator bool` and signals() here also cover a kernel-queue
/// stream. Destroying or closing the last subscriber of a signal restores
/// the disposition from before sigkit exactly.
class stream : public detail::subscription<detail::stream_core> {
 public:
  class iterator;

  /// The largest capacity a stream takes (1 Mi events, 40 MiB).
  static constexpr std::size_t max_capacity = detail::max_ring_capacity;

  /// Subscribes to `signals`. Throws std::invalid_argument naming the signal
  /// if any is invalid, uncatchable (SIGKILL, SIGSTOP) or synchronous, or if
  /// the set is empty or capacity is 0 (ring); std::length_error naming the
  /// value if capacity is above max_capacity (ring); std::bad_alloc if the
  /// ring cannot be allocated; std::system_error if the wakeup fd cannot be
  /// made (EMFILE...), sigaction fails, or a signal has a kernel-queue
  /// stream (errc::device_or_resource_busy). A kernel-queue stream also
  /// throws std::system_error with errc::not_supported (no signalfd in this
  /// build), errc::operation_not_permitted (a thread of the process does not
  /// block a signal; the message names it) or errc::device_or_resource_busy
  /// (the signal has a kernel-queue stream or another subscriber already).
  /// On failure nothing has changed.
  explicit stream(signal_set signals, stream_options options = {}) { open(signals, options, "stream", false); }

  /// sigkit's forwarder: as above, and `signals` may hold synchronous
  /// signals, of which this stream receives only those another process sent
  /// (a real fault still kills the process).
  stream(signal_set signals, stream_options options, detail::sent_faults_too_t) {
    open(signals, options, "forwarder", true);
  }

  /// sigkit's forwarder, whose thread sleeps in sigtimedwait() with
  /// forward_options::dequeue_directly: from now on each delivery to this
  /// stream also pokes thread `tid` of this process (0: no thread). A ring
  /// stream made with sent_faults_too only; elsewhere it does nothing. With
  /// 0 it returns once no delivery is still on its way to poke the previous
  /// thread (a handler between reading the id and poking), so that thread
  /// may then take its last pokes and unblock SIGCHLD.
  void poke_on_delivery(detail::sent_faults_too_t, pid_t tid) noexcept {
    if (!core_) return;
    core_->poke_tid.store(tid, std::memory_order_seq_cst);
    if (tid != 0) return;
    while (core_->pokers.load(std::memory_order_seq_cst) != 0) std::this_thread::yield();
  }

  /// For sigkit's own watchers (shutdown, trap), whose signals may all have
  /// been left out: an empty set gives a valid stream that never receives
  /// anything. Throws otherwise as above.
  stream(detail::may_be_empty_t, signal_set signals, stream_options options) {
    open(signals, options, "stream", false, true);
  }

  /// As above, reporting every failure through `ec` (valid() is then false).
  /// Bad signals and capacity 0 give std::errc::invalid_argument, a capacity
  /// above max_capacity std::errc::value_too_large.
  stream(signal_set signals, stream_options options, std::error_code& ec) noexcept {
    detail::capture_error(ec, [&] { *this = stream(signals, options); });
  }

  stream(stream&& other) noexcept = default;
  stream& operator=(stream&& other) noexcept {
    if (this != &other) {
      close();
      core_ = std::move(other.core_);
      kernel_ = std::move(other.kernel_);
    }
    return *this;
  }
  stream(const stream&) = delete;
  stream& operator=(const stream&) = delete;

  /// Unsubscribes. When the last subscriber of a signal goes, the
  /// disposition from before sigkit is restored exactly.
  ~stream() { close(); }

  /// Unsubscribes now; the stream becomes empty (valid() false). A
  /// kernel-queue stream leaves what the kernel still queues pending.
  void close() noexcept {
    kernel_.reset();
    subscription::close();
  }

  /// False after a move or close(), or when the error_code constructor failed.
  bool valid() const noexcept { return core_ != nullptr || kernel_ != nullptr; }
  explicit operator bool() const noexcept { return valid(); }

  /// A descriptor that is readable while events may be pending: poll it for
  /// POLLIN, then call try_recv() until it returns nullopt. -1 if !valid().
  /// (A kernel-queue stream's is its signalfd; a stream made with a
  /// shared_wakeup returns the group's: then call try_recv() on every
  /// stream of the group.)
  int fd() const noexcept { return core_ ? core_->wake->fd() : kernel_ ? kernel_->fd() : -1; }

  /// The signals this stream receives.
  signal_set signals() const noexcept { return core_ ? core_->signals : kernel_ ? kernel_->signals() : signal_set{}; }

  /// Where this stream's events wait (ring for an empty stream).
  queue_kind queue() const noexcept { return kernel_ ? queue_kind::kernel : queue_kind::ring; }

  /// How many events the ring holds at most (0 for a kernel-queue stream).
  std::size_t capacity() const noexcept { return core_ ? core_->ring.capacity() : 0; }

  /// Deliveries that found the ring full. Counted, never silent. (Always 0
  /// for a kernel-queue stream: the sender is refused instead.)
  std::uint64_t dropped() const noexcept { return core_ ? core_->dropped.load(std::memory_order_relaxed) : 0; }

  /// The next event if one is pending; never blocks. Throws std::logic_error
  /// if used after a move or in a forked child.
  std::optional<event> try_recv() {
    check("try_recv");
    if (kernel_) return kernel_->try_recv();
    return core_->pop();
  }

  /// Takes up to out.size() pending events into `out`, oldest first,
  /// without blocking; returns how many (0 if none is pending or `out` is
  /// empty). For a kernel-queue stream one read() takes up to 16 signals
  /// from the kernel (try_recv() takes one per read()), and every signal
  /// read is in `out`: nothing is kept back in the stream. Fewer than
  /// out.size() means the stream was empty (its fd() drained, as after
  /// try_recv() returned nullopt). Throws as try_recv() does.
  std::size_t try_recv_many(std::span<event> out) {
    check("try_recv_many");
    if (kernel_) return kernel_->try_recv_many(out);
    std::size_t n = 0;
    while (n < out.size()) {
      const auto e = core_->pop();
      if (!e) break;
      out[n++] = *e;
    }
    return n;
  }

  /// Waits for the next event. EINTR-safe. Throws std::system_error if
  /// polling fails, std::logic_error as try_recv() does.
  event recv() {
    check("recv");
    if (kernel_) return kernel_->recv();
    const settle_on_return settle{core_.get()};
    for (;;) {
      if (auto e = core_->pop(false)) return *e;
      wait(detail::deadline::never(), "recv");
    }
  }

  /// Waits at most `timeout` for the next event; nullopt on timeout. Zero
  /// or less takes a pending event without waiting; a timeout too long for
  /// the clock (nanoseconds::max()) waits until an event comes.
  std::optional<event> recv_for(std::chrono::nanoseconds timeout) {
    check("recv_for");
    const auto until = detail::deadline::after(timeout);
    if (kernel_) return kernel_->recv(until);
    if (until.passed()) return core_->pop();  // no wait: look once, as try_recv() does
    const settle_on_return settle{core_.get()};
    for (;;) {
      if (auto e = core_->pop(false)) return e;
      if (until.passed() || !wait(until, "recv_for")) return core_->pop(false);
    }
  }

  /// Waits for the next event or until `stop` is requested; nullopt once
  /// stop is requested (checked before taking an event).
  std::optional<event> recv(std::stop_token stop) {
    check("recv");
    if (kernel_) return kernel_->recv(stop);
    if (stop.stop_requested()) return std::nullopt;
    detail::stream_core* core = core_.get();
    std::stop_callback on_stop(stop, [core]() noexcept { core->wake->notify(); });
    const settle_on_return settle{core};
    for (;;) {
      if (stop.stop_requested()) return std::nullopt;
      if (auto e = core->pop(false)) return e;
      wait(detail::deadline::never(), "recv");
    }
  }

  /// noexcept forms: failures (including use after move or in a forked
  /// child, as std::errc::operation_not_permitted) go to `ec`.
  std::optional<event> try_recv(std::error_code& ec) noexcept {
    return detail::capture_error(ec, [&] { return try_recv(); });
  }
  std::size_t try_recv_many(std::span<event> out, std::error_code& ec) noexcept {
    return detail::capture_error(ec, [&] { return try_recv_many(out); });
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
  void open(const signal_set& signals, const stream_options& options, const char* who, bool sent_faults,
            bool allow_empty = false) {
    if (!(allow_empty && signals.empty())) detail::check_subscribable(signals, who, sent_faults);
    if (options.queue == queue_kind::kernel) {
      if (options.shared_wakeup != nullptr)
        throw std::invalid_argument(std::string("sigkit::") + who +
                                    ": a kernel-queue stream's descriptor is its signalfd: it cannot share a "
                                    "wakeup_group (stream_options::shared_wakeup)");
      kernel_ = std::make_unique<detail::kernel_queue>(signals, who);
      return;
    }
    detail::check_ring_capacity(options.capacity, who);
    if (options.shared_wakeup != nullptr && !options.shared_wakeup->valid())
      throw std::invalid_argument(std::string("sigkit::") + who + ": stream_options::shared_wakeup is not valid");
    std::error_code ec;
    auto core = std::make_unique<detail::stream_core>(
        signals, options.capacity, options.chain,
        options.shared_wakeup != nullptr ? options.shared_wakeup->wake_ : nullptr, who, ec);
    detail::throw_if(ec, std::string(who) + ": cannot create the wakeup descriptor for " + signals.to_string());
#if SIGKIT_HAVE_SIGTIMEDWAIT
    if (sent_faults) core->deliver = &detail::stream_core::deliver_and_poke;  // a forwarder's (set before subscribing)
#endif
    adopt(std::move(core), who);
  }

  void check(const char* what) const {
    if (!valid())
      throw std::logic_error(std::string("sigkit::stream::") + what + ": the stream is empty (moved from or closed)");
    const std::uint64_t made_in = core_ ? core_->incarnation : kernel_->incarnation();
    if (made_in != detail::current_incarnation()) {
      detail::throw_inert_in_child(std::string("stream::") + what, "stream",
                                   core_ ? core_->creator : kernel_->creator(),
                                   core_ ? "its wakeups belong to the parent"
                                         : "its signal descriptors read the queue that belongs to the parent");
    }
  }

  // A waiting receive drains the (perhaps shared) wakeup without the
  // group's re-check, which it makes once on the way out (even by an
  // exception), so that waiting on one member does not spin while another
  // member of the group holds events.
  struct settle_on_return {
    explicit settle_on_return(detail::stream_core* c) noexcept : core(c) {}
    settle_on_return(const settle_on_return&) = delete;
    settle_on_return& operator=(const settle_on_return&) = delete;
    ~settle_on_return() { core->settle_group(); }
    detail::stream_core* core;
  };

  // Returns true if the fd became readable or a signal interrupted the
  // wait (look at the ring again: the handler may have run on this thread),
  // false once `until` has passed.
  bool wait(const detail::deadline& until, const char* what) {
    const int r = detail::wait_readable_or_interrupted(core_->wake->fd(), until);
    if (r < 0) detail::throw_error(detail::last_error(), std::string("stream::") + what + ": poll failed");
    return r > 0;
  }

  std::unique_ptr<detail::kernel_queue> kernel_;  // instead of core_ for queue_kind::kernel
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
