// sigkit/run.hpp - run(): spawn a command, forward signals to it until it
// exits and return how it ended, like `uv run` or an init shim (tini,
// dumb-init); optionally as a child subreaper that reaps orphaned
// descendants (a container's PID 1).
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <functional>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "child_process.hpp"
#include "detail/deadline.hpp"
#include "detail/sys.hpp"
#include "forward.hpp"
#include "inspect.hpp"
#include "signal.hpp"
#include "stream.hpp"

namespace sigkit {
inline namespace v1 {

/// spawn + forward + wait.
struct run_options {
  spawn_options spawn;
  forward_options forward;
  /// Become a child subreaper (PR_SET_CHILD_SUBREAPER, Linux) and reap
  /// every orphaned descendant, leaving no zombie behind. Where there is no
  /// subreaper, only this process's own children are reaped. (Orphans come
  /// to a process that adopts_orphans() whether or not it asks: an init
  /// shim turns this on then, as sigkit-run does.)
  bool reap = false;
  /// With reap: when the child exits, signal the rest of its group or
  /// session as `signal_rest` says, and wait for every remaining
  /// descendant; after `descendants_grace`, SIGKILL the stragglers (every
  /// descendant still there, again as more are re-parented here). Zero or
  /// less kills them at once; a grace too long for the clock
  /// (nanoseconds::max()) waits for them for ever.
  bool wait_descendants = false;
  std::chrono::nanoseconds descendants_grace = std::chrono::seconds(10);
  /// If set, a command that cannot be executed does not make run() throw:
  /// this is called with the shell's message for it ("cmd: command not
  /// found", "cmd: cannot execute: Permission denied") and run() returns
  /// exit code 127 (not found) or 126 (found, not executable), as sh does.
  /// Failures of this process (fork, pipes) still throw.
  std::function<void(const std::string&)> on_exec_failure{};
  /// When the child exits, send SIGTERM (as forward_options::rewrite turns
  /// it; not at all if that drops it) to the rest of its process group, or
  /// with spawn.new_session to every process of its session, if the child
  /// has a group of its own; then return at once unless wait_descendants
  /// (which implies this). dumb-init does this in its setsid mode.
  bool signal_rest = false;
};

namespace detail {

/// The shell's exit code for a command it could not execute: 127 if it was
/// not found, 126 otherwise.
inline int exec_failure_code(std::error_code ec) noexcept {
  return ec == std::errc::no_such_file_or_directory || ec == std::errc::not_a_directory ? 127 : 126;
}

/// The shell's message for it: "cmd: command not found", "cmd: cannot
/// execute: Permission denied".
inline std::string exec_failure_message(const std::string& command, std::error_code ec) {
  if (exec_failure_code(ec) == 127) return command + ": command not found";
  return command + ": cannot execute: " + ec.message();
}

/// spawn() for run(): with run_options::on_exec_failure, an exec failure
/// is reported there and comes back as the shell's exit status.
inline std::optional<exit_status> spawn_for_run(child_process& c, std::span<const std::string> argv,
                                                const run_options& options) {
  try {
    c = child_process::spawn(argv, options.spawn);
  } catch (const std::system_error& e) {
    if (!options.on_exec_failure || e.code().category() != exec_category()) throw;
    options.on_exec_failure(exec_failure_message(argv[0], e.code()));
    return exit_status::from_wait_status((exec_failure_code(e.code()) & 0xff) << 8);
  }
  return std::nullopt;
}

/// Whether run() may make forward_options::signal_by_pid's promise, read
/// before it subscribes SIGCHLD. It forwards on its own thread
/// (dequeue_directly), which runs only run()'s code meanwhile (its orphan
/// reaper never reaps the child) as long as no other code can run there
/// or elsewhere: no forward_options::log; no handler for any signal (every
/// one at SIG_DFL or SIG_IGN, so neither a signal outside the forwarded set
/// nor sigkit's handler chaining to one from before can run user code);
/// SIGCHLD at SIG_DFL without SA_NOCLDWAIT (the kernel reaps nothing by
/// itself); and no other thread (/proc/self/status; false where it cannot
/// be read).
inline bool may_signal_by_pid(const forward_options& options) noexcept {
  if (waited_for(options).empty() || options.log) return false;
  for (int n = 1; n < signal_limit; ++n) {
    struct sigaction was {};
    if (n == SIGKILL || n == SIGSTOP || sys().sigaction(n, nullptr, &was) != 0) continue;  // glibc refuses its own
    if (is_function(was)) return false;
    if (n == SIGCHLD && (is_ignore(was) || (was.sa_flags & SA_NOCLDWAIT) != 0)) return false;
  }
  std::error_code ec;
  std::string where;
  const auto self = read_status_at("/proc", "self/status", ::getpid(), ec, where);
  return self && self->threads == 1;
}

/// The children of this process (ended ones that are not reaped yet
/// included), from /proc; empty where there is no /proc (SIGKIT_HAVE_PROC),
/// and then a zombie orphan stays until the main child has been reaped.
inline std::vector<pid_t> children_of_self() {
  std::error_code ec;
  return inspect_children(::getpid(), ec);
}

/// Reaps every exited child of this process except `keep`, without
/// blocking.
inline void reap_orphans(pid_t keep) {
  for (;;) {
    siginfo_t info{};
    if (sys().waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0) return;
    if (info.si_pid == keep) {
      // The main child is a zombie: reap the others by pid.
      for (pid_t p : children_of_self()) {
        if (p == keep) continue;
        int status;
        ::waitpid(p, &status, WNOHANG);
      }
      return;
    }
    int status;
    ::waitpid(info.si_pid, &status, WNOHANG);
  }
}

/// run() with reap: waits for `c`, reaping orphans as they come (SIGCHLD
/// on `orphans`).
inline exit_status wait_reaping(child_process& c, stream& orphans) {
  for (;;) {
    reap_orphans(c.pid());
    if (auto st = c.wait_for(std::chrono::nanoseconds::zero())) return *st;
    // Without a pidfd the child's exit shows only as a SIGCHLD; look every
    // 10 ms as well, in case another thread's handler took it first.
    pollfd fds[2] = {{orphans.fd(), POLLIN, 0}, {c.pidfd(), POLLIN, 0}};
    poll_until(fds, 2, c.pidfd() >= 0 ? deadline::never() : deadline::after(std::chrono::milliseconds(10)));
    while (orphans.try_recv()) {
    }
  }
}

/// run_options::signal_rest: sends `signo` to what is left of the ended
/// child's own process group and, with `session`, to every other process
/// of its session (found by getsid() over /proc's list of processes; no
/// process's /proc files are read). The child's pid is not reused while
/// its group or session lives on.
inline void signal_rest(const child_process& c, bool session, int signo) {
  if (!c.own_group() || signo == 0) return;
  sys().kill(-c.pid(), signo);
  if (!session) return;
#if SIGKIT_HAVE_PROC
  std::error_code ec;
  for (const pid_t p : list_ids("/proc", "/proc", ec))
    if (p != ::getpid() && ::getsid(p) == c.pid() && ::getpgid(p) != c.pid()) sys().kill(p, signo);
#endif
}

/// run_options::wait_descendants: waits until every descendant has been
/// reaped, SIGKILLing what is left after `grace` (and whatever is
/// re-parented here later).
inline void wait_descendants(const child_process& c, stream& orphans, std::chrono::nanoseconds grace) {
  const deadline kill_at = deadline::after(grace);
  for (;;) {
    int st = 0;
    const pid_t p = ::waitpid(-1, &st, WNOHANG);
    if (p < 0 && errno == ECHILD) break;
    if (p > 0) continue;
    if (kill_at.passed()) {
      // Each round: a killed process's own children come here next.
      for (pid_t q : children_of_self()) sys().kill(q, SIGKILL);
      if (c.own_group()) sys().kill(-c.pid(), SIGKILL);
    }
    // A SIGCHLD wakes this early; otherwise look again in 10 ms.
    pollfd pfd{orphans.fd(), POLLIN, 0};
    poll_until(&pfd, 1, deadline::after(std::chrono::milliseconds(10)));
    while (orphans.try_recv()) {
    }
  }
}

}  // namespace detail

/// True if orphaned descendants of this process are re-parented to it: it is
/// PID 1 of its pid namespace (a container's entrypoint, `unshare --pid
/// --fork`), or a child subreaper (PR_SET_CHILD_SUBREAPER, which survives
/// exec). Then nobody else reaps them, and run_options::reap should be on.
inline bool adopts_orphans() noexcept { return ::getpid() == 1 || detail::is_subreaper(); }

/// Runs argv like `uv run` or an init shim: subscribes the forwarder, spawns
/// the child, forwards signals until it exits, and returns how it ended
/// (call mirror() on the result to exit the same way). A command that
/// cannot be executed throws std::system_error (exec_category()), or with
/// run_options::on_exec_failure comes back as exit code 127 or 126.
/// With dequeue_directly it signals the child by pid
/// (forward_options::signal_by_pid) when nothing but its own code can run
/// while it forwards (see detail::may_signal_by_pid()), else through the
/// child's pidfd.
inline exit_status run(std::span<const std::string> argv, const run_options& options = {}) {
  if (options.reap && detail::become_subreaper() != 0 && errno != ENOTSUP)
    throw std::system_error(detail::last_error(), "sigkit::run: PR_SET_CHILD_SUBREAPER");
  forward_options forwarding = options.forward;
  forwarding.signal_by_pid = forwarding.signal_by_pid || detail::may_signal_by_pid(forwarding);
  std::optional<sigkit::stream> orphans;
  if (options.reap) orphans.emplace(signal_set{sigkit::child});
  forwarder fwd(std::move(forwarding));
  child_process c;
  if (auto failed = detail::spawn_for_run(c, argv, options)) return *failed;
  exit_status status;
  if (!detail::waited_for(options.forward).empty()) {
    // forward_options::dequeue_directly: forward on this thread, which has
    // nothing else to do meanwhile (forward_until_exit()): it blocks the
    // forwarded signals and SIGCHLD and sleeps in sigtimedwait(), as tini
    // and dumb-init do, and the process has no thread of sigkit's. With
    // reap, every wake that may be a SIGCHLD reaps the orphans there are.
    std::function<void()> reap_now;
    if (options.reap)
      reap_now = [&c, &orphans] {
        detail::reap_orphans(c.pid());
        while (orphans->try_recv()) {
        }
      };
    fwd.forward_until_exit(c, std::move(reap_now));
    status = c.wait();
  } else {
    // The forwarder's own thread; nothing is blocked, so the handler runs
    // on whichever thread the kernel picks (robust where a sanitizer's
    // runtime keeps a thread's mask for itself: TSan was seen with a
    // forwarder thread that had every signal blocked).
    fwd.attach(c);
    status = options.reap ? detail::wait_reaping(c, *orphans) : c.wait();
  }
  const bool waiting = options.reap && options.wait_descendants;
  if (options.signal_rest || waiting)
    detail::signal_rest(c, options.spawn.new_session, detail::rewrite_table(options.forward.rewrite)(SIGTERM));
  if (waiting)
    detail::wait_descendants(c, *orphans, options.descendants_grace);
  else if (options.reap)
    detail::reap_orphans(-1);
  return status;
}

/// run() for a null-terminated argv, as main() gets it:
/// `int main(int, char** argv) { sigkit::run(argv + 1).mirror(); }`.
inline exit_status run(const char* const* argv, const run_options& options = {}) {
  std::vector<std::string> v;
  for (; argv != nullptr && *argv != nullptr; ++argv) v.emplace_back(*argv);
  return run(std::span<const std::string>(v), options);
}

/// run() for a braced list: `sigkit::run({"make", "-j8"})`.
inline exit_status run(std::initializer_list<std::string> argv, const run_options& options = {}) {
  const std::vector<std::string> v(argv);
  return run(std::span<const std::string>(v), options);
}

}  // namespace v1
}  // namespace sigkit
