// Test support: the terminal scenarios every parallel job runner should get
// right, under an interactive bash on a pseudo-terminal (tests/pty.hpp).
// Used by tests/sigkit_parallel_test.cpp (sigkit-parallel must pass every
// one) and tests/helpers/parallel_compare.cpp (the same scenarios against
// `xargs -P` and GNU parallel: the table in docs/supervisor.md).
//
// A runner is a command line that reads shell commands from standard input,
// one per line, and runs them in parallel ("sigkit-parallel -j 60",
// "xargs -P 60 -I{} sh -c {}", "parallel -j 60"). Each scenario writes the
// commands to a file, types `RUNNER < FILE` at the shell, acts as a user at
// the keyboard would, and reports what it saw in one line. Every wait has a
// deadline; the few fixed pauses are part of a scenario (the time a job
// stays stopped, a user's pause between two ^C), never a wait for something
// to happen.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <sigkit/signal.hpp>

#include "pty.hpp"

namespace sigkit_test {
namespace parallel_scenarios {

using namespace std::chrono_literals;

/// A parallel job runner, as the scenarios run it.
struct runner {
  std::string name;     ///< as shown in a table
  std::string command;  ///< reads commands from stdin, at least 60 at once
  std::string comm;     ///< its process name in /proc (comm)
  /// The same with a 2 s per-command timeout; empty if it has none.
  std::string with_timeout;
  /// A line on the terminal that says the first ^C was taken (empty: none;
  /// the scenario then pauses 1 s between the two ^C, as a user would).
  std::string interrupt_notice;
};

/// A file of commands, removed with this object.
class command_file {
 public:
  explicit command_file(const std::vector<std::string>& lines) {
    char tmpl[] = "/tmp/sigkit-parallel-XXXXXX";
    const int fd = ::mkstemp(tmpl);
    if (fd >= 0) ::close(fd);
    path_ = tmpl;
    std::ofstream out(path_);
    for (const auto& l : lines) out << l << "\n";
  }
  ~command_file() { ::unlink(path_.c_str()); }
  command_file(const command_file&) = delete;
  command_file& operator=(const command_file&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline std::vector<std::string> repeat(const std::string& line, int n) { return std::vector<std::string>(n, line); }

/// Session members (but the shell) that are alive and not zombies.
inline std::vector<pid_t> alive(const pty_shell& sh) {
  std::vector<pid_t> out;
  for (pid_t p : sh.session_members()) {
    const char s = proc_state(p);
    if (s != 0 && s != 'Z') out.push_back(p);
  }
  return out;
}

/// The command line of `p`, arguments separated by spaces.
inline std::string cmdline(pid_t p) {
  std::string s;
  if (FILE* f = std::fopen(("/proc/" + std::to_string(p) + "/cmdline").c_str(), "re")) {
    char buf[512];
    s.assign(buf, std::fread(buf, 1, sizeof buf, f));  // a process that is gone reads as empty
    std::fclose(f);
  }
  std::replace(s.begin(), s.end(), '\0', ' ');
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

/// Session members running exactly `command` (e.g. "sleep 30": not the
/// "sleep 10101" processes GNU parallel starts to probe its limits).
inline std::vector<pid_t> alive_running(const pty_shell& sh, const std::string& command) {
  std::vector<pid_t> out;
  for (pid_t p : alive(sh))
    if (cmdline(p) == command) out.push_back(p);
  return out;
}

/// Waits until `n` processes run `command` in the shell's session.
inline std::vector<pid_t> wait_for_n(const pty_shell& sh, const std::string& command, int n,
                                     std::chrono::milliseconds limit = 20s) {
  std::vector<pid_t> found;
  wait_until([&] { return static_cast<int>((found = alive_running(sh, command)).size()) >= n; }, limit, 5ms);
  return found;
}

/// The direct children of `parent` in the shell's session.
inline std::vector<pid_t> children_of(const pty_shell& sh, pid_t parent) {
  std::vector<pid_t> out;
  for (pid_t p : sh.session_members())
    if (proc_ppid(p) == parent) out.push_back(p);
  return out;
}

/// The exit status the shell reports for the last job ("$?").
inline std::string last_status(pty_shell& sh) {
  sh.line("echo \"rc\"\"=$?.\"");
  if (!sh.expect("rc=")) return "?";
  const std::size_t from = sh.mark();
  if (!sh.expect(".")) return "?";
  std::string code = sh.since(from);
  code.pop_back();
  sh.expect_prompt();
  const int n = std::atoi(code.c_str());
  if (n > 128 && n < 128 + NSIG) code += " (" + std::string(sigkit::signal{n - 128}.name()) + ")";
  return code;
}

/// What is left once the prompt is back: processes still running (after up
/// to `grace` for them to go), and the runner's children it never reaped
/// (it died first: they came back to this process, a subreaper, as zombies;
/// init would have reaped them).
inline std::string leftovers(const pty_shell& sh, const std::vector<pid_t>& runner_children, int& running,
                             int& unreaped, std::chrono::milliseconds grace = 2s) {
  wait_until([&] { return alive(sh).empty(); }, grace, 10ms);
  const auto left = alive(sh);
  running = static_cast<int>(left.size());
  unreaped = static_cast<int>(std::count_if(runner_children.begin(), runner_children.end(), [](pid_t p) {
    return proc_state(p) == 'Z' && proc_ppid(p) == ::getpid();
  }));
  std::string out = std::to_string(running) + " left running";
  if (running > 0) {
    out += " (";
    for (std::size_t i = 0; i < left.size() && i < 3; ++i) out += (i > 0 ? ", " : "") + cmdline(left[i]);
    out += left.size() > 3 ? ", ...)" : ")";
  }
  return out + ", " + std::to_string(unreaped) + " not reaped by the runner";
}

/// ok: what sigkit-parallel promises held; detail: what was seen, in one line.
using result = scenario_result;

/// Children of this process (a subreaper: orphans come back here) but the
/// shell.
inline std::vector<pid_t> orphans(const pty_shell& sh) {
  std::vector<pid_t> out;
  DIR* d = ::opendir("/proc");
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    const auto p = static_cast<pid_t>(std::atoi(e->d_name));
    if (p > 0 && p != sh.pid() && proc_ppid(p) == ::getpid()) out.push_back(p);
  }
  ::closedir(d);
  return out;
}

/// Kills whatever the scenario left, in the shell's session or orphaned to
/// this process, and gives the prompt back (between rows).
inline void clean_up(pty_shell& sh) {
  for (int i = 0; i < 3; ++i) {
    for (pid_t p : alive(sh)) ::kill(p, SIGKILL);
    for (pid_t p : orphans(sh)) ::kill(p, SIGKILL);
  }
  sh.sync();
}

/// ^C with `n` commands running: how long until the prompt, what is left
/// running, what was never reaped, and the exit status.
inline result ctrl_c_many(const runner& r, int n = 50) {
  pty_shell sh;
  if (!sh.ok() || !sh.expect_prompt()) return {false, "no shell prompt"};
  command_file f(repeat("sleep 30", n));
  sh.line(r.command + " < " + f.path());
  const auto sleeps = wait_for_n(sh, "sleep 30", n);
  if (static_cast<int>(sleeps.size()) < n)
    return {false, "only " + std::to_string(sleeps.size()) + " of " + std::to_string(n) + " commands started"};
  const pid_t runner_pid = sh.find(r.comm);
  const auto kids = runner_pid > 0 ? children_of(sh, runner_pid) : std::vector<pid_t>{};
  const auto typed = std::chrono::steady_clock::now();
  sh.type("\x03");
  if (!sh.expect_prompt(15s)) {
    clean_up(sh);
    return {false, "no prompt within 15 s of ^C"};
  }
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - typed);
  int running = 0, unreaped = 0;
  std::string seen = leftovers(sh, kids, running, unreaped);
  const std::string rc = last_status(sh);
  seen += ", exit status " + rc + ", prompt after " + std::to_string(took.count()) + " ms";
  clean_up(sh);
  return {running == 0 && unreaped == 0 && rc == "130 (SIGINT)", seen};
}

/// ^C, then ^C again, with commands that ignore SIGINT.
inline result ctrl_c_twice(const runner& r, int n = 5) {
  pty_shell sh;
  if (!sh.ok() || !sh.expect_prompt()) return {false, "no shell prompt"};
  command_file f(repeat("trap '' INT; sleep 30", n));
  sh.line(r.command + " < " + f.path());
  const auto sleeps = wait_for_n(sh, "sleep 30", n);
  if (static_cast<int>(sleeps.size()) < n) return {false, "the commands did not start"};
  const pid_t runner_pid = sh.find(r.comm);
  const auto kids = runner_pid > 0 ? children_of(sh, runner_pid) : std::vector<pid_t>{};
  sh.type("\x03");
  if (!r.interrupt_notice.empty()) {
    if (!sh.expect(r.interrupt_notice)) {
      clean_up(sh);
      return {false, "no notice after the first ^C"};
    }
  } else {
    std::this_thread::sleep_for(1s);  // a user's pause between the two ^C
  }
  const int after_first = static_cast<int>(alive_running(sh, "sleep 30").size());
  std::string seen = "after one ^C " + std::to_string(after_first) + " of " + std::to_string(n) + " running";
  const bool prompt_early = sh.expect_prompt(300ms);
  if (!prompt_early) {
    sh.type("\x03");
    if (!sh.expect_prompt(10s)) {
      clean_up(sh);
      return {false, seen + "; no prompt within 10 s of the second ^C"};
    }
  } else {
    seen += ", prompt back after one ^C";
  }
  int running = 0, unreaped = 0;
  seen += "; then " + leftovers(sh, kids, running, unreaped);
  const std::string rc = last_status(sh);
  seen += ", exit status " + rc;
  clean_up(sh);
  return {after_first == n && !prompt_early && running == 0 && unreaped == 0 && rc == "130 (SIGINT)", seen};
}

/// ^Z: the prompt comes back with every command stopped; `fg` resumes all.
inline result ctrl_z_and_fg(const runner& r, int n = 10) {
  pty_shell sh;
  if (!sh.ok() || !sh.expect_prompt()) return {false, "no shell prompt"};
  command_file f(repeat("sleep 30", n));
  sh.line(r.command + " < " + f.path());
  const auto sleeps = wait_for_n(sh, "sleep 30", n);
  if (static_cast<int>(sleeps.size()) < n) return {false, "the commands did not start"};
  auto count_stopped = [&] {
    return static_cast<int>(std::count_if(sleeps.begin(), sleeps.end(), [](pid_t p) { return proc_state(p) == 'T'; }));
  };
  sh.type("\x1a");
  if (!sh.expect("Stopped", 5s) || !sh.expect_prompt()) {
    const int stopped = count_stopped();
    clean_up(sh);
    return {false, "no prompt after ^Z (the shell waits); " + std::to_string(stopped) + " of " + std::to_string(n) +
                       " commands stopped"};
  }
  wait_until([&] { return count_stopped() == n; }, 3s, 5ms);
  const int stopped = count_stopped();
  std::string seen = "prompt back, " + std::to_string(stopped) + " of " + std::to_string(n) + " stopped";
  sh.line("fg");
  wait_until([&] { return count_stopped() == 0; }, 3s, 5ms);
  const int still = count_stopped();
  seen += "; fg resumed " + std::to_string(n - still) + " of " + std::to_string(n);
  sh.type("\x03");
  sh.expect_prompt(10s);
  clean_up(sh);
  return {stopped == n && still == 0, seen};
}

/// A 2 s timeout, with 5 s spent stopped (^Z, fg) right after the start of
/// a command that runs for about 1.2 s in all: it must not time out. A
/// timeout on the wall clock has expired by the time of `fg` and fires
/// during the 1.2 s the command still runs.
inline result timeout_paused_while_stopped(const runner& r) {
  if (r.with_timeout.empty()) return {false, "n/a: no timeout option"};
  pty_shell sh;
  if (!sh.ok() || !sh.expect_prompt()) return {false, "no shell prompt"};
  command_file f({"echo started; i=0; while [ $i -lt 12 ]; do sleep 0.1; i=$((i + 1)); done; echo finished"});
  sh.line(r.with_timeout + " < " + f.path());
  if (!sh.expect("started\r\n", 10s)) {
    clean_up(sh);
    return {false, "the command did not start"};
  }
  sh.type("\x1a");
  if (!sh.expect("Stopped", 5s) || !sh.expect_prompt()) {
    clean_up(sh);
    return {false, "no prompt after ^Z"};
  }
  std::this_thread::sleep_for(5s);  // the job stays stopped for 5 s
  sh.line("fg");
  const bool finished = sh.expect("finished\r\n", 10s);
  if (!sh.expect_prompt(10s)) {
    clean_up(sh);
    return {false, "no prompt after fg"};
  }
  const std::string rc = last_status(sh);
  std::string seen = finished ? "finished" : "did not finish (timed out)";
  seen += ", exit status " + rc;
  clean_up(sh);
  return {finished && rc == "0", seen};
}

/// `RUNNER < FILE &` leaves the terminal to the shell.
inline result background_keeps_terminal(const runner& r, int n = 3) {
  pty_shell sh;
  if (!sh.ok() || !sh.expect_prompt()) return {false, "no shell prompt"};
  command_file f(repeat("sleep 30", n));
  sh.line(r.command + " < " + f.path() + " &");
  if (!sh.expect_prompt()) return {false, "no prompt after starting the job in the background"};
  if (static_cast<int>(wait_for_n(sh, "sleep 30", n).size()) < n) {
    clean_up(sh);
    return {false, "the commands did not start"};
  }
  if (!sh.sync()) {
    clean_up(sh);
    return {false, "the shell lost the terminal (no answer)"};
  }
  const pid_t fg = sh.foreground();
  sh.line("kill %1");
  sh.sync();
  clean_up(sh);
  if (fg != sh.pid())
    return {false, "the terminal's foreground group became " + std::to_string(fg) + ", not the shell's"};
  return {true, "the shell kept the terminal"};
}

/// ^C aborts `for i in 1 2 3; do RUNNER < FILE; done`.
inline result ctrl_c_aborts_loop(const runner& r) {
  pty_shell sh;
  if (!sh.ok() || !sh.expect_prompt()) return {false, "no shell prompt"};
  command_file f(repeat("sleep 30", 2));
  sh.line("for i in 1 2 3; do echo \"it\"\"er-$i\"; " + r.command + " < " + f.path() + "; done");
  if (!sh.expect("iter-1\r\n")) return {false, "the loop did not start"};
  const std::size_t from = sh.mark();
  if (wait_for_n(sh, "sleep 30", 2).size() < 2) {
    clean_up(sh);
    return {false, "the commands did not start"};
  }
  sh.type("\x03");
  const bool prompt = sh.expect_prompt(10s);
  const bool went_on = sh.output().find("iter-2", from) != std::string::npos;
  if (!prompt || went_on) {
    sh.type("\x03");
    sh.type("\x03");
    clean_up(sh);
    return {false, went_on ? "the loop went on after ^C" : "no prompt after ^C"};
  }
  clean_up(sh);
  return {true, "the loop stopped"};
}

}  // namespace parallel_scenarios
}  // namespace sigkit_test
