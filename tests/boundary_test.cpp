// Boundary values of every capacity, size and signal-number parameter of the
// core (streams, flags, scoped actions, signal sets, realtime offsets): the
// smallest and largest accepted value work, the values just outside give a
// clear error naming the value, and nothing changes on failure.
#include <sigkit/action.hpp>
#include <sigkit/flag.hpp>
#include <sigkit/registry.hpp>
#include <sigkit/stream.hpp>

#include <signal.h>
#include <unistd.h>

#include <cstdint>
#include <limits>
#include <string>
#include <system_error>

#include "support.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using sigkit_test::in_child;

namespace {

int rt(int k) { return SIGRTMIN + k; }

// Fills a stream of `capacity` from a blocked real-time signal with
// capacity + 1 deliveries; the first `capacity` come back in order and one
// is counted as dropped.
void fill_and_overflow(std::size_t capacity, int k) {
  sigkit::stream s{{sigkit::realtime(k)}, {.capacity = capacity}};
  REQUIRE(s.capacity() == capacity);
  sigkit::flag handled{{sigkit::realtime(k)}};
  for (std::size_t i = 0; i <= capacity; ++i) {
    union sigval v {};
    v.sival_int = static_cast<int>(i);
    const auto before = handled.count();
    REQUIRE(::sigqueue(::getpid(), rt(k), v) == 0);
    REQUIRE(sigkit_test::wait_until([&] { return handled.count() == before + 1; }, 5s));
  }
  CHECK(s.dropped() == 1);
  for (std::size_t i = 0; i < capacity; ++i) {
    auto e = s.try_recv();
    REQUIRE(e.has_value());
    CHECK(e->value.sival_int == static_cast<int>(i));
  }
  CHECK_FALSE(s.try_recv().has_value());
}

}  // namespace

TEST_CASE("stream capacity: 0 is invalid_argument, 1 and 2 hold exactly that many, above the maximum is length_error") {
  in_child([] {
    const auto before = sigkit_test::all_dispositions::capture();
    const int fds = sigkit_test::open_fd_count();
    CHECK_THROWS_WITH_AS(sigkit::stream({sigkit::interrupt}, {.capacity = 0}),
                         doctest::Contains("sigkit::stream: capacity 0: must be at least 1"), std::invalid_argument);
    const std::size_t over = sigkit::stream::max_capacity + 1;
    const std::string over_text = "sigkit::stream: capacity " + std::to_string(over) + " is more than the maximum, " +
                                  std::to_string(sigkit::stream::max_capacity);
    CHECK_THROWS_WITH_AS(sigkit::stream({sigkit::interrupt}, {.capacity = over}), doctest::Contains(over_text.c_str()),
                         std::length_error);
    CHECK_THROWS_AS(sigkit::stream({sigkit::interrupt}, {.capacity = std::numeric_limits<std::size_t>::max()}),
                    std::length_error);
    sigkit::registry r;
    CHECK_THROWS_AS(r.stream({sigkit::interrupt}, {.capacity = 0}), std::invalid_argument);
    CHECK_THROWS_AS(r.stream({sigkit::interrupt}, {.capacity = over}), std::length_error);
    CHECK(r.size() == 0);
    std::error_code ec;
    sigkit::stream zero({sigkit::interrupt}, {.capacity = 0}, ec);
    CHECK(ec == std::errc::invalid_argument);
    CHECK_FALSE(zero.valid());
    sigkit::stream huge({sigkit::interrupt}, {.capacity = over}, ec);
    CHECK(ec == std::errc::value_too_large);
    CHECK_FALSE(huge.valid());
    CHECK(sigkit_test::all_dispositions::capture().diff(before) == "");
    CHECK(sigkit_test::open_fd_count() == fds);

    fill_and_overflow(1, 6);
    fill_and_overflow(2, 6);
    {
      // The largest ring is accepted and works (40 MiB of cells).
      sigkit::stream big({sigkit::realtime(6)}, {.capacity = sigkit::stream::max_capacity});
      CHECK(big.capacity() == sigkit::stream::max_capacity);
      union sigval v {};
      v.sival_int = 7;
      REQUIRE(::sigqueue(::getpid(), rt(6), v) == 0);
      auto e = big.recv_for(5s);
      REQUIRE(e.has_value());
      CHECK(e->value.sival_int == 7);
      CHECK(big.dropped() == 0);
    }
    CHECK(sigkit_test::all_dispositions::capture().diff(before) == "");
  });
}
