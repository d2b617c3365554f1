// nohup is honoured (issue 13, defect 10): sigkit::ignored_at_start()
// reports what a process was started with ignored, and shutdown and trap
// leave those signals alone unless asked to take them over. The program
// under test (tests/helpers/ignored_target) is started under nohup, as
// `nohup server &` would be.
#include <sigkit/action.hpp>
#include <sigkit/shutdown.hpp>
#include <sigkit/trap.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "process.hpp"
#include "support.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using sigkit_test::in_child;
using sigkit_test::process;

namespace {

std::string target() { return sigkit_test::helper_path("ignored_target"); }

// The helper, started under nohup (SIGHUP ignored) or not.
struct started {
  process p;
  std::string ignored, watching, hup, usr2;
  started(const std::string& mode, bool nohup)
      : p(nohup ? std::vector<std::string>{"nohup", target(), mode} : std::vector<std::string>{target(), mode}) {
    ignored = value("ignored_at_start ");
    watching = value("watching ");
    hup = value("SIGHUP ");
    usr2 = value("SIGUSR2 ");
    REQUIRE(p.line_starting("ready").has_value());
  }
  std::string value(const std::string& key) {
    const auto line = p.line_starting(key);
    REQUIRE_MESSAGE(line.has_value(), "no '" << key << "' line from ignored_target");
    return line->substr(key.size());
  }
  // True if it answers (is running and not stopped by a signal).
  bool still_running() {
    p.write("ping\n");
    const auto line = p.line_starting("");
    return line && *line == "running";
  }
};

}  // namespace

TEST_CASE("started under nohup, a shutdown ignores SIGHUP and still stops on SIGTERM") {
  in_child([] {
    started s("shutdown", true);
    CHECK(s.ignored == "{SIGHUP}");  // SIGUSR2, ignored by a static initialiser, is not
    CHECK(s.usr2 == "ign");
    CHECK(s.watching == "{SIGINT, SIGTERM}");
    CHECK(s.hup == "ign");  // left as it was: the kernel discards it
    REQUIRE(::kill(s.p.pid(), SIGHUP) == 0);
    CHECK(s.still_running());
    REQUIRE(::kill(s.p.pid(), SIGTERM) == 0);
    CHECK(s.p.line_starting("stopped by ") == std::optional<std::string>("stopped by SIGTERM"));
    const int st = s.p.wait();
    CHECK((WIFEXITED(st) && WEXITSTATUS(st) == 0));
  });
}

TEST_CASE("take_over_ignored makes a shutdown watch SIGHUP even under nohup") {
  in_child([] {
    started s("shutdown-take", true);
    CHECK(s.ignored == "{SIGHUP}");
    CHECK(s.watching == "{SIGHUP, SIGINT, SIGTERM}");
    CHECK(s.hup == "handler");
    REQUIRE(::kill(s.p.pid(), SIGHUP) == 0);
    CHECK(s.p.line_starting("stopped by ") == std::optional<std::string>("stopped by SIGHUP"));
  });
}

TEST_CASE("without nohup, a shutdown watches SIGHUP and stops on it") {
  in_child([] {
    started s("shutdown", false);
    CHECK(s.ignored == "{}");
    CHECK(s.watching == "{SIGHUP, SIGINT, SIGTERM}");
    REQUIRE(::kill(s.p.pid(), SIGHUP) == 0);
    CHECK(s.p.line_starting("stopped by ") == std::optional<std::string>("stopped by SIGHUP"));
  });
}

TEST_CASE("a shutdown whose every signal was ignored at start watches nothing and keeps working") {
  in_child([] {
    started s("shutdown-hup", true);
    CHECK(s.watching == "{}");
    CHECK(s.hup == "ign");
    REQUIRE(::kill(s.p.pid(), SIGHUP) == 0);
    CHECK(s.still_running());
    s.p.close_stdin();
    const int st = s.p.wait();
    CHECK((WIFEXITED(st) && WEXITSTATUS(st) == 0));
  });
}

TEST_CASE("started under nohup, a trap ignores SIGHUP, and SIGTERM still runs the cleanup and kills") {
  in_child([] {
    started s("trap", true);
    CHECK(s.watching == "{SIGINT, SIGQUIT, SIGTERM}");
    CHECK(s.hup == "ign");
    REQUIRE(::kill(s.p.pid(), SIGHUP) == 0);
    CHECK(s.still_running());
    REQUIRE(::kill(s.p.pid(), SIGTERM) == 0);
    CHECK(s.p.line_starting("cleanup").has_value());
    const int st = s.p.wait();
    CHECK((WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM));
  });
}

TEST_CASE("trap_options::take_over_ignored makes a trap act on SIGHUP under nohup") {
  in_child([] {
    started s("trap-take", true);
    CHECK(s.watching == "{SIGHUP, SIGINT, SIGQUIT, SIGTERM}");
    REQUIRE(::kill(s.p.pid(), SIGHUP) == 0);
    CHECK(s.p.line_starting("cleanup").has_value());
    const int st = s.p.wait();
    CHECK((WIFSIGNALED(st) && WTERMSIG(st) == SIGHUP));
  });
}

TEST_CASE("a trap whose every signal was ignored at start still runs its cleanup at scope end") {
  in_child([] {
    started s("trap-hup", true);
    CHECK(s.watching == "{}");
    REQUIRE(::kill(s.p.pid(), SIGHUP) == 0);
    CHECK(s.still_running());
    s.p.close_stdin();
    CHECK(s.p.line_starting("cleanup").has_value());
    const int st = s.p.wait();
    CHECK((WIFEXITED(st) && WEXITSTATUS(st) == 0));
  });
}

TEST_CASE("ignoring a signal after start does not make it ignored at start, and shutdown and trap take it") {
  in_child([] {
    const sigkit::signal_set at_start = sigkit::ignored_at_start();
    CHECK_FALSE(at_start.contains(sigkit::user1));
    auto ign = sigkit::ignore(sigkit::user1);  // after start: taken over as before
    CHECK(sigkit::ignored_at_start() == at_start);
    sigkit::shutdown stop({sigkit::user1});
    CHECK(stop.signals() == sigkit::signal_set{sigkit::user1});
    ::raise(SIGUSR1);
    CHECK(stop.wait_for(5s));
  });
}

TEST_CASE("shutdown and trap still refuse bad and empty signal sets, ignored or not") {
  in_child([] {
    const auto before = sigkit_test::all_dispositions::capture();
    CHECK_THROWS_WITH_AS(sigkit::shutdown(sigkit::signal_set{}),
                         doctest::Contains("sigkit::shutdown: the signal set is empty"), std::invalid_argument);
    CHECK_THROWS_WITH_AS((sigkit::trap{sigkit::signal_set{}, [] {}}),
                         doctest::Contains("sigkit::trap: the signal set is empty"), std::invalid_argument);
    CHECK_THROWS_AS((sigkit::shutdown{{sigkit::signal{SIGKILL}}, {.take_over_ignored = true}}), std::invalid_argument);
    CHECK(sigkit_test::all_dispositions::capture().diff(before) == "");
  });
}

// A child spawned with reset_signals keeps what the process was started
// with ignored (an exec without sigkit would), as tini does: under nohup,
// a program's children are nohup'ed too. SIGUSR2, ignored by a static
// initialiser after start, is reset like every other signal.
// keep_ignored_at_start = false resets SIGHUP too.
TEST_CASE("under nohup, child_process::spawn keeps SIGHUP ignored in the child unless told otherwise") {
  in_child([] {
    const std::string report = sigkit_test::helper_path("disposition_report");
    for (const bool keep : {true, false}) {
      CAPTURE(keep);
      process p({"nohup", target(), keep ? "spawn" : "spawn-reset-all", report});
      CHECK(p.line_starting("1 ") == std::optional<std::string>(keep ? "1 ign" : "1 dfl"));  // SIGHUP
      CHECK(p.line_starting("12 ") == std::optional<std::string>("12 dfl"));                 // SIGUSR2
      CHECK(p.line_starting("15 ") == std::optional<std::string>("15 dfl"));                 // SIGTERM
      CHECK(p.line_starting("spawned ") == std::optional<std::string>("spawned 0"));
      const int st = p.wait();
      CHECK((WIFEXITED(st) && WEXITSTATUS(st) == 0));
    }
  });
}
