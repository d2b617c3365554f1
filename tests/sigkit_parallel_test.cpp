// Tests for the sigkit-parallel tool (tools/sigkit-parallel, a front end to
// sigkit::supervisor) under an interactive bash on a pseudo-terminal, as a
// user runs it: ^C with 50 commands running leaves nothing behind and the
// tool dies of SIGINT; ^C ^C kills commands that ignore SIGINT; ^Z stops
// every command and fg resumes them; a timeout does not run while the job is
// stopped; a background run never takes the terminal; ^C stops a shell loop
// around it. The same scenarios run against xargs -P and GNU parallel in
// tests/helpers/parallel_compare.cpp (docs/supervisor.md).
#include <sys/prctl.h>
#include <sys/wait.h>

#include <functional>
#include <string>

#include "parallel_scenarios.hpp"
#include "process.hpp"
#include "support.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using sigkit_test::in_child;
namespace ps = sigkit_test::parallel_scenarios;

namespace {

std::string tool() { return sigkit_test::helper_path("sigkit_parallel"); }

/// The grace period is longer than any scenario waits, so that only the
/// forwarded ^C (or the second ^C) can end the commands in time.
ps::runner sigkit_parallel() {
  const std::string run = tool() + " -j 60 --grace 60s";
  return {"sigkit-parallel", run, "sigkit_parallel", run + " --timeout 2s", "again kills them"};
}

/// Runs a scenario as a child subreaper (whatever the runner leaves behind
/// comes back here, to be counted and reaped), with a watchdog.
void run_scenario(const std::function<ps::result()>& body) {
  sigkit_test::in_subreaper_child(
      [&] {
        const auto r = body();
        CHECK_MESSAGE(r.ok, r.detail);
      },
      60s);
}

}  // namespace

TEST_CASE("^C with 50 commands running leaves none running and none unreaped, and sigkit-parallel dies of SIGINT") {
  run_scenario([] { return ps::ctrl_c_many(sigkit_parallel(), 50); });
}

TEST_CASE("^C ^C kills commands that ignore SIGINT") {
  run_scenario([] { return ps::ctrl_c_twice(sigkit_parallel()); });
}

TEST_CASE("^Z stops every command and returns the prompt, and fg resumes them all") {
  run_scenario([] { return ps::ctrl_z_and_fg(sigkit_parallel()); });
}

TEST_CASE("a 2 s timeout does not fire early when the job spends 5 s stopped in between") {
  run_scenario([] { return ps::timeout_paused_while_stopped(sigkit_parallel()); });
}

TEST_CASE("sigkit-parallel in the background never takes the terminal") {
  run_scenario([] { return ps::background_keeps_terminal(sigkit_parallel()); });
}

TEST_CASE("^C stops a shell loop around sigkit-parallel") {
  run_scenario([] { return ps::ctrl_c_aborts_loop(sigkit_parallel()); });
}

TEST_CASE("a SIGTERM sent to sigkit-parallel ends every command, and sigkit-parallel dies of it") {
  in_child([] {
    REQUIRE(::setpgid(0, 0) == 0);
    REQUIRE(::prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
    sigkit_test::process p({tool(), "-j", "3", "--", "echo ready $$; exec sleep 30", "echo ready $$; exec sleep 30",
                            "echo ready $$; exec sleep 30", "echo never"});
    std::vector<pid_t> commands;
    for (int i = 0; i < 3; ++i) {
      const auto l = p.line_starting("ready ");
      REQUIRE(l.has_value());
      commands.push_back(std::stoi(l->substr(6)));
    }
    REQUIRE(::kill(p.pid(), SIGTERM) == 0);
    const int st = p.wait(10000ms);
    CHECK(WIFSIGNALED(st));
    CHECK(WTERMSIG(st) == SIGTERM);
    for (pid_t c : commands) CHECK(sigkit_test::proc_state(c) == 0);  // ended and reaped
    CHECK_FALSE(p.line_starting("never", 0ms).has_value());           // no command started after it
  });
}

TEST_CASE("durations at the limits: nan is refused, a tiny positive --timeout fires, a huge one never does") {
  in_child(
      [] {
        REQUIRE(::setpgid(0, 0) == 0);
        REQUIRE(::prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
        for (const char* bad : {"nan", "-1", "-inf", "5x"}) {
          CAPTURE(bad);
          sigkit_test::process p({tool(), "--timeout", bad, "--", "true"});
          const int st = p.wait(10000ms);
          REQUIRE(WIFEXITED(st));
          CHECK(WEXITSTATUS(st) == 2);  // a usage error, nothing run
        }
        // 1e-12 s is one nanosecond, not "no timeout" (zero is none).
        sigkit_test::process tiny({tool(), "--timeout", "1e-12", "--grace", "0", "--", "exec sleep 30"});
        const int tiny_st = tiny.wait(20000ms);
        REQUIRE(WIFEXITED(tiny_st));
        CHECK(WEXITSTATUS(tiny_st) == 1);  // the command timed out
        // Past what nanoseconds count: never; the command ends by itself.
        for (const char* huge : {"1e12", "inf", "1e400"}) {
          CAPTURE(huge);
          sigkit_test::process p({tool(), "--timeout", huge, "--grace", huge, "--", "sleep 0.2"});
          const int st = p.wait(20000ms);
          REQUIRE(WIFEXITED(st));
          CHECK(WEXITSTATUS(st) == 0);
        }
        while (::waitpid(-1, nullptr, WNOHANG) > 0) {
        }
      },
      90s);  // longer than the waits above together, so that they, not the watchdog, say what went wrong
}

TEST_CASE("--grace 0: a command that ignores the first SIGTERM is killed at once") {
  in_child([] {
    REQUIRE(::setpgid(0, 0) == 0);
    REQUIRE(::prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
    sigkit_test::process p({tool(), "--grace", "0", "--", "trap '' TERM; echo ready $$; exec sleep 30"});
    const auto l = p.line_starting("ready ");
    REQUIRE(l.has_value());
    const pid_t command = std::stoi(l->substr(6));
    REQUIRE(::kill(p.pid(), SIGTERM) == 0);
    const int st = p.wait(10000ms);  // a grace of zero read as "no timer" would leave it for 30 s
    CHECK(WIFSIGNALED(st));
    CHECK(WTERMSIG(st) == SIGTERM);
    CHECK(sigkit_test::proc_state(command) == 0);  // killed and reaped
  });
}
