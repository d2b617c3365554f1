// sigkit/detail/forward_rules.hpp - which signals a forwarder or a
// supervisor must not pass on to a child (no loops, nothing the terminal
// delivered already) and what stops a child for job control: the rules the
// two share, written once.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include "../event.hpp"

namespace sigkit {
inline namespace v1 {
namespace detail {

/// SIGTSTP, SIGTTIN and SIGTTOU: the requests to stop a job.
constexpr bool is_job_stop(int signo) noexcept { return signo == SIGTSTP || signo == SIGTTIN || signo == SIGTTOU; }

/// Where a forwarded signal goes: one process, or its whole group.
struct forward_target {
  pid_t pid = -1;            ///< the child
  pid_t pgid = -1;           ///< its process group
  bool whole_group = false;  ///< signalled with kill(-pgid)
};

/// Why `e` must not be forwarded to `t`, or nullptr. `self` and `self_pgrp`
/// are this process and its group; `sender_pgid` the sender's group (-1 if
/// not from a user, or gone). The rules:
///  - typed at the terminal (si_code SI_KERNEL, no sender) for a target in
///    this process's group: the terminal delivered it there already;
///  - sent by this process, by the target, or (for a group) by a member of
///    the target's group: not sent back (no loops).
inline const char* forward_skip_reason(const event& e, const forward_target& t, pid_t self, pid_t self_pgrp,
                                       pid_t sender_pgid) noexcept {
  const pid_t sender = e.from.pid;
#if defined(SI_KERNEL)
  if (e.from.code == SI_KERNEL && sender == 0 && t.pgid == self_pgrp)
    return "typed at the terminal, which delivered it to the child's group already";
#else
  (void)self_pgrp;
#endif
  if (!e.from_user()) return nullptr;
  if (sender == self) return "sent by this process";
  if (sender == t.pid) return "sent by the child";
  if (t.whole_group && sender_pgid > 0 && sender_pgid == t.pgid) return "sent from the child's process group";
  return nullptr;
}

/// What stops a target for job control: SIGSTOP for a whole group (a group
/// of its own may be orphaned, where the kernel discards TSTP/TTIN/TTOU,
/// and a child must not be able to refuse the job's stop), else the request
/// itself (a child in this process's group stops as the terminal made it).
constexpr int job_stop_to_send(int requested, bool whole_group) noexcept { return whole_group ? SIGSTOP : requested; }

}  // namespace detail
}  // namespace v1
}  // namespace sigkit
