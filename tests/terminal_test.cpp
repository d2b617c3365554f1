// Terminal behaviour of sigkit-run (forward.hpp) under a real interactive
// shell on a pseudo-terminal: ^C delivered once, ^Z returns the prompt and
// fg resumes, a background job never takes the terminal, ^C aborts a shell
// loop, and an own-group command gets the terminal and gives it back.
// The same scenarios run against tini and dumb-init in
// tests/helpers/shim_compare.cpp (docs/sigkit-run.md).
#include <sys/prctl.h>
#include <sys/wait.h>

#include <string>

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
  in_child(
      [&] {
        REQUIRE(::prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
        const auto r = body();
        CHECK_MESSAGE(r.ok, r.detail);
        int st;
        while (::waitpid(-1, &st, WNOHANG) > 0) {
        }
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
