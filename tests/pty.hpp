// Test support: an interactive bash on a pseudo-terminal, and the terminal
// scenarios every signal-forwarding wrapper (sigkit-run, tini, dumb-init)
// should get right. Used by tests/terminal_test.cpp (sigkit-run must pass
// all of them) and tests/helpers/shim_compare.cpp (prints the comparison
// table in docs/sigkit-run.md).
//
// The shell runs in a new session with the pty as its controlling terminal
// and job control on, exactly as in a terminal window: ^C and ^Z written to
// the master are turned into SIGINT/SIGTSTP for the foreground group by the
// kernel's line discipline, with si_code SI_KERNEL.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "process.hpp"

namespace sigkit_test {

/// An interactive `bash -i` on a pty. Every wait has a deadline; the
/// destructor kills everything left in the shell's session and reaps it.
/// The caller should be a child subreaper (prctl) so that it can also reap
/// what the shell's jobs left behind; scenario() does that.
class pty_shell {
 public:
  static constexpr const char* prompt = "PTYPROMPT$ ";

  pty_shell() {
    winsize ws{};
    ws.ws_row = 40;
    ws.ws_col = 200;
    pid_ = ::forkpty(&master_, nullptr, nullptr, &ws);
    if (pid_ < 0) return;
    if (pid_ == 0) {
      reset_signal_state();
      ::setenv("PS1", prompt, 1);
      ::setenv("PS2", "", 1);
      ::setenv("TERM", "dumb", 1);
      ::setenv("HISTFILE", "/dev/null", 1);
      ::unsetenv("PROMPT_COMMAND");
      ::execlp("bash", "bash", "--norc", "--noprofile", "--noediting", "-i", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::fcntl(master_, F_SETFD, FD_CLOEXEC);
  }
  pty_shell(const pty_shell&) = delete;
  pty_shell& operator=(const pty_shell&) = delete;
  ~pty_shell() {
    if (pid_ > 0) {
      kill_session();
      int st;
      ::waitpid(pid_, &st, 0);
    }
    if (master_ >= 0) ::close(master_);
  }

  bool ok() const { return pid_ > 0 && master_ >= 0; }
  pid_t pid() const { return pid_; }
  int master() const { return master_; }

  /// Writes raw bytes to the terminal, as typed ("\x03" is ^C, "\x1a" ^Z).
  void type(const std::string& s) const { (void)!::write(master_, s.data(), s.size()); }
  /// Types a command line.
  void line(const std::string& s) const { type(s + "\n"); }

  /// Waits until the output after the read mark contains `what`; moves the
  /// mark past it. False on timeout.
  bool expect(const std::string& what, std::chrono::milliseconds limit = std::chrono::milliseconds(5000)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      const auto at = out_.find(what, mark_);
      if (at != std::string::npos) {
        mark_ = at + what.size();
        return true;
      }
      if (!read_some(deadline)) return false;
    }
  }

  /// Waits for the next prompt.
  bool expect_prompt(std::chrono::milliseconds limit = std::chrono::milliseconds(5000)) {
    return expect(prompt, limit);
  }

  /// Runs `cmd` and waits for its prompt; then types a marker echo and waits
  /// for its output, so that everything `cmd` printed has been read.
  bool sync(std::chrono::milliseconds limit = std::chrono::milliseconds(5000)) {
    const std::string token = "SYNC" + std::to_string(++syncs_);
    line("echo " + token.substr(0, 2) + "''" + token.substr(2));  // the echoed input does not match
    return expect(token + "\r\n", limit) && expect_prompt(limit);
  }

  /// Everything read so far.
  const std::string& output() const { return out_; }
  /// The last `n` characters of the output, control characters escaped.
  std::string tail(std::size_t n) const {
    std::string out;
    for (char c : out_.substr(out_.size() > n ? out_.size() - n : 0)) {
      if (c == '\r')
        out += "\\r";
      else if (c == '\n')
        out += "\\n";
      else if (static_cast<unsigned char>(c) < 32)
        out += "^" + std::string(1, static_cast<char>(c + 64));
      else
        out += c;
    }
    return out;
  }
  /// Output from `from` up to the read mark.
  std::string since(std::size_t from) const { return out_.substr(from, mark_ > from ? mark_ - from : 0); }
  std::size_t mark() const { return mark_; }

  /// The terminal's foreground process group.
  pid_t foreground() const { return ::tcgetpgrp(master_); }

  /// Number of occurrences of `what` in the output between `from` and the mark.
  int count(const std::string& what, std::size_t from) const {
    int n = 0;
    for (auto at = out_.find(what, from); at != std::string::npos && at + what.size() <= mark_;
         at = out_.find(what, at + 1))
      ++n;
    return n;
  }

  /// Pids of the shell's descendants and of every other process in its
  /// session (a wrapper may move its command to a session of its own).
  std::vector<pid_t> session_members() const {
    std::vector<std::pair<pid_t, pid_t>> all;  // pid, ppid
    std::error_code ec;
    for (const pid_t p : sigkit::detail::list_ids("/proc", "/proc", ec))
      if (const auto status = sigkit::inspect_status(p, ec)) all.emplace_back(p, status->ppid);
    std::vector<pid_t> out;
    for (bool grew = true; grew;) {
      grew = false;
      for (const auto& [p, pp] : all) {
        if (p == pid_ || std::find(out.begin(), out.end(), p) != out.end()) continue;
        const bool ours = ::getsid(p) == pid_ || pp == pid_ || std::find(out.begin(), out.end(), pp) != out.end();
        if (ours) {
          out.push_back(p);
          grew = true;
        }
      }
    }
    return out;
  }

  /// The first session member whose command name (comm) is `name`, or -1.
  pid_t find(const std::string& name) const {
    for (pid_t p : session_members())
      if (comm(p) == name) return p;
    return -1;
  }

  static std::string comm(pid_t p) {
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%d/comm", static_cast<int>(p));
    FILE* f = std::fopen(path, "re");
    if (f == nullptr) return {};
    char buf[64] = {};
    if (std::fgets(buf, sizeof buf, f) == nullptr) buf[0] = 0;
    std::fclose(f);
    std::string s(buf);
    if (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
  }

 private:
  bool read_some(std::chrono::steady_clock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) return false;
    pollfd p{master_, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(left));
    if (r < 0) return errno == EINTR;
    if (r == 0) return false;
    char buf[4096];
    const ssize_t n = ::read(master_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) return true;
    if (n <= 0) return false;  // EIO: the shell and everything on the pty are gone
    out_.append(buf, static_cast<std::size_t>(n));
    return true;
  }

  void kill_session() {
    for (int round = 0; round < 3; ++round) {
      for (pid_t p : session_members()) {
        ::kill(p, SIGKILL);
      }
    }
    ::kill(pid_, SIGKILL);
  }

  pid_t pid_ = -1;
  int master_ = -1;
  std::string out_;
  std::size_t mark_ = 0;
  int syncs_ = 0;
};

/// What one scenario found.
struct scenario_result {
  bool ok = false;
  std::string detail;  // what was seen, in one line
};

/// Waits (bounded) until a session member named `name` exists.
inline pid_t pty_wait_for(const pty_shell& sh, const std::string& name,
                          std::chrono::milliseconds limit = std::chrono::milliseconds(5000)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    const pid_t p = sh.find(name);
    if (p > 0) return p;
    ::usleep(2000);
  }
  return -1;
}

/// The terminal scenarios. `wrap` is the wrapper command with its options,
/// e.g. "/path/sigkit-run --" or "dumb-init -c"; `recorder` the path of
/// tests/helpers/recorder (prints "ready", then "sig NAME ..." per signal;
/// reads commands from the terminal). `sleeper` is a program that sleeps
/// with default dispositions (it must show up as comm "sleep").
namespace scenarios {

/// ^C at the terminal reaches the wrapped command exactly once, in each of
/// `rounds` rounds. (A duplicate sent while the first SIGINT is still
/// pending merges with it in the kernel, so one round may miss a wrapper
/// that delivers twice; several rounds rarely do.)
inline scenario_result ctrl_c_once(const std::string& wrap, const std::string& recorder, int rounds = 5) {
  pty_shell sh;
  if (!sh.ok() || !sh.expect_prompt()) return {false, "no shell prompt"};
  sh.line(wrap + " " + recorder);
  if (!sh.expect("ready ")) return {false, "the recorder did not start"};
  if (!sh.expect("\r\n")) return {false, "no ready line"};
  int twice = 0;
  for (int round = 0; round < rounds; ++round) {
    const std::size_t from = sh.mark();
    sh.type("\x03");
    if (!sh.expect("sig SIGINT ")) {
      const pid_t rec = sh.find(recorder.substr(recorder.rfind('/') + 1).substr(0, 15));
      return {false, "^C never reached the command (round " + std::to_string(round) + "); the command " +
                         (rec > 0 ? signal_state(rec) + thread_states(rec) : std::string("not found")) +
                         "; the terminal's last output: " + sh.tail(400)};
    }
    sh.line("ping");
    if (!sh.expect("pong")) return {false, "the command stopped answering after ^C"};
    if (sh.count("sig SIGINT ", from) != 1) ++twice;
  }
  sh.line("exit 0");
  if (!sh.expect_prompt()) return {false, "no prompt after the command exited"};
  if (twice != 0)
    return {false, "the command saw one ^C more than once in " + std::to_string(twice) + " of " +
                       std::to_string(rounds) + " rounds"};
  return {true, "one SIGINT per ^C"};
}

/// ^Z stops the job and returns the prompt; `fg` resumes it; ^C then ends it.
inline scenario_result ctrl_z_and_fg(const std::string& wrap, const std::string& sleeper) {
  pty_shell sh;
  if (!sh.ok() || !sh.expect_prompt()) return {false, "no shell prompt"};
  sh.line(wrap + " " + sleeper + " 30");
  const pid_t sleep_pid = pty_wait_for(sh, "sleep");
  if (sleep_pid < 0) return {false, "the command did not start"};
  sh.type("\x1a");
  if (!sh.expect("Stopped", std::chrono::milliseconds(3000)) || !sh.expect_prompt())
    return {false, "^Z did not return the prompt (the shell hangs)"};
  if (!wait_state(sleep_pid, 'T', false, std::chrono::milliseconds(2000)))
    return {false, "prompt returned but the command is not stopped"};
  sh.line("fg");
  if (!wait_state(sleep_pid, 'T', true, std::chrono::milliseconds(3000)))
    return {false, "fg did not resume the command"};
  sh.type("\x03");
  if (!sh.expect_prompt()) return {false, "^C after fg did not end the job"};
  if (!sh.sync()) return {false, "the shell did not answer after the job"};
  return {true, "stopped, prompt back, fg resumed"};
}

/// `wrap cmd &` in the background leaves the terminal to the shell.
inline scenario_result background_keeps_terminal(const std::string& wrap, const std::string& sleeper) {
  pty_shell sh;
  if (!sh.ok() || !sh.expect_prompt()) return {false, "no shell prompt"};
  sh.line(wrap + " " + sleeper + " 30 &");
  if (!sh.expect_prompt()) return {false, "no prompt after starting the job in the background"};
  const pid_t sleep_pid = pty_wait_for(sh, "sleep");
  if (sleep_pid < 0) return {false, "the command did not start"};
  // Give a wrapper that would steal the terminal the time to do it: wait
  // until the command has started, then ask the shell to do something.
  if (!sh.sync()) return {false, "the shell lost the terminal (no answer)"};
  const pid_t fg = sh.foreground();
  if (fg != sh.pid())
    return {false, fg > 0 ? "the job took the terminal (foreground group " + std::to_string(fg) + ")"
                          : "the shell lost the terminal (foreground group " + std::to_string(fg) + ")"};
  sh.line("kill %1");
  sh.sync();
  return {true, "the shell kept the terminal"};
}

/// ^C aborts a shell loop around the wrapper (the wrapper dies of SIGINT,
/// as the command did, so bash stops the loop).
inline scenario_result ctrl_c_aborts_loop(const std::string& wrap, const std::string& sleeper) {
  pty_shell sh;
  if (!sh.ok() || !sh.expect_prompt()) return {false, "no shell prompt"};
  sh.line("for i in 1 2 3; do echo \"it\"\"er-$i\"; " + wrap + " " + sleeper + " 30; done");
  if (!sh.expect("iter-1\r\n")) return {false, "the loop did not start"};
  const std::size_t from = sh.mark();
  if (pty_wait_for(sh, "sleep") < 0) return {false, "the command did not start"};
  sh.type("\x03");
  if (!sh.expect_prompt(std::chrono::milliseconds(8000))) {
    const bool went_on = sh.output().find("iter-2", from) != std::string::npos;
    sh.type("\x03");
    sh.type("\x03");
    return {false, went_on ? "the loop went on after ^C" : "no prompt after ^C"};
  }
  if (!sh.sync()) return {false, "the shell did not answer"};
  if (sh.count("iter-2", from) != 0) {
    sh.type("\x03");
    sh.type("\x03");
    return {false, "the loop went on after ^C"};
  }
  return {true, "loop aborted"};
}

/// In its own process group (wrapper option), a foreground command gets the
/// terminal and the shell gets it back when the command exits.
inline scenario_result own_group_gets_terminal(const std::string& wrap, const std::string& recorder) {
  pty_shell sh;
  if (!sh.ok() || !sh.expect_prompt()) return {false, "no shell prompt"};
  sh.line(wrap + " " + recorder);
  if (!sh.expect("ready ")) return {false, "the recorder did not start"};
  if (!sh.expect("\r\n")) return {false, "no ready line"};
  const pid_t rec = sh.find("recorder");
  if (rec < 0) return {false, "no recorder process"};
  const pid_t fg = sh.foreground();
  if (fg != ::getpgid(rec)) return {false, "the command's group does not have the terminal"};
  const std::size_t from = sh.mark();
  sh.type("\x03");
  if (!sh.expect("sig SIGINT ")) return {false, "^C never reached the command"};
  sh.line("ping");
  if (!sh.expect("pong")) return {false, "the command stopped answering after ^C"};
  const int n = sh.count("sig SIGINT ", from);
  sh.line("exit 0");
  if (!sh.expect_prompt()) return {false, "no prompt after the command exited"};
  if (!sh.sync()) return {false, "the shell did not get the terminal back"};
  if (sh.foreground() != sh.pid()) return {false, "the terminal was not given back to the shell"};
  if (n != 1) return {false, "the command saw ^C " + std::to_string(n) + " times"};
  return {true, "terminal given and taken back, one SIGINT"};
}

}  // namespace scenarios

}  // namespace sigkit_test
