// Tests for sigkit/detail/ring.hpp against a trivial model: every capacity
// from 1 to 8 and every sequence of pushes and pops up to a bound
// (exhaustive), the same through a stream (dropped() included), and
// concurrent producers, nested ones (a push from a signal handler that
// interrupted a push) included.
#include <sigkit/detail/ring.hpp>
#include <sigkit/flag.hpp>
#include <sigkit/stream.hpp>

#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "support.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using sigkit::detail::mpsc_ring;
using sigkit_test::in_child;

namespace {

// The model: a bounded FIFO that refuses a push when full.
struct model {
  std::size_t capacity;
  std::deque<int> items;
  std::uint64_t sent = 0, dropped = 0, received = 0;
  bool push(int v) {
    ++sent;
    if (items.size() == capacity) {
      ++dropped;
      return false;
    }
    items.push_back(v);
    return true;
  }
  std::optional<int> pop() {
    if (items.empty()) return std::nullopt;
    const int v = items.front();
    items.pop_front();
    ++received;
    return v;
  }
};

constexpr int max_capacity_checked = 8;

// Every sequence of `length` operations (bit i of `ops` set: push, clear:
// pop) on a ring of `capacity` cells; returns the number of sequences run.
// Each sequence is run on a fresh ring and a fresh model, and every
// operation's result is compared.
void check_every_sequence(std::size_t capacity, int length) {
  for (std::uint32_t ops = 0; ops < (1u << length); ++ops) {
    mpsc_ring<int> ring(capacity);
    model m{capacity, {}};
    int next = 0;
    for (int i = 0; i < length; ++i) {
      if ((ops >> i) & 1u) {
        const bool expected = m.push(next);
        const bool pushed = ring.try_push(next);
        if (pushed != expected) {
          FAIL_CHECK("capacity " << capacity << ", ops " << ops << ", step " << i << ": push gave " << pushed
                                 << ", the model " << expected);
          return;
        }
        ++next;
      } else {
        const auto expected = m.pop();
        int got = -1;
        const bool popped = ring.try_pop(got);
        if (popped != expected.has_value() || (popped && got != *expected)) {
          FAIL_CHECK("capacity " << capacity << ", ops " << ops << ", step " << i << ": pop gave "
                                 << (popped ? std::to_string(got) : std::string("nothing")) << ", the model "
                                 << (expected ? std::to_string(*expected) : std::string("nothing")));
          return;
        }
      }
    }
    // Drain: what is left comes out in order, then nothing.
    while (auto expected = m.pop()) {
      int got = -1;
      if (!ring.try_pop(got) || got != *expected) {
        FAIL_CHECK("capacity " << capacity << ", ops " << ops << ": draining lost or reordered " << *expected);
        return;
      }
    }
    int got;
    if (ring.try_pop(got)) {
      FAIL_CHECK("capacity " << capacity << ", ops " << ops << ": the drained ring gave " << got);
      return;
    }
    if (m.received + m.dropped + 0 != m.sent) {  // everything sent was received or dropped
      FAIL_CHECK("capacity " << capacity << ", ops " << ops << ": model out of balance");
      return;
    }
  }
}

int rt(int k) { return SIGRTMIN + k; }

}  // namespace

TEST_CASE("the ring matches the model for every capacity 1..8 and every push/pop sequence of up to 16 steps") {
  for (std::size_t capacity = 1; capacity <= max_capacity_checked; ++capacity) {
    CAPTURE(capacity);
    for (int length = 1; length <= 16; ++length) check_every_sequence(capacity, length);
  }
}

TEST_CASE("a ring stays correct after its positions went round many times") {
  // Many laps over few cells: the sequence words keep growing; nothing wraps
  // in 64 bits, but every lap must still tell free from published.
  for (std::size_t capacity = 1; capacity <= max_capacity_checked; ++capacity) {
    CAPTURE(capacity);
    mpsc_ring<int> ring(capacity);
    model m{capacity, {}};
    for (int i = 0; i < 100000; ++i) {
      const int burst = static_cast<int>(i % (capacity + 2));  // sometimes more than fits
      for (int k = 0; k < burst; ++k) REQUIRE(ring.try_push(i) == m.push(i));
      const int take = static_cast<int>((i * 7) % (capacity + 1));
      for (int k = 0; k < take; ++k) {
        const auto expected = m.pop();
        int got = -1;
        REQUIRE(ring.try_pop(got) == expected.has_value());
        if (expected) REQUIRE(got == *expected);
      }
    }
  }
}

// Regression (issue 13, defect 2): with capacity 1, the second delivery
// before a read overwrote the cell's sequence word ("published at 0" was
// the same number as "free for 1"); try_recv() then never returned anything
// again and dropped() stayed 0.
TEST_CASE("a stream of capacity 1 keeps the first delivery, counts the second as dropped, and keeps working") {
  in_child([] {
    sigkit::stream s{{sigkit::realtime(4)}, {.capacity = 1}};
    CHECK(s.capacity() == 1);
    for (int round = 0; round < 3; ++round) {
      CAPTURE(round);
      union sigval v {};
      v.sival_int = 10 * round + 1;
      REQUIRE(::sigqueue(::getpid(), rt(4), v) == 0);
      v.sival_int = 10 * round + 2;
      REQUIRE(::sigqueue(::getpid(), rt(4), v) == 0);
      REQUIRE(sigkit_test::wait_until([&] { return s.dropped() == static_cast<std::uint64_t>(round + 1); }, 5s));
      auto e = s.try_recv();
      REQUIRE(e.has_value());
      CHECK(e->value.sival_int == 10 * round + 1);
      CHECK_FALSE(s.try_recv().has_value());
    }
  });
}

TEST_CASE("streams of capacity 1..8 match the model for every sequence of deliveries and reads of up to 10 steps") {
  in_child(
      [] {
        for (std::size_t capacity = 1; capacity <= max_capacity_checked; ++capacity) {
          CAPTURE(capacity);
          for (std::uint32_t ops = 0; ops < (1u << 10); ++ops) {
            sigkit::stream s{{sigkit::realtime(5)}, {.capacity = capacity}};
            sigkit::flag handled{{sigkit::realtime(5)}};  // counts what the handler saw
            model m{capacity, {}};
            int next = 0;
            for (int i = 0; i < 10; ++i) {
              if ((ops >> i) & 1u) {
                m.push(next);
                union sigval v {};
                v.sival_int = next++;
                const auto before = handled.count();
                REQUIRE(::sigqueue(::getpid(), rt(5), v) == 0);
                // One delivery at a time, so that nothing merges on the way.
                REQUIRE(sigkit_test::wait_until([&] { return handled.count() == before + 1; }, 5s));
              } else {
                const auto expected = m.pop();
                const auto got = s.try_recv();
                REQUIRE_MESSAGE(got.has_value() == expected.has_value(), "ops " << ops << " step " << i);
                if (got) REQUIRE_MESSAGE(got->value.sival_int == *expected, "ops " << ops << " step " << i);
              }
              REQUIRE_MESSAGE(s.dropped() == m.dropped, "ops " << ops << " step " << i);
            }
            while (auto expected = m.pop()) {
              const auto got = s.try_recv();
              REQUIRE(got.has_value());
              REQUIRE(got->value.sival_int == *expected);
            }
            CHECK_FALSE(s.try_recv().has_value());
            CHECK(m.received + m.dropped == m.sent);
          }
        }
      },
      120s);
}

namespace {

// A record that says who pushed it and its rank among that source's pushes.
struct tagged {
  std::uint32_t source;
  std::uint32_t rank;
};

constexpr int producers = 4;
// Sources: 0..producers-1 are the threads' ordinary pushes; producers + k is
// the signal handler's pushes on thread k (nested: it interrupts a push).
constexpr int sources = 2 * producers;

mpsc_ring<tagged>* g_ring = nullptr;
thread_local int t_index = -1;
std::atomic<std::uint64_t> g_pushed[sources];
std::atomic<std::uint64_t> g_refused[sources];
std::atomic<std::uint64_t> g_nested_rank[producers];

// Pushes from inside a push: the producer thread was interrupted wherever it
// was, possibly between its claim and its publish. Async-signal-safe.
extern "C" void nested_push(int) {
  const int k = t_index;
  if (k < 0) return;
  const int src = producers + k;
  const auto rank = static_cast<std::uint32_t>(g_nested_rank[k].fetch_add(1, std::memory_order_relaxed));
  if (g_ring->try_push(tagged{static_cast<std::uint32_t>(src), rank}))
    g_pushed[src].fetch_add(1, std::memory_order_relaxed);
  else
    g_refused[src].fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

TEST_CASE("concurrent and nested producers: nothing lost, nothing duplicated, each source's order kept") {
  in_child(
      [] {
        for (const std::size_t capacity : {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{64}}) {
          CAPTURE(capacity);
          mpsc_ring<tagged> ring(capacity);
          g_ring = &ring;
          for (int i = 0; i < sources; ++i) g_pushed[i] = g_refused[i] = 0;
          for (int i = 0; i < producers; ++i) g_nested_rank[i] = 0;
          struct sigaction act {};
          act.sa_handler = nested_push;
          sigemptyset(&act.sa_mask);
          act.sa_flags = SA_RESTART;
          REQUIRE(::sigaction(SIGUSR1, &act, nullptr) == 0);

          // Each producer pushes at least per_producer times, and until its
          // own timer (every 50 us, delivered to that thread only, so it
          // interrupts the push loop wherever it is, however loaded the
          // machine) has made its handler push at least min_nested times.
          // (Under TSan, whose runtime defers a signal to its next
          // intercepted call, the handler runs between pushes instead: its
          // count is reported, not required.)
          constexpr std::uint32_t per_producer = sigkit_test::under_tsan ? 20000 : 100000;
          constexpr std::uint64_t min_nested = sigkit_test::under_tsan ? 0 : 500;
          const auto give_up = std::chrono::steady_clock::now() + 60s;
          std::atomic<int> running{producers};
          std::vector<std::uint32_t> attempts(producers, 0);
          std::vector<std::thread> threads;
          for (int k = 0; k < producers; ++k) {
            threads.emplace_back([k, &running, &attempts, give_up] {
              t_index = k;
              sigevent ev{};
              ev.sigev_notify = SIGEV_THREAD_ID;
              ev.sigev_signo = SIGUSR1;
              ev._sigev_un._tid = static_cast<pid_t>(::syscall(SYS_gettid));
              timer_t timer{};
              const bool timed = ::timer_create(CLOCK_MONOTONIC, &ev, &timer) == 0;
              const itimerspec every{{0, 50000}, {0, 50000}};
              if (timed) ::timer_settime(timer, 0, &every, nullptr);
              std::uint32_t r = 0;
              for (; r < per_producer ||
                     (g_nested_rank[k].load() < min_nested && std::chrono::steady_clock::now() < give_up);
                   ++r) {
                if (g_ring->try_push(tagged{static_cast<std::uint32_t>(k), r}))
                  g_pushed[k].fetch_add(1, std::memory_order_relaxed);
                else
                  g_refused[k].fetch_add(1, std::memory_order_relaxed);
              }
              attempts[k] = r;
              // Stop the nested source before the thread ends, so that no
              // handler runs on a thread that is going away.
              sigset_t one;
              sigemptyset(&one);
              sigaddset(&one, SIGUSR1);
              ::pthread_sigmask(SIG_BLOCK, &one, nullptr);
              if (timed) ::timer_delete(timer);
              running.fetch_sub(1);
            });
          }
          // The one consumer.
          std::vector<std::int64_t> last(sources, -1);
          std::vector<std::uint64_t> received(sources, 0);
          bool ordered = true, known = true;
          const auto consume = [&] {
            tagged t{};
            while (ring.try_pop(t)) {
              if (t.source >= static_cast<std::uint32_t>(sources)) {
                known = false;
                continue;
              }
              if (static_cast<std::int64_t>(t.rank) <= last[t.source]) ordered = false;
              last[t.source] = t.rank;
              ++received[t.source];
            }
          };
          while (running.load() > 0) {
            consume();
            std::this_thread::yield();  // two cores: leave the producers room
          }
          for (auto& t : threads) t.join();
          consume();
          CHECK(known);
          CHECK_MESSAGE(ordered, "a source's records came out of order (or twice)");
          std::uint64_t nested = 0;
          for (int src = 0; src < sources; ++src) {
            CAPTURE(src);
            CHECK(received[src] == g_pushed[src].load());  // accepted = received: nothing lost
            const std::uint64_t tried = src < producers ? attempts[src] : g_nested_rank[src - producers].load();
            CHECK(g_pushed[src].load() + g_refused[src].load() == tried);
            if (src >= producers) {
              CHECK(tried >= min_nested);  // the handler did interrupt this producer, often
              nested += tried;
            }
          }
          MESSAGE("capacity " << capacity << ": nested pushes " << nested);
        }
      },
      120s);
}

TEST_CASE("a ring refuses capacity 0 and capacities above the maximum, naming the value") {
  CHECK_THROWS_WITH_AS(mpsc_ring<int>{0}, doctest::Contains("capacity 0"), std::invalid_argument);
  const std::size_t huge = sigkit::detail::max_ring_capacity + 1;
  const std::string named = "capacity " + std::to_string(huge) + " is more than the maximum";
  CHECK_THROWS_WITH_AS(mpsc_ring<int>{huge}, doctest::Contains(named.c_str()), std::length_error);
  CHECK_THROWS_AS(mpsc_ring<int>{static_cast<std::size_t>(-1)}, std::length_error);
  mpsc_ring<int> one(1);
  CHECK(one.capacity() == 1);
}
