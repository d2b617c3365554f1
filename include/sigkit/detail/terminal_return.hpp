// sigkit/detail/terminal_return.hpp - moving the terminal between this
// process's group and a child's group that was given it, the one rule the
// forwarder (terminal_handoff) and the supervisor share: move it only from
// the group that has it now, so that a terminal someone else took is left
// alone.
#pragma once

#include <sys/types.h>
#include <termios.h>
#include <unistd.h>

#include "../child_process.hpp"

namespace sigkit {
inline namespace v1 {
namespace detail {

/// If `pgid` has the terminal `tty`, gives it to this process's group.
inline void take_terminal_from(int tty, pid_t pgid) noexcept {
  if (tty >= 0 && ::tcgetpgrp(tty) == pgid) give_terminal(tty, ::getpgrp());
}
/// If this process's group has the terminal `tty`, gives it to `pgid`.
inline void return_terminal_to(int tty, pid_t pgid) noexcept {
  if (tty >= 0 && ::tcgetpgrp(tty) == ::getpgrp()) give_terminal(tty, pgid);
}

}  // namespace detail
}  // namespace v1
}  // namespace sigkit
