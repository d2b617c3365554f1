// Tests for sigkit/flag.hpp: counting deliveries without a descriptor.
#include <sigkit/flag.hpp>
#include <sigkit/stream.hpp>

#include <unistd.h>

#include "support.hpp"

#include <doctest/doctest.h>

using sigkit_test::in_child;

TEST_CASE("a flag counts deliveries and take() reports each batch once") {
  in_child([] {
    const int fds = sigkit_test::open_fd_count();
    sigkit::flag f{{sigkit::user1, sigkit::user2}};
    CHECK(sigkit_test::open_fd_count() == fds);  // no descriptor
    CHECK(f.count() == 0);
    CHECK_FALSE(f.take());
    ::raise(SIGUSR1);
    ::raise(SIGUSR2);
    CHECK(f.count() == 2);
    CHECK(f.take());
    CHECK_FALSE(f.take());
    ::raise(SIGUSR1);
    CHECK(f.take());
  });
}

TEST_CASE("flags and streams on one signal all see it, and the disposition comes back") {
  in_child([] {
    const auto before = sigkit_test::all_dispositions::capture();
    {
      sigkit::flag a{{sigkit::hangup}};
      sigkit::flag b{{sigkit::hangup}};
      sigkit::stream s{{sigkit::hangup}};
      ::raise(SIGHUP);
      CHECK(a.count() == 1);
      CHECK(b.count() == 1);
      CHECK(s.try_recv().has_value());
      sigkit::flag moved = std::move(a);
      ::raise(SIGHUP);
      CHECK(moved.count() == 2);
      CHECK(a.count() == 0);  // NOLINT(bugprone-use-after-move): moved-from is empty
      CHECK_FALSE(a.valid());
    }
    CHECK(sigkit_test::all_dispositions::capture().diff(before) == "");
  });
}

TEST_CASE("a flag refuses what a stream refuses") {
  in_child([] {
    const auto before = sigkit_test::all_dispositions::capture();
    CHECK_THROWS_WITH_AS(sigkit::flag{{sigkit::signal{SIGSTOP}}}, doctest::Contains("sigkit::flag: SIGSTOP"),
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS(sigkit::flag{{sigkit::signal{SIGBUS}}}, doctest::Contains("SIGBUS is synchronous"),
                         std::invalid_argument);
    std::error_code ec;
    sigkit::flag f({sigkit::signal{SIGKILL}}, ec);
    CHECK(ec == std::errc::invalid_argument);
    CHECK(sigkit_test::all_dispositions::capture().diff(before) == "");
  });
}

TEST_CASE("an inherited flag is inert in a forked child") {
  in_child([] {
    sigkit::flag f{{sigkit::user1}};
    const pid_t kid = ::fork();
    REQUIRE(kid >= 0);
    if (kid == 0) {
      sigkit::flag mine{{sigkit::user1}};
      ::raise(SIGUSR1);
      // The child's own flag counts it; the inherited one does not.
      ::_exit(mine.count() == 1 && f.count() == 0 ? 0 : 1);
    }
    const int status = sigkit_test::wait_pid_for(kid, std::chrono::seconds(10));
    CHECK((status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0));
    CHECK(f.count() == 0);  // nothing from the child reached the parent
  });
}
