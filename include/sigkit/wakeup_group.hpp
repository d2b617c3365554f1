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
// Drain, then act, across streams: a stream drains the shared wakeup when
// its ring is empty and then looks at its ring again, so a consumer that
// calls try_recv() on every stream of the group until nullopt, after each
// wakeup, sees every event: an event pushed after the drain notifies again.
// A consumer that looks at only some of the streams may leave events in the
// others without the descriptor being readable.
#pragma once

#include <memory>
#include <system_error>

#include "error.hpp"
#include "wakeup.hpp"

namespace sigkit {
inline namespace v1 {

class stream;

/// A wakeup that several streams share: pass its address in
/// stream_options::shared_wakeup. Its fd() (also each member stream's fd())
/// is readable while any member may have events; after it is, call
/// try_recv() on every member until it returns nullopt. A copyable handle:
/// the streams keep the wakeup alive, so the group may go first.
/// One consumer for all the member streams.
class wakeup_group {
 public:
  /// Opens the descriptor. Throws std::system_error (EMFILE, ...).
  wakeup_group() : wake_(std::make_shared<wakeup>()) {}
  /// As above, reporting failure through `ec` (valid() is then false).
  explicit wakeup_group(std::error_code& ec) noexcept {
    detail::capture_error(ec, [&] { *this = wakeup_group(); });
  }

  /// False for a group whose error_code constructor failed.
  bool valid() const noexcept { return wake_ && wake_->valid(); }

  /// The shared descriptor to poll for POLLIN (-1 if !valid()).
  int fd() const noexcept { return wake_ ? wake_->fd() : -1; }

 private:
  friend class stream;
  std::shared_ptr<wakeup> wake_;
};

}  // namespace v1
}  // namespace sigkit
