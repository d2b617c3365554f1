// sigkit/child_process.hpp - child processes that start with a clean signal state,
// are owned by pid file descriptor, and whose exit can be mirrored.
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "action.hpp"
#include "detail/deadline.hpp"
#include "detail/sys.hpp"
#include "detail/table.hpp"
#include "error.hpp"
#include "process_block.hpp"
#include "signal.hpp"

extern char** environ;  // NOLINT(readability-redundant-declaration): POSIX

namespace sigkit {
inline namespace v1 {

/// A decoded wait status: how a child ended.
struct exit_status {
  /// From a waitpid() status word.
  static constexpr exit_status from_wait_status(int status) noexcept { return exit_status{status}; }

  /// From what waitid() reports of an ended child (CLD_EXITED, CLD_KILLED,
  /// CLD_DUMPED).
  static exit_status from_siginfo(const siginfo_t& info) noexcept {
    if (info.si_code == CLD_EXITED) return exit_status{(info.si_status & 0xff) << 8};
    return exit_status{(info.si_status & 0x7f) | (info.si_code == CLD_DUMPED ? 0x80 : 0)};
  }

  constexpr exit_status() noexcept = default;

  bool exited() const noexcept { return WIFEXITED(raw); }
  /// The exit code (0..255); -1 if it did not exit.
  int code() const noexcept { return exited() ? WEXITSTATUS(raw) : -1; }
  bool signaled() const noexcept { return WIFSIGNALED(raw); }
  /// The signal that killed it; signal{0} (invalid) if it exited.
  sigkit::signal signal() const noexcept { return sigkit::signal{signaled() ? WTERMSIG(raw) : 0}; }
  bool core_dumped() const noexcept { return signaled() && WCOREDUMP(raw); }
  /// What a shell would put in `$?`: the code, or 128 + the signal number.
  int shell_code() const noexcept { return exited() ? code() : 128 + WTERMSIG(raw); }
  /// The status word as waitpid() reports it.
  int wait_status() const noexcept { return raw; }

  /// "exited with code 3", "killed by SIGTERM (core dumped)".
  std::string describe() const {
    if (exited()) return "exited with code " + std::to_string(code());
    std::string out = "killed by " + std::string(signal().name());
    if (core_dumped()) out += " (core dumped)";
    return out;
  }

  /// Ends this process the way the child ended: exit(code), or death by the
  /// same signal (SIG_DFL, unblocked, re-raised) with core dumps disabled,
  /// so that whoever waits for this process sees `WIFSIGNALED` and the same
  /// signal. stdio is flushed first. PID 1 of a pid namespace cannot die of
  /// a signal it sends itself (the kernel drops it): it exits with
  /// shell_code() at once.
  [[noreturn]] void mirror() const {
    std::fflush(nullptr);
    if (exited()) std::exit(code());  // NOLINT(concurrency-mt-unsafe): exiting is the point
    const int signo = WTERMSIG(raw);
    if (::getpid() == 1) std::_Exit(128 + signo);
    const rlimit no_core{0, 0};
    ::setrlimit(RLIMIT_CORE, &no_core);
    // SIG_DFL, unblocked in this thread, raised at this thread: the same
    // death sigkit's handler emulates (SIGKILL included).
    detail::emulate_default(signo);
    // Still alive: the signal does not kill by default; the shell's code.
    std::_Exit(128 + signo);
  }

  friend bool operator==(const exit_status&, const exit_status&) = default;

  int raw = 0;

 private:
  constexpr explicit exit_status(int status) noexcept : raw(status) {}
};

/// The error category of a program the child could not execute: the errno
/// value its execve() failed with (ENOENT, EACCES, ENOEXEC...). It tells
/// such a failure from one of this process (fork, pipe: generic_category),
/// and compares equal to the std::errc conditions all the same
/// (`ec == std::errc::permission_denied`).
inline const std::error_category& exec_category() noexcept {
  class category final : public std::error_category {
   public:
    const char* name() const noexcept override { return "sigkit.exec"; }
    std::string message(int value) const override { return std::generic_category().message(value); }
    std::error_condition default_error_condition(int value) const noexcept override {
      return {value, std::generic_category()};
    }
  };
  static const category instance;
  return instance;
}

/// How to start a child.
struct spawn_options {
  bool new_process_group = false;  ///< setpgid(0, 0) in the child
  bool new_session = false;        ///< setsid() in the child
  /// SIG_DFL for every signal and an empty mask (or `mask`), except what
  /// `keep_ignored_at_start` and `keep_ignored` keep ignored. False: the
  /// child gets this thread's mask without the signals live process_blocks
  /// blocked, and exec keeps what is ignored and resets what is handled (a signal sigkit handles gets its disposition
  /// from before sigkit; docs/fork-and-exec.md).
  bool reset_signals = true;
  /// With `reset_signals`: the signals this process was started with
  /// ignored (sigkit::ignored_at_start(), e.g. SIGHUP under `nohup`) stay
  /// SIG_IGN in the child, as an exec without sigkit would leave them, and
  /// as tini and dumb-init do. False: SIG_DFL for those too.
  bool keep_ignored_at_start = true;
  /// With `reset_signals`: these start at SIG_IGN too (an init shim passes
  /// on the signals it found ignored when it started, as a shell does).
  signal_set keep_ignored{};
  /// With `reset_signals`: the child's signal mask instead of an empty one
  /// (an init shim passes on the mask it inherited).
  signal_set mask{};
  std::optional<signal> parent_death_signal{};  ///< Linux PR_SET_PDEATHSIG
  /// With a new process group: if this process is in the foreground of its
  /// controlling terminal, make the child's group the foreground one (as a
  /// shell does for a job). The forwarder takes the terminal back.
  /// With a new session: if this process leads the session of its
  /// controlling terminal (a container's PID 1 started with a terminal, a
  /// program run by `exec` from a login shell), it gives the terminal up
  /// (TIOCNOTTY) and the child's session takes it, with the child's group
  /// in the foreground, as dumb-init does. Giving it up makes the kernel
  /// send SIGHUP and SIGCONT to this process's group, from this process:
  /// SIGHUP is ignored meanwhile if it is at its default action (a
  /// forwarder skips both, being sent by its own process). Otherwise the
  /// terminal belongs to another session (the caller's shell's), cannot
  /// move, and the child's session has none.
  bool foreground = false;
};

namespace detail {

/// The candidates execvp() would try for `file`, resolved before fork() so
/// that the child only calls execve().
inline std::vector<std::string> exec_candidates(const std::string& file) {
  // An empty name is not searched for (execve("") fails with ENOENT, as
  // execvp does); "<dir>/" would be a directory, EACCES.
  if (file.empty() || file.find('/') != std::string::npos) return {file};
  const char* path = std::getenv("PATH");  // NOLINT(concurrency-mt-unsafe): read once, before fork
  std::string_view dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  std::vector<std::string> out;
  for (;;) {
    const auto colon = dirs.find(':');
    std::string dir(dirs.substr(0, colon));
    if (dir.empty()) dir = ".";
    out.push_back(dir);
    out.back() += '/';
    out.back() += file;
    if (colon == std::string_view::npos) break;
    dirs.remove_prefix(colon + 1);
  }
  return out;
}

/// The controlling terminal (close-on-exec), or -1.
inline int open_tty() noexcept { return ::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY); }

/// The file descriptor of the controlling terminal if this process's group
/// is its foreground group, else -1.
inline int foreground_tty() noexcept {
  const int fd = ::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return -1;
  if (::tcgetpgrp(fd) != ::getpgrp()) {
    ::close(fd);
    return -1;
  }
  return fd;
}

/// The controlling terminal (close-on-exec) if this process leads its
/// session, else -1: a terminal only its session leader can give away.
inline int led_session_tty() noexcept {
  if (::getsid(0) != ::getpid()) return -1;
  const int fd = open_tty();
  if (fd < 0) return -1;
  if (::tcgetsid(fd) != ::getpid()) {
    ::close(fd);
    return -1;
  }
  return fd;
}

/// This session leader gives up its controlling terminal `tty`, so that a
/// new session can take it. The kernel then sends SIGHUP and SIGCONT to the
/// terminal's foreground group (from this process); a SIGHUP at its default
/// action would kill this process, so it is ignored across the call.
inline int give_up_terminal(int tty) noexcept {
  struct sigaction ign {
  }, was{};
  ign.sa_handler = SIG_IGN;
  sigemptyset(&ign.sa_mask);
  bool ignored = false;
  if (sys().sigaction(SIGHUP, nullptr, &was) == 0 && was.sa_handler == SIG_DFL && (was.sa_flags & SA_SIGINFO) == 0)
    ignored = sys().sigaction(SIGHUP, &ign, nullptr) == 0;
  const int r = ::ioctl(tty, TIOCNOTTY);  // the signals are sent before it returns
  const int err = errno;
  if (ignored) sys().sigaction(SIGHUP, &was, nullptr);
  errno = err;
  return r;
}

/// True if `pid` (our child, not yet reaped) is stopped. Leaves the stop
/// to be reported again (WNOWAIT).
inline bool stopped_before_exec(pid_t pid) noexcept {
  siginfo_t info{};
  if (wait_child(pid, -1, &info, WSTOPPED | WNOHANG | WNOWAIT) != 0) return false;
  return info.si_pid == pid && (info.si_code == CLD_STOPPED || info.si_code == CLD_TRAPPED);
}

/// tcsetpgrp() with SIGTTOU blocked, so that a background caller is not
/// stopped by it.
inline int give_terminal(int tty, pid_t pgrp) noexcept {
  sigset_t ttou, old;
  sigemptyset(&ttou);
  sigaddset(&ttou, SIGTTOU);
  ::pthread_sigmask(SIG_BLOCK, &ttou, &old);
  const int r = ::tcsetpgrp(tty, pgrp);
  const int err = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  errno = err;
  return r;
}

}  // namespace detail

/// A child process this object owns: started by spawn(), signalled through
/// its pidfd (so a recycled pid is never hit), waited for by pid (never
/// waitpid(-1)). Move-only. Destroying an unwaited child reaps it if it has
/// already exited and otherwise leaves it running (call terminate() or
/// wait() first to be sure nothing is left behind).
///
/// (`sigkit::child` is the SIGCHLD constant, like sigkit::interrupt.)
class child_process {
 public:
  /// Starts argv[0] (searched in PATH like execvp) with arguments argv. The
  /// child starts with every signal at SIG_DFL and an empty mask unless
  /// `options.reset_signals` is false (then with the caller's mask, less
  /// what process_blocks blocked). Returns once the program has been
  /// executed; an exec failure is thrown here as std::system_error naming
  /// the program, its code in exec_category() (ENOENT, EACCES, ...). An
  /// empty argv is std::invalid_argument.
  static child_process spawn(std::span<const std::string> argv, spawn_options options = {}) {
    std::error_code ec;
    child_process c = spawn(argv, options, ec);
    if (ec) {
      if (ec == std::errc::invalid_argument && argv.empty())
        throw std::invalid_argument("sigkit::child_process::spawn: empty argv: nothing to run");
      throw std::system_error(
          ec, "sigkit::child_process::spawn: cannot run '" + (argv.empty() ? std::string() : argv[0]) + "'");
    }
    return c;
  }
  static child_process spawn(std::initializer_list<std::string> argv, spawn_options options = {}) {
    const std::vector<std::string> v(argv);
    return spawn(std::span<const std::string>(v), options);
  }

  /// noexcept form (apart from allocation): failures go to `ec`.
  static child_process spawn(std::span<const std::string> argv, spawn_options options, std::error_code& ec) {
    ec.clear();
    if (argv.empty()) {
      ec = std::make_error_code(std::errc::invalid_argument);
      return child_process{};
    }
    if (options.parent_death_signal && !options.parent_death_signal->valid()) {
      ec = std::make_error_code(std::errc::invalid_argument);
      return child_process{};
    }
    // Everything the child needs is prepared here: after fork() it may only
    // make async-signal-safe calls.
    const std::vector<std::string> candidates = detail::exec_candidates(argv[0]);
    std::vector<char*> args;
    args.reserve(argv.size() + 1);
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));  // NOLINT: execve's signature
    args.push_back(nullptr);
    const bool own_group = options.new_process_group || options.new_session;
    // The terminal the child's group is to get: this process's foreground
    // one (a new group), or the one whose session it leads (a new session,
    // which takes it over once this process has given it up).
    int tty = -1;
    if (own_group && options.foreground)
      tty = options.new_session ? detail::led_session_tty() : detail::foreground_tty();
    if (tty >= 0 && options.new_session && detail::give_up_terminal(tty) != 0) {
      ::close(tty);
      tty = -1;
    }

    int report[2];
    if (::pipe2(report, O_CLOEXEC) != 0) {
      ec = detail::last_error();
      if (tty >= 0) ::close(tty);
      return child_process{};
    }
    // What stays ignored through the reset, read here: ignored_at_start()
    // may take a lock, which the child must not.
    // Computed before fork: the child may only make async-signal-safe calls.
    const sigset_t keep_ignored =
        options.reset_signals
            ? ((options.keep_ignored_at_start ? sigkit::ignored_at_start() : signal_set{}) | options.keep_ignored)
                  .to_sigset()
            : signal_set{}.to_sigset();
    // Block everything while forking: no handler of this process may run in
    // the child before its dispositions are reset.
    sigset_t all, old;
    sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &old);
    // reset_signals = false: the caller's mask, without what process_blocks
    // blocked (the mask survives exec; the program gets the one from before).
    sigset_t child_mask = old;
    for (signal s : detail::blocked_by_process_block()) sigdelset(&child_mask, s.number());
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::close(report[0]);
      run_in_child(candidates, args.data(), options, tty, parent, child_mask, keep_ignored,
                   report[1]);  // never returns
    }
    const int fork_errno = errno;
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    ::close(report[1]);
    if (pid < 0) {
      ::close(report[0]);
      if (tty >= 0) ::close(tty);
      ec = detail::errno_code(fork_errno);
      return child_process{};
    }
    // Also here, so the group exists whichever runs first (not for a new
    // session: a group leader cannot call setsid()).
    if (options.new_process_group && !options.new_session) ::setpgid(pid, pid);
    if (tty >= 0) {
      if (!options.new_session) detail::give_terminal(tty, pid);
      ::close(tty);
    }
    child_process c;
    c.pid_ = pid;
    c.pidfd_ = detail::sys().pidfd_open(pid);  // the child cannot be reaped before we wait
    c.own_group_ = own_group;
    c.took_terminal_ = tty >= 0 && !options.new_session;  // a session's terminal is not taken back
    // Wait for exec: EOF means it happened; an int means it failed. A
    // SIGSTOP sent to this process's group before the child left it (or
    // to its pid) stops it before exec, and nobody would continue it: the
    // forwarder is attached only once spawn() returns. Continue it, so that
    // the program starts; stop requests the forwarder received itself are
    // forwarded once it is attached.
    int child_errno = 0;
    ssize_t n;
    for (;;) {
      if (detail::wait_readable(report[0], detail::deadline::after(std::chrono::milliseconds(20))) == 0) {
        if (detail::stopped_before_exec(pid)) detail::sys().kill(pid, SIGCONT);
        continue;
      }
      n = ::read(report[0], &child_errno, sizeof child_errno);
      if (n >= 0 || (errno != EINTR && errno != EAGAIN)) break;
    }
    ::close(report[0]);
    if (n == static_cast<ssize_t>(sizeof child_errno)) {
      c.wait();  // reap the failed child
      ec = std::error_code(child_errno, exec_category());
      return child_process{};
    }
    return c;
  }

  child_process() noexcept = default;
  child_process(child_process&& other) noexcept { *this = std::move(other); }
  child_process& operator=(child_process&& other) noexcept {
    if (this != &other) {
      release();
      pid_ = std::exchange(other.pid_, -1);
      pidfd_ = std::exchange(other.pidfd_, -1);
      status_ = std::exchange(other.status_, std::nullopt);
      own_group_ = other.own_group_;
      took_terminal_ = other.took_terminal_;
    }
    return *this;
  }
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  ~child_process() { release(); }

  /// The child's pid (-1 for an empty object). After wait() it may belong to
  /// another process: use send(), not kill(pid()).
  pid_t pid() const noexcept { return pid_; }
  /// The pidfd (-1 without pidfd support); readable once the child exited.
  int pidfd() const noexcept { return pidfd_; }
  bool valid() const noexcept { return pid_ > 0; }
  /// The child leads its own process group (new_process_group/new_session).
  bool own_group() const noexcept { return own_group_; }
  /// spawn() gave the child's group the terminal (options.foreground).
  bool took_terminal() const noexcept { return took_terminal_; }
  /// Set once wait()/wait_for() has reaped it.
  std::optional<exit_status> status() const noexcept { return status_; }

  /// Sends `s` to the child (pidfd_send_signal on Linux, so a recycled pid
  /// is never hit). After the child was reaped: std::system_error ESRCH.
  void send(signal s) {
    std::error_code ec;
    send(s, ec);
    if (ec)
      throw std::system_error(ec,
                              "sigkit::child_process::send(" + std::string(s.name()) + ") to " + std::to_string(pid_));
  }
  void send(signal s, std::error_code& ec) noexcept {
    ec.clear();
    if (!s.valid()) {
      ec = std::make_error_code(std::errc::invalid_argument);
      return;
    }
    if (pid_ <= 0 || status_) {
      ec = std::make_error_code(std::errc::no_such_process);
      return;
    }
    if (detail::signal_child(pid_, pidfd_, s.number()) != 0) ec = detail::last_error();
  }

  /// Sends `s` to the child's process group (kill(-pgid)).
  void send_group(signal s) {
    if (pid_ <= 0 || status_)
      throw std::system_error(std::make_error_code(std::errc::no_such_process), "sigkit::child_process::send_group");
    const pid_t pgid = ::getpgid(pid_);
    if (pgid < 0 || ::kill(-pgid, s.number()) != 0)
      throw std::system_error(detail::last_error(), "sigkit::child_process::send_group(" + std::string(s.name()) + ")");
  }

  /// Waits for the child to end and reaps it (EINTR-safe). Returns the same
  /// status on later calls.
  exit_status wait() {
    std::error_code ec;
    auto st = wait_impl(detail::deadline::never(), ec);
    if (ec) throw std::system_error(ec, "sigkit::child_process::wait for " + std::to_string(pid_));
    return *st;
  }

  /// Waits at most `timeout`; nullopt if the child is still running. Zero
  /// or less looks once; a timeout too long for the clock
  /// (nanoseconds::max()) waits until the child ends.
  std::optional<exit_status> wait_for(std::chrono::nanoseconds timeout) {
    std::error_code ec;
    auto st = wait_impl(detail::deadline::after(timeout), ec);
    if (ec) throw std::system_error(ec, "sigkit::child_process::wait_for " + std::to_string(pid_));
    return st;
  }

  /// Sends SIGTERM (and SIGCONT, in case it is stopped), waits up to
  /// `grace`, then SIGKILL and waits.
  exit_status terminate(std::chrono::nanoseconds grace) {
    if (status_) return *status_;
    std::error_code ec;
    send(sigkit::terminate, ec);
    send(sigkit::cont, ec);
    if (auto st = wait_for(grace)) return *st;
    send(signal{SIGKILL}, ec);
    return wait();
  }

 private:
  [[noreturn]] static void run_in_child(const std::vector<std::string>& candidates, char* const* args,
                                        const spawn_options& options, int tty, pid_t parent, const sigset_t& old_mask,
                                        const sigset_t& keep_ignored, int report) noexcept {
    // Only async-signal-safe calls from here on.
    int err = 0;
    if (options.new_session) {
      if (::setsid() < 0) err = errno;
    } else if (options.new_process_group) {
      if (::setpgid(0, 0) < 0) err = errno;
    }
    if (err == 0 && tty >= 0) {
      // A new session takes the terminal its parent gave up (it fails,
      // harmlessly, if another session took it meanwhile); a new group is
      // made the foreground one. Every signal is blocked: no SIGTTOU stop.
      if (options.new_session)
        (void)::ioctl(tty, TIOCSCTTY, 0);
      else
        ::tcsetpgrp(tty, ::getpid());
      ::close(tty);
    }
    if (err == 0 && options.parent_death_signal) {
      // ENOTSUP where the system has no parent-death signal.
      if (detail::set_parent_death_signal(options.parent_death_signal->number()) < 0) err = errno;
      if (err == 0 && ::getppid() != parent) ::raise(options.parent_death_signal->number());  // already orphaned
    }
    if (err == 0) {
      // A job-control stop (TSTP/TTIN/TTOU) sent to the parent's group
      // while this process was still in it is pending here (everything is
      // blocked): discard it (setting SIG_IGN does), or the program would
      // stop before it starts. The parent saw it too and acts on it.
      for (const int n : {SIGTSTP, SIGTTIN, SIGTTOU}) {
        struct sigaction ign {
        }, was{};
        ign.sa_handler = SIG_IGN;
        sigemptyset(&ign.sa_mask);
        if (::sigaction(n, &ign, &was) == 0) ::sigaction(n, &was, nullptr);
      }
      if (options.reset_signals) {
        struct sigaction dfl {};
        sigemptyset(&dfl.sa_mask);
        for (int n = 1; n < NSIG; ++n) {
          if (n == SIGKILL || n == SIGSTOP) continue;
          const bool ignore = sigismember(&keep_ignored, n) == 1;
          dfl.sa_handler = ignore ? SIG_IGN : SIG_DFL;
          // The C library's reserved signals (glibc: 32, 33) are refused by
          // its sigaction(); the kernel sets them (a parent that ignores
          // them, as sigkit-run does, must not pass SIG_IGN on through exec).
          if (::sigaction(n, &dfl, nullptr) != 0) (void)detail::set_reserved_disposition(n, ignore);
        }
        const sigset_t mask = options.mask.to_sigset();  // sigemptyset/sigaddset: async-signal-safe
        // NOLINTNEXTLINE(concurrency-mt-unsafe): the forked child has one thread
        ::sigprocmask(SIG_SETMASK, &mask, nullptr);
      } else {
        // NOLINTNEXTLINE(concurrency-mt-unsafe): the forked child has one thread
        ::sigprocmask(SIG_SETMASK, &old_mask, nullptr);
      }
      int best = ENOENT;
      for (const auto& path : candidates) {
        ::execve(path.c_str(), args, environ);
        const int e = errno;
        if (e == EACCES)
          best = EACCES;  // like execvp: remember a permission problem
        else if (e != ENOENT && e != ENOTDIR && best != EACCES)
          best = e;
      }
      err = best;
    }
    while (::write(report, &err, sizeof err) < 0 && errno == EINTR) {
    }
    ::_exit(127);
  }

  std::optional<exit_status> wait_impl(const detail::deadline& until, std::error_code& ec) noexcept {
    ec.clear();
    if (status_) return status_;
    if (pid_ <= 0) {
      ec = std::make_error_code(std::errc::no_such_process);
      return std::nullopt;
    }
    for (;;) {
      // Block in waitid() only for an endless wait without a pidfd to poll.
      const int r = reap(!until.forever() || pidfd_ >= 0);
      if (r > 0) return status_;
      if (r < 0) {
        if (errno == EINTR) continue;
        ec = detail::last_error();
        return std::nullopt;
      }
      // Still running.
      if (until.passed()) return std::nullopt;
      if (pidfd_ >= 0) {
        pollfd p{pidfd_, POLLIN, 0};
        detail::poll_until(&p, 1, until);  // readable once it exits; timeout or error: look again
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));  // portable path: look again by pid
      }
    }
  }

  /// Reaps the child if it has ended (sets status_). 1: reaped; 0: still
  /// running (only with `nohang`); -1: error (errno).
  int reap(bool nohang) noexcept {
    siginfo_t info{};
    if (detail::wait_child(pid_, pidfd_, &info, WEXITED | (nohang ? WNOHANG : 0)) != 0) return -1;
    if (info.si_pid == 0) return 0;
    status_ = exit_status::from_siginfo(info);
    return 1;
  }

  void release() noexcept {
    if (pid_ > 0 && !status_) (void)reap(true);
    if (pidfd_ >= 0) ::close(pidfd_);
    pidfd_ = -1;
    pid_ = -1;
  }

  pid_t pid_ = -1;
  int pidfd_ = -1;
  std::optional<exit_status> status_;
  bool own_group_ = false;
  bool took_terminal_ = false;
};

}  // namespace v1
}  // namespace sigkit
