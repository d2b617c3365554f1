// sigkit/wakeup_group.hpp - one wakeup shared by the streams that one
// consumer (an event loop) serves, so that a delivery to any number of them
// costs one write() instead of one per stream.
//
// Each stream keeps its own ring and dropped() count; only the descriptor
// and its "already pending" flag are shared (wakeup.hpp states the
// invariant: at most one notification outstanding). The handler of every
// stream of the group calls the same notify(): the first one after a drain
// writes, the others see the flag and make no system call.
//
// Drain, then act, across streams, in O(1): the group counts the events
// its members' rings hold (the handler adds one after it stored an event,
// before it notifies; the consumer takes one away with each event it
// takes). A member whose ring is empty drains the shared wakeup only when
// that count is zero or less, and after a drain notifies again if the count
// is above zero (an event arrived in another member meanwhile). So the
// descriptor is readable whenever any member holds an event, and a
// consumer that calls try_recv() on every stream of the group until
// nullopt, after each wakeup, sees every event; in doing so it reads the
// descriptor once (the last empty member drains it), however many members
// there are. (recv() and recv_for() on one member drain while they wait,
// and notify again when they return if another member holds events:
// waiting on one member does not spin while another holds events.) A
// member destroyed with events in its ring takes them out of the count.
//
// The count may lag behind a ring for an instant: an event taken before its
// handler counted it makes the count -1 until the handler adds its 1, and
// that handler's notify() comes after, so nothing is lost. The one window
// in which the loop spins instead of sleeping: a handler interrupted between
// claiming a ring cell and publishing it while a later event of the same
// ring, from another thread, is already counted (the later one cannot be
// taken before the earlier one is published). It lasts until the
// interrupted thread runs again.
#pragma once

#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>

#include "error.hpp"
#include "event.hpp"
#include "wakeup.hpp"

namespace sigkit {
inline namespace v1 {

class stream;

namespace detail {

/// What a wakeup_group's streams share: the wakeup, and how many events
/// their rings hold between them (see above).
struct group_wakeup {
  wakeup wake;
  const pid_t owner = ::getpid();  // a forked child must not join
  /// Events stored in the members' rings and not yet taken (see above:
  /// briefly one less per event whose handler has yet to count it). Added
  /// to by the handler after it stored, taken from by the consumer after it
  /// took. Lock-free, so the handler may touch it.
  std::atomic<std::ptrdiff_t> held{0};
  static_assert(std::atomic<std::ptrdiff_t>::is_always_lock_free);

  /// Throws std::logic_error in a forked child (the descriptor belongs to
  /// the parent).
  void join(const char* who) const {
    if (::getpid() != owner) throw_inert_in_child(who, "wakeup_group", owner, "its descriptor belongs to the parent");
  }

  /// A member leaves with `left` events it will never give out: they no
  /// longer count. (In a forked child the count is not the parent's
  /// business, and the child cannot use the group: harmless either way.)
  void leave(std::ptrdiff_t left) noexcept {
    if (left > 0) held.fetch_sub(left, std::memory_order_seq_cst);
  }

  /// The handler, after storing an event in a member's ring.
  void stored() noexcept { held.fetch_add(1, std::memory_order_seq_cst); }
  /// The consumer, after taking an event from a member's ring.
  void taken() noexcept { held.fetch_sub(1, std::memory_order_seq_cst); }

  /// Whether any member holds an event.
  bool any_held() const noexcept { return held.load(std::memory_order_seq_cst) > 0; }

  /// After a drain: notify again if any member holds an event. The group's
  /// consumer only.
  void rearm() noexcept {
    if (any_held()) wake.notify();
  }
};

}  // namespace detail

/// A wakeup that several streams share: pass its address in
/// stream_options::shared_wakeup. Its fd() (also each member stream's fd())
/// is readable while any member may have events; after it is, call
/// try_recv() on every member until it returns nullopt. It may be readable
/// once more with nothing to take (the notification of an event the loop
/// took in the same round); that round finds nothing and leaves it quiet.
/// A copyable handle:
/// the streams keep the wakeup alive, so the group may go first.
/// One consumer for all the member streams.
class wakeup_group {
 public:
  /// Opens the descriptor. Throws std::system_error (EMFILE, ...).
  wakeup_group() : wake_(std::make_shared<detail::group_wakeup>()) {}
  /// As above, reporting failure through `ec` (valid() is then false).
  explicit wakeup_group(std::error_code& ec) noexcept {
    detail::capture_error(ec, [&] { *this = wakeup_group(); });
  }

  /// False for a group whose error_code constructor failed.
  bool valid() const noexcept { return wake_ && wake_->wake.valid(); }

  /// The shared descriptor to poll for POLLIN (-1 if !valid()).
  int fd() const noexcept { return wake_ ? wake_->wake.fd() : -1; }

 private:
  friend class stream;
  std::shared_ptr<detail::group_wakeup> wake_;
};

}  // namespace v1
}  // namespace sigkit
