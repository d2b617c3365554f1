// sigkit/child_process.hpp - child processes that start with a clean signal state,
// are owned by pid file descriptor, and whose exit can be mirrored.
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
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
  /// signal. stdio is flushed first.
  [[noreturn]] void mirror() const {
    std::fflush(nullptr);
    if (exited()) std::exit(code());  // NOLINT(concurrency-mt-unsafe): exiting is the point
    const int signo = WTERMSIG(raw);
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

/// How to start a child.
struct spawn_options {
  bool new_process_group = false;  ///< setpgid(0, 0) in the child
  bool new_session = false;        ///< setsid() in the child
  /// SIG_DFL everywhere and an empty mask. False: the dispositions exec
  /// leaves (handlers become SIG_DFL, SIG_IGN stays) and the caller's mask
  /// without the signals live process_blocks blocked.
  bool reset_signals = true;
  std::optional<signal> parent_death_signal{};  ///< Linux PR_SET_PDEATHSIG
  /// With a new process group: if this process is in the foreground of its
  /// controlling terminal, make the child's group the foreground one (as a
  /// shell does for a job). The forwarder takes the terminal back.
  bool foreground = false;
};

namespace detail {

/// The candidates execvp() would try for `file`, resolved before fork() so
/// that the child only calls execve().
inline std::vector<std::string> exec_candidates(const std::string& file) {
  if (file.find('/') != std::string::npos) return {file};
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
/// Note: `sigkit::child` is also the SIGCHLD constant; `sigkit::child::spawn`
/// works, and `sigkit::child_process` names the class everywhere.
class child {
 public:
  /// Starts argv[0] (searched in PATH like execvp) with arguments argv. The
  /// child starts with every signal at SIG_DFL and an empty mask unless
  /// `options.reset_signals` is false (then with the caller's mask, less
  /// what process_blocks blocked). Returns once the program has been
  /// executed; an exec failure is thrown here as std::system_error naming
  /// the program (ENOENT, EACCES, ...). An empty argv is
  /// std::invalid_argument.
  static child spawn(std::span<const std::string> argv, spawn_options options = {}) {
    std::error_code ec;
    child c = spawn(argv, options, ec);
    if (ec) {
      if (ec == std::errc::invalid_argument && argv.empty())
        throw std::invalid_argument("sigkit::child::spawn: empty argv: nothing to run");
      throw std::system_error(ec,
                              "sigkit::child::spawn: cannot run '" + (argv.empty() ? std::string() : argv[0]) + "'");
    }
    return c;
  }
  static child spawn(std::initializer_list<std::string> argv, spawn_options options = {}) {
    const std::vector<std::string> v(argv);
    return spawn(std::span<const std::string>(v), options);
  }

  /// noexcept form (apart from allocation): failures go to `ec`.
  static child spawn(std::span<const std::string> argv, spawn_options options, std::error_code& ec) {
    ec.clear();
    if (argv.empty()) {
      ec = std::make_error_code(std::errc::invalid_argument);
      return child{};
    }
    if (options.parent_death_signal && !options.parent_death_signal->valid()) {
      ec = std::make_error_code(std::errc::invalid_argument);
      return child{};
    }
    // Everything the child needs is prepared here: after fork() it may only
    // make async-signal-safe calls.
    const std::vector<std::string> candidates = detail::exec_candidates(argv[0]);
    std::vector<char*> args;
    args.reserve(argv.size() + 1);
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));  // NOLINT: execve's signature
    args.push_back(nullptr);
    const bool own_group = options.new_process_group || options.new_session;
    const int tty = (own_group && options.foreground && !options.new_session) ? detail::foreground_tty() : -1;

    int report[2];
    if (::pipe2(report, O_CLOEXEC) != 0) {
      ec = detail::last_error();
      if (tty >= 0) ::close(tty);
      return child{};
    }
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
      run_in_child(candidates, args.data(), options, tty, parent, child_mask, report[1]);  // never returns
    }
    const int fork_errno = errno;
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    ::close(report[1]);
    if (pid < 0) {
      ::close(report[0]);
      if (tty >= 0) ::close(tty);
      ec = detail::errno_code(fork_errno);
      return child{};
    }
    // Also here, so the group exists whichever runs first (not for a new
    // session: a group leader cannot call setsid()).
    if (options.new_process_group && !options.new_session) ::setpgid(pid, pid);
    if (tty >= 0) {
      detail::give_terminal(tty, pid);
      ::close(tty);
    }
    child c;
    c.pid_ = pid;
    c.pidfd_ = detail::sys().pidfd_open(pid);  // the child cannot be reaped before we wait
    c.own_group_ = own_group;
    c.took_terminal_ = tty >= 0;
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
      ec = detail::errno_code(child_errno);
      return child{};
    }
    return c;
  }

  child() noexcept = default;
  child(child&& other) noexcept { *this = std::move(other); }
  child& operator=(child&& other) noexcept {
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
  child(const child&) = delete;
  child& operator=(const child&) = delete;
  ~child() { release(); }

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
      throw std::system_error(ec, "sigkit::child::send(" + std::string(s.name()) + ") to " + std::to_string(pid_));
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
      throw std::system_error(std::make_error_code(std::errc::no_such_process), "sigkit::child::send_group");
    const pid_t pgid = ::getpgid(pid_);
    if (pgid < 0 || ::kill(-pgid, s.number()) != 0)
      throw std::system_error(detail::last_error(), "sigkit::child::send_group(" + std::string(s.name()) + ")");
  }

  /// Waits for the child to end and reaps it (EINTR-safe). Returns the same
  /// status on later calls.
  exit_status wait() {
    std::error_code ec;
    auto st = wait_impl(detail::deadline::never(), ec);
    if (ec) throw std::system_error(ec, "sigkit::child::wait for " + std::to_string(pid_));
    return *st;
  }

  /// Waits at most `timeout`; nullopt if the child is still running. Zero
  /// or less looks once; a timeout too long for the clock
  /// (nanoseconds::max()) waits until the child ends.
  std::optional<exit_status> wait_for(std::chrono::nanoseconds timeout) {
    std::error_code ec;
    auto st = wait_impl(detail::deadline::after(timeout), ec);
    if (ec) throw std::system_error(ec, "sigkit::child::wait_for " + std::to_string(pid_));
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
                                        int report) noexcept {
    // Only async-signal-safe calls from here on.
    int err = 0;
    if (options.new_session) {
      if (::setsid() < 0) err = errno;
    } else if (options.new_process_group) {
      if (::setpgid(0, 0) < 0) err = errno;
    }
    if (err == 0 && tty >= 0) {
      ::tcsetpgrp(tty, ::getpid());  // every signal is blocked: no SIGTTOU stop
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
        dfl.sa_handler = SIG_DFL;
        sigemptyset(&dfl.sa_mask);
        for (int n = 1; n < NSIG; ++n)
          if (n != SIGKILL && n != SIGSTOP) ::sigaction(n, &dfl, nullptr);  // EINVAL for glibc's own: fine
        sigset_t none;
        sigemptyset(&none);
        // NOLINTNEXTLINE(concurrency-mt-unsafe): the forked child has one thread
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
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

/// The class sigkit::child under a name that the SIGCHLD constant
/// `sigkit::child` does not hide.
using child_process = class child;

}  // namespace v1
}  // namespace sigkit
