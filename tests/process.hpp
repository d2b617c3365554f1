// Test support: run a program with its stdin and stdout on pipes, read its
// output line by line with timeouts, never leave it behind.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <sigkit/inspect.hpp>

#include "support.hpp"

namespace sigkit_test {

// In a forked child before exec: every signal at SIG_DFL, an empty mask
// (async-signal-safe calls only).
inline void reset_signal_state() noexcept {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int n = 1; n < NSIG; ++n) ::sigaction(n, &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

class process {
 public:
  /// Starts argv with stdin/stdout piped (stderr inherited); the child gets
  /// default dispositions and an empty mask.
  explicit process(const std::vector<std::string>& argv) {
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      reset_signal_state();
      ::execvp(args[0], args.data());
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    in_ = in[1];
    out_ = out[0];
  }
  process(const process&) = delete;
  process& operator=(const process&) = delete;
  ~process() {
    close_stdin();
    if (out_ >= 0) ::close(out_);
    if (pid_ > 0 && !status_) {
      ::kill(pid_, SIGKILL);
      ::kill(pid_, SIGCONT);
      int st;
      ::waitpid(pid_, &st, 0);
    }
  }

  pid_t pid() const { return pid_; }
  void write(const std::string& s) const { (void)!::write(in_, s.data(), s.size()); }
  void close_stdin() {
    if (in_ >= 0) ::close(in_);
    in_ = -1;
  }

  /// The next line that starts with `prefix` (earlier lines are kept in
  /// lines()); nullopt on timeout or EOF.
  std::optional<std::string> line_starting(const std::string& prefix, std::chrono::milliseconds limit = 5000ms) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      while (next_ < lines_.size()) {
        const std::string& l = lines_[next_++];
        if (l.rfind(prefix, 0) == 0) return l;
      }
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::read(out_, buf, sizeof buf);
      if (n <= 0) {
        if (n < 0 && errno == EINTR) continue;
        eof_ = true;
        while (next_ < lines_.size()) {
          const std::string& l = lines_[next_++];
          if (l.rfind(prefix, 0) == 0) return l;
        }
        return std::nullopt;
      }
      partial_.append(buf, static_cast<std::size_t>(n));
      std::size_t nl;
      while ((nl = partial_.find('\n')) != std::string::npos) {
        lines_.push_back(partial_.substr(0, nl));
        partial_.erase(0, nl + 1);
      }
    }
  }

  /// Every line read so far.
  const std::vector<std::string>& lines() const { return lines_; }

  /// Waits for the process to end (killing it after `limit`).
  int wait(std::chrono::milliseconds limit = 10000ms) {
    if (!status_) status_ = wait_pid_for(pid_, limit);
    return *status_;
  }

 private:
  pid_t pid_ = -1;
  int in_ = -1, out_ = -1;
  std::vector<std::string> lines_;
  std::size_t next_ = 0;
  std::string partial_;
  bool eof_ = false;
  std::optional<int> status_;
};

/// State letter of a process or thread ('R', 'S', 'T', 'Z', ...; see
/// sigkit::proc_status::state), 0 if it is gone.
inline char proc_state(pid_t pid) {
  std::error_code ec;
  const auto status = sigkit::inspect_status(pid, ec);
  return status ? status->state : 0;
}

/// Sends `signo` to `pid` from a forked process of its own (a forwarder or
/// supervisor does not forward what its own process sends), and waits for
/// that sender; true if its kill() succeeded. The wait is retried on EINTR:
/// the signal may land here while this process waits, and under ASan (whose
/// SIGSEGV and SIGBUS handlers lack SA_RESTART, a choice sigkit keeps) that
/// interrupts waitpid().
inline bool send_from_another_process(pid_t pid, int signo) {
  const pid_t sender = ::fork();
  if (sender == 0) ::_exit(::kill(pid, signo) == 0 ? 0 : 1);
  if (sender < 0) return false;
  int st = 0;
  pid_t r = -1;
  while ((r = ::waitpid(sender, &st, 0)) < 0 && errno == EINTR) {
  }
  return r == sender && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/// send_from_another_process() from a sender whose exit sends this process
/// no SIGCHLD (a raw clone() with no exit signal, waited for with
/// __WCLONE): for a test in which a SIGCHLD from the sender would wake the
/// code under test and hide what it should have noticed by itself. The
/// sender makes raw system calls only (a sanitizer's interceptors are not
/// set up in a process the C library did not fork).
inline bool send_from_another_process_quietly(pid_t pid, int signo) {
  const long sender = ::syscall(SYS_clone, 0L, 0L, 0L, 0L, 0L);  // fork() semantics, exit signal 0
  if (sender == 0) ::syscall(SYS_exit_group, ::syscall(SYS_kill, pid, signo) == 0 ? 0 : 1);
  if (sender < 0) return false;
  int st = 0;
  pid_t r = -1;
  while ((r = ::waitpid(static_cast<pid_t>(sender), &st, __WCLONE)) < 0 && errno == EINTR) {
  }
  return r == sender && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/// What each thread of `pid` is doing now, from /proc/PID/task/TID/syscall,
/// by thread id: its fields ("running", or the system call's number and
/// arguments in hexadecimal, then the stack and instruction pointers).
/// Empty if /proc cannot tell.
inline std::vector<std::pair<pid_t, std::vector<std::string>>> thread_syscall_fields(pid_t pid) {
  std::vector<std::pair<pid_t, std::vector<std::string>>> out;
  std::error_code ec;
  for (const auto& t : sigkit::inspect_threads(pid, ec)) {
    const std::string path = "/proc/" + std::to_string(pid) + "/task/" + std::to_string(t.tid) + "/syscall";
    std::FILE* f = std::fopen(path.c_str(), "re");
    if (f == nullptr) continue;
    std::vector<std::string> fields;
    char word[64] = {};
    while (std::fscanf(f, "%63s", word) == 1) fields.emplace_back(word);
    std::fclose(f);
    if (!fields.empty()) out.emplace_back(t.tid, std::move(fields));
  }
  return out;
}

/// The system call each thread of `pid` is in now (-1 for a thread running
/// in user space), by thread id; empty if /proc cannot tell.
inline std::vector<std::pair<pid_t, long>> thread_syscalls(pid_t pid) {
  std::vector<std::pair<pid_t, long>> out;
  for (const auto& [tid, fields] : thread_syscall_fields(pid))
    out.emplace_back(tid, fields[0] == "running" ? -1 : std::strtol(fields[0].c_str(), nullptr, 10));
  return out;
}

/// True if a thread of `pid` sleeps in sigtimedwait() with no timeout
/// (sigwaitinfo()): its third argument, the timeout, is null.
inline bool some_thread_in_sigwaitinfo(pid_t pid) {
  for (const auto& [tid, fields] : thread_syscall_fields(pid))
    if (fields.size() > 3 && std::strtol(fields[0].c_str(), nullptr, 10) == SYS_rt_sigtimedwait &&
        fields[0] != "running" && fields[3] == "0x0")
      return true;
  return false;
}

/// True for the system calls a forwarder sleeps in: sigtimedwait()
/// (dequeue_directly), poll() or ppoll() (its stream's descriptor).
inline bool is_signal_wait(long nr) noexcept { return nr == SYS_rt_sigtimedwait || nr == SYS_poll || nr == SYS_ppoll; }

/// True if some thread of `pid` is in system call `nr` now.
inline bool some_thread_in(pid_t pid, long nr) {
  for (const auto& [tid, call] : thread_syscalls(pid))
    if (call == nr) return true;
  return false;
}

/// Parent of a process (sigkit::proc_status::ppid), 0 if it is gone.
inline pid_t proc_ppid(pid_t pid) {
  std::error_code ec;
  const auto status = sigkit::inspect_status(pid, ec);
  return status ? status->ppid : 0;
}

/// Waits until `pid` (a child of this process) has exited, without reaping
/// it; true if it did within `limit`.
inline bool wait_gone_or(pid_t pid, std::chrono::milliseconds limit) {
  return wait_until(
      [pid] {
        siginfo_t info{};
        return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid;
      },
      limit, 500us);
}

/// "tid:state:wchan" of every thread of `pid`, for a hang report.
inline std::string thread_states(pid_t pid) {
  std::string out;
  std::error_code ec;
  for (const auto& t : sigkit::inspect_threads(pid, ec)) {
    std::string wchan;
    const std::string path = "/proc/" + std::to_string(pid) + "/task/" + std::to_string(t.tid) + "/wchan";
    if (FILE* f = std::fopen(path.c_str(), "re")) {  // where it sleeps in the kernel: not a status field
      char buf[128] = {};
      if (std::fgets(buf, sizeof buf, f) != nullptr) wchan = buf;
      std::fclose(f);
    }
    const char st = proc_state(t.tid);
    out += std::to_string(t.tid) + ":" + (st != 0 ? std::string(1, st) : "?") + ":" + wchan + " ";
  }
  return out;
}

/// What sigkit::inspect() reads of `pid` (its /proc status) and of each of
/// its threads, in one line, for a failure report.
inline std::string signal_state(pid_t pid) {
  std::error_code ec;
  const auto st = sigkit::inspect_status(pid, ec);
  if (!st) return std::to_string(pid) + ": " + ec.message() + " ";
  const sigkit::process_signals sig = st->signals();
  std::string out = std::to_string(pid) + " (" + st->name + "): pending " + sig.pending.to_string() + " blocked " +
                    sig.blocked.to_string() + " ignored " + sig.ignored.to_string() + " caught " +
                    sig.caught.to_string() + " ";
  for (const auto& t : sigkit::inspect_threads(pid, ec))
    out += "[thread " + std::to_string(t.tid) + ": pending " + t.pending.to_string() + " blocked " +
           t.blocked.to_string() + "] ";
  return out;
}

/// Every thread's backtrace of `pid` from gdb, if gdb is installed (for a
/// hang report); empty otherwise.
inline std::string backtraces(pid_t pid) {
  const std::string cmd = "command -v gdb >/dev/null && gdb -p " + std::to_string(pid) +
                          " -batch -ex 'thread apply all bt' 2>/dev/null | grep '^#'";
  std::string out;
  if (FILE* f = ::popen(cmd.c_str(), "r")) {
    char buf[512];
    while (std::fgets(buf, sizeof buf, f) != nullptr && out.size() < 8000) out += buf;
    ::pclose(f);
  }
  return out.empty() ? out : "\n" + out;
}

/// Waits until `pid`'s state is (or, with `negate`, is no longer) `state`.
inline bool wait_state(pid_t pid, char state, bool negate = false, std::chrono::milliseconds limit = 5000ms) {
  return wait_until([&] { return (proc_state(pid) == state) != negate; }, limit);
}

}  // namespace sigkit_test
