// Negative controls for the safety interposer: a subscriber that allocates,
// locks or prints inside sigkit's handler must kill the process with SIGABRT.
// Without these, a silent interposer would make every other test's "no
// forbidden call" proof vacuous.
#include <sigkit/flag.hpp>
#include <sigkit/stream.hpp>
#include <sigkit/wakeup_group.hpp>

#include <pthread.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "support.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;

namespace {

// A subscriber whose delivery does something forbidden.
struct bad_subscriber : sigkit::detail::subscriber {
  explicit bad_subscriber(void (*fn)(sigkit::detail::subscriber*, int, const siginfo_t*) noexcept) { deliver = fn; }
};

void subscribe_bad(bad_subscriber& b) {
  const auto ec = sigkit::detail::subscribe(&b, {sigkit::user1});
  REQUIRE_FALSE(ec);
}

std::mutex g_mutex;

}  // namespace

TEST_CASE("the interposer kills a handler path that allocates") {
  const auto r = sigkit_test::run_child([] {
    static bad_subscriber b([](sigkit::detail::subscriber*, int, const siginfo_t*) noexcept {
      void* volatile p = std::malloc(16);
      std::free(p);
    });
    subscribe_bad(b);
    ::raise(SIGUSR1);
  });
  CHECK(r.signaled);
  CHECK(r.signo == SIGABRT);
}

TEST_CASE("the interposer kills a handler path that takes a mutex") {
  const auto r = sigkit_test::run_child([] {
    static bad_subscriber b([](sigkit::detail::subscriber*, int, const siginfo_t*) noexcept {
      g_mutex.lock();
      g_mutex.unlock();
    });
    subscribe_bad(b);
    ::raise(SIGUSR1);
  });
  CHECK(r.signaled);
  CHECK(r.signo == SIGABRT);
}

TEST_CASE("the interposer kills a handler path that uses stdio") {
  const auto r = sigkit_test::run_child([] {
    static bad_subscriber b(
        [](sigkit::detail::subscriber*, int, const siginfo_t*) noexcept { std::fprintf(stderr, "from a handler\n"); });
    subscribe_bad(b);
    ::raise(SIGUSR1);
  });
  CHECK(r.signaled);
  CHECK(r.signo == SIGABRT);
}

TEST_CASE("every sigkit delivery path runs clean under the interposer") {
  sigkit_test::in_child(
      [] {
        // Fan-out to streams and flags, ring overflow, real-time payloads,
        // chaining to a previous handler, deliveries on several threads.
        struct sigaction prev {};
        prev.sa_handler = [](int) {};
        sigemptyset(&prev.sa_mask);
        sigaddset(&prev.sa_mask, SIGUSR2);  // makes the handler apply a mask
        REQUIRE(::sigaction(SIGHUP, &prev, nullptr) == 0);
        sigkit::stream big{{sigkit::user1, sigkit::hangup, sigkit::realtime(1)}, {.capacity = 4096}};
        sigkit::stream tiny{{sigkit::user1, sigkit::realtime(1)}, {.capacity = 2}};
        sigkit::wakeup_group group;  // the shared-wakeup path
        sigkit::stream shared_a{{sigkit::user1, sigkit::hangup}, {.shared_wakeup = &group}};
        sigkit::stream shared_b{{sigkit::realtime(1)}, {.capacity = 2, .shared_wakeup = &group}};
        sigkit::flag f{{sigkit::user1, sigkit::hangup}};
        std::vector<std::jthread> senders;
        for (int t = 0; t < 4; ++t)
          senders.emplace_back([] {
            for (int i = 0; i < 500; ++i) {
              ::kill(::getpid(), SIGUSR1);
              ::kill(::getpid(), SIGHUP);
              union sigval v {};
              v.sival_int = i;
              ::sigqueue(::getpid(), SIGRTMIN + 1, v);
            }
          });
        senders.clear();  // join
        CHECK(f.count() > 0);
        CHECK(tiny.dropped() > 0);  // the overflow path ran
        int n = 0;
        while (big.try_recv()) ++n;
        CHECK(n > 0);
        CHECK(shared_a.try_recv().has_value());
        CHECK(shared_b.dropped() > 0);
      },
      60s);
}
