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
// Drain, then act, across streams: a stream whose ring is empty drains the
// shared wakeup, looks at its own ring again, and then looks at every other
// member's ring: if one holds an event, it notifies again. A drain by one
// member could otherwise consume the notification of an event that had
// just arrived in another member already visited, and the descriptor would
// stay unreadable with that event waiting (a lost wakeup, reproduced in
// wakeup_group_test). So the descriptor is readable whenever any member
// holds an event, and a consumer that calls try_recv() on every stream of
// the group until nullopt, after each wakeup, sees every event.
// (recv() and recv_for() on one member drain while they wait and re-check
// the others once, when they return: waiting on one member does not spin
// while another holds events.)
#pragma once

#include <unistd.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "detail/ring.hpp"
#include "error.hpp"
#include "event.hpp"
#include "wakeup.hpp"

namespace sigkit {
inline namespace v1 {

class stream;

namespace detail {

/// What a wakeup_group's streams share: the wakeup, and the rings of the
/// member streams, so that a member that drained can notify again for
/// another's event.
struct group_wakeup {
  wakeup wake;
  const pid_t owner = ::getpid();  // a forked child must not join or lock
  std::mutex lock;                 // members: joined and left from any thread
  std::vector<const mpsc_ring<event>*> members;

  /// Throws std::logic_error in a forked child (the descriptor belongs to
  /// the parent), std::bad_alloc.
  void join(const mpsc_ring<event>& ring, const char* who) {
    if (::getpid() != owner) throw_inert_in_child(who, "wakeup_group", owner, "its descriptor belongs to the parent");
    const std::lock_guard hold(lock);
    members.push_back(&ring);
  }

  /// In a forked child nothing is done: another thread of the parent may
  /// have held the lock at fork() time, and the child cannot use the group.
  void leave(const mpsc_ring<event>& ring) noexcept {
    if (::getpid() != owner) return;
    const std::lock_guard hold(lock);
    const auto it = std::find(members.begin(), members.end(), &ring);
    if (it != members.end()) members.erase(it);
  }

  /// After a drain: notify again if any member holds an event. The group's
  /// consumer only.
  void rearm() noexcept {
    const std::lock_guard hold(lock);
    for (const auto* ring : members)
      if (ring->poppable()) {
        wake.notify();
        return;
      }
  }
};

}  // namespace detail

/// A wakeup that several streams share: pass its address in
/// stream_options::shared_wakeup. Its fd() (also each member stream's fd())
/// is readable while any member may have events; after it is, call
/// try_recv() on every member until it returns nullopt. A copyable handle:
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
