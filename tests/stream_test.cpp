// Tests for sigkit/stream.hpp: typed streams, siginfo, waits, overflow
// accounting, lost wakeups, fd hygiene. Every test that changes signal state
// runs in a forked child (in_child) so nothing leaks between tests.
#include <sigkit/stream.hpp>

#include <fcntl.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <random>
#include <thread>
#include <vector>

#include "support.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using sigkit_test::in_child;

TEST_CASE("a raised signal arrives with its siginfo") {
  in_child([] {
    sigkit::stream s{{sigkit::user1, sigkit::interrupt}};
    REQUIRE(::raise(SIGUSR1) == 0);
    auto e = s.recv_for(5s);
    REQUIRE(e.has_value());
    CHECK(e->signal == sigkit::user1);
    CHECK(e->from.pid == ::getpid());
    CHECK(e->from.uid == ::getuid());
    CHECK(e->from_user());
    CHECK_FALSE(e->from_kernel());
    CHECK_FALSE(e->from_terminal());
    CHECK_FALSE(s.try_recv().has_value());
    CHECK(s.dropped() == 0);
  });
}
