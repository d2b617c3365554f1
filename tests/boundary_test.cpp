// Boundary values of every capacity, size and signal-number parameter of the
// core (streams, flags, scoped actions, signal sets, realtime offsets): the
// smallest and largest accepted value work, the values just outside give a
// clear error naming the value, and nothing changes on failure.
#include <sigkit/action.hpp>
#include <sigkit/flag.hpp>
#include <sigkit/registry.hpp>
#include <sigkit/shutdown.hpp>
#include <sigkit/stream.hpp>
#include <sigkit/trap.hpp>

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

namespace {

// The numbers at and just outside the valid range 1..NSIG-1.
constexpr int edge_numbers[] = {std::numeric_limits<int>::min(), -1, 0, 1, NSIG - 1, NSIG,
                                std::numeric_limits<int>::max()};

bool valid_number(int n) { return n >= 1 && n < NSIG; }

std::string text_of(int n) { return std::to_string(n); }

}  // namespace

TEST_CASE("signal numbers 0, 1, NSIG-1, NSIG and negative ones: values, sets and names") {
  for (const int n : edge_numbers) {
    CAPTURE(n);
    const sigkit::signal s{n};
    CHECK(s.valid() == valid_number(n));
    CHECK_FALSE(std::string(s.name()).empty());
    sigkit::signal_set set;
    if (valid_number(n)) {
      CHECK(set.insert(s));
      CHECK(set.contains(s));
      CHECK(sigkit::signal::parse(text_of(n)) == s);
    } else {
      CHECK_THROWS_WITH_AS(set.insert(s), doctest::Contains(text_of(n).c_str()), std::invalid_argument);
      CHECK_THROWS_WITH_AS(sigkit::signal_set{s}, doctest::Contains(text_of(n).c_str()), std::invalid_argument);
      CHECK_FALSE(set.contains(s));
      CHECK_FALSE(sigkit::signal::parse(text_of(n)).has_value());
    }
  }
  CHECK(sigkit::signal{1} == sigkit::hangup);
  CHECK(sigkit::signal{NSIG - 1}.realtime());
  CHECK(sigkit::signal_set::full().size() == static_cast<std::size_t>(NSIG - 1));
}

TEST_CASE("signal numbers 0, 1, NSIG-1, NSIG and negative ones at every stateful entry point") {
  in_child([] {
    const auto before = sigkit_test::all_dispositions::capture();
    for (const int n : edge_numbers) {
      CAPTURE(n);
      const sigkit::signal s{n};
      if (valid_number(n)) {
        // SIGHUP (1) and SIGRTMAX (NSIG-1) are catchable and streamable.
        CHECK(sigkit::disposition_of(s).kind == sigkit::disposition::dfl);
        {
          sigkit::stream st{{s}};
          sigkit::flag f{{s}};
          auto ign = sigkit::ignore(s);
          auto dfl = sigkit::use_default(s);
          sigkit::registry r;
          r.stream({s});
          r.ignore(s);
        }
        CHECK(sigkit::disposition_of(s).kind == sigkit::disposition::dfl);
        continue;
      }
      const std::string named = "signal " + text_of(n) + " is not a valid signal number";
      CHECK_THROWS_WITH_AS(sigkit::disposition_of(s), doctest::Contains(named.c_str()), std::invalid_argument);
      CHECK_THROWS_WITH_AS(sigkit::ignore(s), doctest::Contains(named.c_str()), std::invalid_argument);
      CHECK_THROWS_WITH_AS(sigkit::use_default(s), doctest::Contains(named.c_str()), std::invalid_argument);
      struct sigaction act {};
      act.sa_handler = SIG_IGN;
      CHECK_THROWS_WITH_AS(sigkit::scoped_action(s, act), doctest::Contains(named.c_str()), std::invalid_argument);
      std::error_code ec;
      sigkit::scoped_action quiet(s, act, ec);
      CHECK(ec == std::errc::invalid_argument);
      CHECK_FALSE(quiet.active());
      sigkit::raise_default(s);  // nothing to do for an invalid number
    }
    CHECK(sigkit_test::all_dispositions::capture().diff(before) == "");
  });
}

TEST_CASE("empty signal sets are refused by every subscriber, naming the reason, and change nothing") {
  in_child([] {
    const auto before = sigkit_test::all_dispositions::capture();
    const int fds = sigkit_test::open_fd_count();
    const sigkit::signal_set none;
    CHECK(none.empty());
    CHECK(none.size() == 0);
    CHECK(none.begin() == none.end());
    CHECK(none.to_string() == "{}");
    CHECK(sigkit::signal_set(none.to_sigset()) == none);
    CHECK_THROWS_WITH_AS(sigkit::stream{none}, doctest::Contains("sigkit::stream: the signal set is empty"),
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS(sigkit::flag{none}, doctest::Contains("sigkit::flag: the signal set is empty"),
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS(sigkit::shutdown{none}, doctest::Contains("sigkit::shutdown: the signal set is empty"),
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS((sigkit::trap{none, [] {}}), doctest::Contains("sigkit::trap: the signal set is empty"),
                         std::invalid_argument);
    sigkit::registry r;
    CHECK_THROWS_AS(r.stream(none), std::invalid_argument);
    CHECK_THROWS_AS(r.flag(none), std::invalid_argument);
    CHECK(r.size() == 0);
    std::error_code ec;
    sigkit::stream s(none, {}, ec);
    CHECK(ec == std::errc::invalid_argument);
    sigkit::flag f(none, ec);
    CHECK(ec == std::errc::invalid_argument);
    CHECK(sigkit_test::all_dispositions::capture().diff(before) == "");
    CHECK(sigkit_test::open_fd_count() == fds);
  });
}

TEST_CASE("realtime(offset) at its limits: 0 and SIGRTMAX-SIGRTMIN work, -1 and one more name the offset") {
  const int top = SIGRTMAX - SIGRTMIN;
  CHECK(sigkit::realtime(0).number() == SIGRTMIN);
  CHECK(sigkit::realtime(top).number() == SIGRTMAX);
  CHECK(sigkit::realtime(top).number() == NSIG - 1);
  for (const int bad : {-1, top + 1, std::numeric_limits<int>::min(), std::numeric_limits<int>::max()}) {
    CAPTURE(bad);
    const std::string named = "realtime(" + std::to_string(bad) + ") is out of range";
    CHECK_THROWS_WITH_AS(sigkit::realtime(bad), doctest::Contains(named.c_str()), std::invalid_argument);
  }
  in_child([top] {
    // Both ends can be streamed, and deliver their payloads.
    for (const int k : {0, top}) {
      CAPTURE(k);
      sigkit::stream s{{sigkit::realtime(k)}};
      union sigval v {};
      v.sival_int = 1000 + k;
      REQUIRE(::sigqueue(::getpid(), SIGRTMIN + k, v) == 0);
      auto e = s.recv_for(5s);
      REQUIRE(e.has_value());
      CHECK(e->value.sival_int == 1000 + k);
    }
  });
}
