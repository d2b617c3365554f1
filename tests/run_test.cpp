// Tests for sigkit/run.hpp at the library level: run()'s own options (the
// forwarding itself is tested in forward_test.cpp and, through the
// sigkit-run tool, in sigkit_run_test.cpp).
#include <sigkit/inspect.hpp>
#include <sigkit/run.hpp>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "support.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using sigkit_test::in_child;
using sigkit_test::time_of;

namespace {

/// run() with reap and wait_descendants of a shell that leaves an orphan
/// `sleep <seconds>` behind (reparented to this process, a subreaper) and
/// exits 0. The orphan's pid comes back in `orphan`.
sigkit::exit_status run_leaving_orphan(const std::string& seconds, std::chrono::nanoseconds grace, pid_t& orphan) {
  int out[2];
  REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
  sigkit::run_options o;
  o.reap = true;
  o.wait_descendants = true;
  o.descendants_grace = grace;
  const std::string script = "sleep " + seconds + " & echo $! >&" + std::to_string(out[1]) + "; exit 0";
  ::fcntl(out[1], F_SETFD, 0);  // the shell writes the orphan's pid to it
  const auto st = sigkit::run({"/bin/sh", "-c", script}, o);
  ::close(out[1]);
  char buf[32] = {};
  const ssize_t n = ::read(out[0], buf, sizeof buf - 1);
  ::close(out[0]);
  orphan = n > 0 ? std::stoi(buf) : -1;
  return st;
}

}  // namespace

TEST_CASE("descendants_grace means what it says for every duration, from nanoseconds::min() to max()") {
  in_child(
      [] {
        // Zero or less, and 1 ns: the orphan is killed at once (it would
        // sleep 30 s); run() still reaps it.
        for (const std::chrono::nanoseconds grace : sigkit_test::no_wait_durations) {
          CAPTURE(grace.count());
          pid_t orphan = -1;
          const auto took = time_of([&] { CHECK(run_leaving_orphan("30", grace, orphan).code() == 0); });
          CHECK(took < 15s);
          REQUIRE(orphan > 0);
          CHECK(::kill(orphan, 0) == -1);  // reaped: not even a zombie
        }
        {
          pid_t orphan = -1;
          const auto took = time_of([&] { CHECK(run_leaving_orphan("30", 300ms, orphan).code() == 0); });
          CHECK(took >= 300ms);
          CHECK(took < 15s);
          CHECK(::kill(orphan, 0) == -1);
        }
        // The longest: run() waits until the orphan ends on its own.
        pid_t orphan = -1;
        const auto took =
            time_of([&] { CHECK(run_leaving_orphan("1", std::chrono::nanoseconds::max(), orphan).code() == 0); });
        CHECK(took >= 1s);
        CHECK(::kill(orphan, 0) == -1);
      },
      90s);
}
