// The fork harness itself (tests/support.cpp): a forked test body that fails
// in any way must fail the test case that forked it, or every test that runs
// in a child could pass while asserting nothing.
#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <functional>
#include <stdexcept>

#include <doctest/doctest.h>

#include "support.hpp"

using namespace std::chrono_literals;

namespace {
// run_child() with the child's own doctest report (its deliberate failures)
// sent to /dev/null, so the log shows only this file's real verdicts.
sigkit_test::child_result run_child(const std::function<void()>& body, std::chrono::milliseconds limit = 20s) {
  return sigkit_test::run_child(
      [&] {
        const int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
        ::dup2(null, STDOUT_FILENO);
        ::dup2(null, STDERR_FILENO);
        body();
      },
      limit);
}
}  // namespace

TEST_CASE("a forked body that passes exits 0") {
  const auto r = run_child([] { CHECK(1 + 1 == 2); });
  CHECK(r.exited);
  CHECK(r.code == 0);
}

TEST_CASE("a forked body's failed CHECK, FAIL_CHECK and REQUIRE each give exit code 1") {
  const auto check = run_child([] { CHECK(1 + 1 == 3); });
  CHECK(check.exited);
  CHECK(check.code == 1);
  const auto fail_check = run_child([] { FAIL_CHECK("reported through log_message"); });
  CHECK(fail_check.exited);
  CHECK(fail_check.code == 1);
  const auto require = run_child([] {
    REQUIRE(1 + 1 == 3);
    CHECK(false);  // not reached
  });
  CHECK(require.exited);
  CHECK(require.code == 1);
}

TEST_CASE("a WARN in a forked body does not fail it") {
  const auto r = run_child([] { WARN(1 + 1 == 3); });
  CHECK(r.exited);
  CHECK(r.code == 0);
}

TEST_CASE("a forked body that throws exits 2, one that dies is reported with its signal") {
  const auto thrown = run_child([] { throw std::runtime_error("escaped"); });
  CHECK(thrown.exited);
  CHECK(thrown.code == 2);
  const auto died = run_child([] {
    std::signal(SIGTERM, SIG_DFL);
    std::raise(SIGTERM);
  });
  CHECK(died.signaled);
  CHECK(died.signo == SIGTERM);
  CHECK(died.describe() == "killed by SIGTERM");
}

TEST_CASE("a forked body that hangs is killed by the watchdog and reported as timed out") {
  const auto start = std::chrono::steady_clock::now();
  const auto r = run_child(
      [] {
        for (;;) ::pause();
      },
      300ms);
  CHECK(r.timed_out);
  CHECK_FALSE(r.exited);
  CHECK(std::chrono::steady_clock::now() - start < 10s);
}
