// Terminal behaviour of sigkit-run (forward.hpp) under a real interactive
// shell on a pseudo-terminal: ^C delivered once, ^Z returns the prompt and
// fg resumes, a background job never takes the terminal, ^C aborts a shell
// loop, and an own-group command gets the terminal and gives it back.
// The same scenarios run against tini and dumb-init in
// tests/helpers/shim_compare.cpp (docs/sigkit-run.md).
#include <sys/prctl.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "pty.hpp"
#include "support.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using sigkit_test::in_child;
namespace sc = sigkit_test::scenarios;

namespace {

std::string tool() { return sigkit_test::helper_path("sigkit_run"); }
std::string recorder() { return sigkit_test::helper_path("recorder"); }
const std::string sleeper = "sleep";

/// Runs a scenario as a child subreaper, so that whatever the shell's jobs
/// leave behind is ours to reap, and reaps it all.
void run_scenario(const std::function<sigkit_test::scenario_result()>& body) {
  sigkit_test::in_subreaper_child(
      [&] {
        const auto r = body();
        CHECK_MESSAGE(r.ok, r.detail);
      },
      40s);
}

}  // namespace

TEST_CASE("a ^C typed at the terminal reaches the command exactly once") {
  run_scenario([] { return sc::ctrl_c_once(tool() + " --", recorder()); });
}

TEST_CASE("^Z stops the command and returns the prompt, and fg resumes it") {
  run_scenario([] { return sc::ctrl_z_and_fg(tool() + " --", sleeper); });
}

TEST_CASE("^Z and fg work in own-group mode too") {
  run_scenario([] { return sc::ctrl_z_and_fg(tool() + " --group --", sleeper); });
}

TEST_CASE("a background sigkit-run never takes the terminal, in either mode") {
  run_scenario([] { return sc::background_keeps_terminal(tool() + " --", sleeper); });
  run_scenario([] { return sc::background_keeps_terminal(tool() + " --group --", sleeper); });
}

TEST_CASE("^C aborts a shell loop around sigkit-run") {
  run_scenario([] { return sc::ctrl_c_aborts_loop(tool() + " --", sleeper); });
}

TEST_CASE("in own-group mode the command gets the terminal and the shell gets it back") {
  run_scenario([] { return sc::own_group_gets_terminal(tool() + " --group --", recorder()); });
}

TEST_CASE("sigkit-run says why it does not forward a ^C the terminal already delivered") {
  run_scenario([] {
    sigkit_test::pty_shell sh;
    if (!sh.ok() || !sh.expect_prompt()) return sigkit_test::scenario_result{false, "no shell prompt"};
    sh.line(tool() + " --verbose -- " + recorder());
    if (!sh.expect("ready ")) return sigkit_test::scenario_result{false, "the recorder did not start"};
    sh.type("\x03");
    if (!sh.expect("not forwarding SIGINT: typed at the terminal"))
      return sigkit_test::scenario_result{false, "no 'not forwarding' decision logged for ^C"};
    sh.line("exit 0");
    sh.expect_prompt();
    return sigkit_test::scenario_result{true, ""};
  });
}

namespace {

/// Fields 5-8 of /proc/PID/stat: process group, session, tty_nr, tpgid (the
/// terminal's foreground group); empty if unreadable.
std::vector<long> group_session_tty(pid_t pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/stat";
  std::string text;
  if (FILE* f = std::fopen(path.c_str(), "re")) {
    char buf[1024] = {};
    if (std::fgets(buf, sizeof buf, f) != nullptr) text = buf;
    std::fclose(f);
  }
  const auto paren = text.rfind(')');  // the command name may hold spaces
  if (paren == std::string::npos) return {};
  std::vector<long> fields;
  std::size_t at = paren + 2;
  for (int i = 3; i <= 8 && at < text.size(); ++i) {
    const auto end = text.find(' ', at);
    if (i >= 5) fields.push_back(std::strtol(text.c_str() + at, nullptr, 10));
    at = end == std::string::npos ? text.size() : end + 1;
  }
  return fields.size() == 4 ? fields : std::vector<long>{};
}

}  // namespace

// Issue 15, fix 3: with --session the command had no controlling terminal
// even when sigkit-run led the terminal's session (a container's PID 1
// started with a terminal; dumb-init's test_child_gets_controlling_tty_if_
// we_had_one). The hand-off makes the kernel send SIGHUP and SIGCONT to
// sigkit-run's group: they must neither kill it nor reach the command.
TEST_CASE("with --session the command takes the terminal whose session sigkit-run leads") {
  run_scenario([] {
    using sigkit_test::scenario_result;
    sigkit_test::pty_shell sh;
    if (!sh.ok() || !sh.expect_prompt()) return scenario_result{false, "no shell prompt"};
    // exec: sigkit-run replaces the shell as the leader of the terminal's session.
    sh.line("exec " + tool() + " --session --verbose -- " + recorder());
    if (!sh.expect("ready ")) return scenario_result{false, "the recorder did not start: " + sh.tail(300)};
    if (!sh.expect("\n")) return scenario_result{false, "no pid after 'ready'"};
    const pid_t command = static_cast<pid_t>(std::atol(sh.output().c_str() + sh.output().rfind("ready ") + 6));
    const auto fields = group_session_tty(command);
    scenario_result r{true, ""};
    if (fields.empty()) return scenario_result{false, "cannot read the command's /proc stat"};
    // pgrp, session, tty_nr, tpgid: its own session, a terminal, in the foreground.
    if (fields[0] != command || fields[1] != command || fields[2] == 0 || fields[3] != command)
      r = {false, "the command's pgrp/session/tty_nr/tpgid: " + std::to_string(fields[0]) + " " +
                      std::to_string(fields[1]) + " " + std::to_string(fields[2]) + " " + std::to_string(fields[3])};
    if (r.ok && sh.foreground() != command) r = {false, "the terminal's foreground group is not the command's"};
    // The kernel's SIGHUP and SIGCONT of the hand-off came from sigkit-run
    // itself (logged before or after "ready").
    const std::string decided = "not forwarding SIGHUP: sent by this process";
    if (r.ok && sh.output().find(decided) == std::string::npos && !sh.expect(decided))
      r = {false, "no decision logged about the hand-off's SIGHUP: " + sh.tail(400)};
    sh.line("ping");
    if (r.ok && !sh.expect("pong")) r = {false, "the recorder did not answer"};
    if (r.ok && (sh.count("sig SIGHUP", 0) != 0 || sh.count("sig SIGCONT", 0) != 0))
      r = {false, "the hand-off's SIGHUP or SIGCONT reached the command: " + sh.tail(400)};
    // A ^C typed now goes to the command's group, the foreground one.
    sh.type("\x03");
    if (r.ok && !sh.expect("sig SIGINT")) r = {false, "^C did not reach the command"};
    ::kill(command, SIGKILL);
    return r;
  });
}

TEST_CASE("with --session sigkit-run gives no terminal away that its session does not own") {
  run_scenario([] {
    using sigkit_test::scenario_result;
    sigkit_test::pty_shell sh;
    if (!sh.ok() || !sh.expect_prompt()) return scenario_result{false, "no shell prompt"};
    sh.line(tool() + " --session -- " + recorder());
    if (!sh.expect("ready ") || !sh.expect("\n")) return scenario_result{false, "the recorder did not start"};
    const pid_t command = static_cast<pid_t>(std::atol(sh.output().c_str() + sh.output().rfind("ready ") + 6));
    const auto fields = group_session_tty(command);
    scenario_result r{true, ""};
    if (fields.size() != 4 || fields[1] != command || fields[2] != 0)
      r = {false, "the command is not in a session of its own without a terminal"};
    if (r.ok && (sh.foreground() == command || sh.foreground() <= 0))
      r = {false, "the terminal's foreground group moved to the command"};
    ::kill(command, SIGKILL);
    if (r.ok && !sh.expect_prompt()) r = {false, "no prompt after the command ended"};
    return r;
  });
}
