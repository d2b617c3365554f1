// Tests for sigkit/wakeup_group.hpp: streams that share one wakeup. One
// delivery to many waiting streams makes one write(); each stream keeps its
// own ring and dropped(); an event loop that calls try_recv() on every
// stream after each wakeup loses nothing. Every test runs in a forked child.
#include <sigkit/mask.hpp>
#include <sigkit/stream.hpp>
#include <sigkit/wakeup_group.hpp>

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using sigkit_test::in_child;

namespace {

int rt(int k) { return SIGRTMIN + k; }

bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1;
}

// Once every event is taken, the descriptor may still be readable: a
// notification written for an event the loop then took in the same round
// is still unread (one spurious wakeup, which wakeup_group allows). One
// more round of try_recv() on every member must find nothing and leave
// the descriptor quiet; a held count that drifted would re-arm it here and
// the loop would spin.
void expect_quiet_after_one_round(const sigkit::wakeup_group& group, std::vector<sigkit::stream>& streams) {
  for (auto& s : streams) CHECK_FALSE(s.try_recv().has_value());
  CHECK_FALSE(readable(group.fd()));
}

// The notifications made to a wakeup since the last read: an eventfd's
// counter, or the bytes in a self-pipe.
std::uint64_t notifications(int fd) {
#if SIGKIT_HAVE_EVENTFD
  std::uint64_t n = 0;
  return ::read(fd, &n, sizeof n) == static_cast<ssize_t>(sizeof n) ? n : 0;
#else
  char buf[256];
  const ssize_t n = ::read(fd, buf, sizeof buf);
  return n > 0 ? static_cast<std::uint64_t>(n) : 0;
#endif
}

}  // namespace

TEST_CASE("one delivery to 64 streams of a wakeup group makes one notification, and every stream gets the event") {
  in_child([] {
    sigkit::wakeup_group group;
    REQUIRE(group.valid());
    std::vector<sigkit::stream> streams;
    for (int i = 0; i < 64; ++i)
      streams.emplace_back(sigkit::signal_set{sigkit::user1}, sigkit::stream_options{.shared_wakeup = &group});
    for (auto& s : streams) CHECK(s.fd() == group.fd());
    CHECK_FALSE(readable(group.fd()));
    REQUIRE(::raise(SIGUSR1) == 0);
    CHECK(readable(group.fd()));
    CHECK(notifications(group.fd()) == 1);  // one write for 64 streams
    for (auto& s : streams) {
      auto e = s.try_recv();
      REQUIRE(e.has_value());
      CHECK(e->signal == sigkit::user1);
      CHECK_FALSE(s.try_recv().has_value());
    }
  });
}

// Skipped under TSan as stream_test's queued-value cases are: TSan defers
// signals and does not keep their queued siginfo values.
TEST_CASE("each stream of a group keeps its own ring and dropped()" * doctest::skip(sigkit_test::under_tsan)) {
  in_child([] {
    sigkit::wakeup_group group;
    sigkit::stream small{{sigkit::realtime(1)}, {.capacity = 2, .shared_wakeup = &group}};
    sigkit::stream large{{sigkit::realtime(1)}, {.capacity = 64, .shared_wakeup = &group}};
    {
      sigkit::scoped_block hold{{sigkit::realtime(1)}};
      for (int i = 0; i < 5; ++i) {
        union sigval v {};
        v.sival_int = i;
        REQUIRE(::sigqueue(::getpid(), rt(1), v) == 0);
      }
    }
    CHECK(small.dropped() == 3);
    CHECK(large.dropped() == 0);
    for (int i = 0; i < 2; ++i) CHECK(small.try_recv()->value.sival_int == i);
    CHECK_FALSE(small.try_recv().has_value());
    for (int i = 0; i < 5; ++i) CHECK(large.try_recv()->value.sival_int == i);
    CHECK_FALSE(large.try_recv().has_value());
    CHECK(small.capacity() == 2);
    CHECK(large.capacity() == 64);
    CHECK_FALSE(readable(group.fd()));  // dropped deliveries are not held: nothing keeps it readable
  });
}

// The lost wakeup that the event-loop storm below found once in CI: a
// member with an empty ring drained the shared descriptor and so consumed
// the notification of an event that had just arrived in a member visited
// before it. Deterministic: one thread, raise() delivers before it returns.
TEST_CASE("a member that drains the group's descriptor leaves it readable for another member's event") {
  in_child([] {
    sigkit::wakeup_group group;
    sigkit::stream a{{sigkit::user1}, {.shared_wakeup = &group}};
    sigkit::stream b{{sigkit::user2}, {.shared_wakeup = &group}};
    CHECK_FALSE(a.try_recv().has_value());  // the loop visits a: nothing yet
    REQUIRE(::raise(SIGUSR1) == 0);         // a's event arrives
    CHECK_FALSE(b.try_recv().has_value());  // the loop visits b: empty, drains
    CHECK(readable(group.fd()));            // a's event must still wake the loop
    auto e = a.try_recv();
    REQUIRE(e.has_value());
    CHECK(e->signal == sigkit::user1);
    CHECK_FALSE(a.try_recv().has_value());
    CHECK_FALSE(b.try_recv().has_value());
    CHECK_FALSE(readable(group.fd()));  // nothing left: no spurious wakeup either
  });
}

// The consumer's side of a shared wakeup is O(1) per delivery too: an event
// loop that visits 64 members after one delivery reads the shared
// descriptor once (the last empty member drains it), not once per member,
// and leaves it unreadable. (Failed on 1d507b4: a drain by every empty
// member, each followed by a re-notification while others held events,
// made 64 reads and 64 writes per delivery, and a scan of every member's
// ring after each: O(n^2).) Reads are counted through the sys() seam.
namespace {
std::atomic<int> group_reads{0};
std::atomic<int> counted_fd{-1};
ssize_t counting_read(int fd, void* buf, size_t n) {
  if (fd == counted_fd.load()) ++group_reads;
  return ::read(fd, buf, n);
}
}  // namespace

TEST_CASE("an event loop serving 64 streams of a group reads the shared descriptor once per delivery") {
  in_child([] {
    sigkit::wakeup_group group;
    std::vector<sigkit::stream> streams;
    for (int i = 0; i < 64; ++i)
      streams.emplace_back(sigkit::signal_set{sigkit::user1}, sigkit::stream_options{.shared_wakeup = &group});
    counted_fd = group.fd();
    sigkit::detail::sys().read = counting_read;
    for (int round = 0; round < 10; ++round) {
      group_reads = 0;
      REQUIRE(::raise(SIGUSR1) == 0);
      REQUIRE(readable(group.fd()));
      int got = 0;
      for (auto& s : streams)
        while (s.try_recv()) ++got;
      INFO("round ", round);
      CHECK(got == 64);
      CHECK(group_reads.load() == 1);
      CHECK_FALSE(readable(group.fd()));  // nothing left: no spurious wakeup
    }
    sigkit::detail::sys().read = ::read;
  });
}

// recv_for() with nothing to wait for (zero or less) looks once, like
// try_recv(): while another member holds an event it neither reads nor
// rewrites the shared descriptor. (Failed before: it drained and notified
// again, one read and one write per call.)
TEST_CASE("recv_for(0) on a member of a group looks once without touching the shared descriptor") {
  in_child([] {
    sigkit::wakeup_group group;
    sigkit::stream a{{sigkit::user1}, {.shared_wakeup = &group}};
    sigkit::stream b{{sigkit::user2}, {.shared_wakeup = &group}};
    REQUIRE(::raise(SIGUSR2) == 0);  // b holds an event
    counted_fd = group.fd();
    group_reads = 0;
    sigkit::detail::sys().read = counting_read;
    for (const auto d : sigkit_test::no_wait_durations) {
      if (d > 0ns) continue;  // 1 ns may wait
      CHECK_FALSE(a.recv_for(d).has_value());
    }
    sigkit::detail::sys().read = ::read;
    CHECK(group_reads.load() == 0);
    CHECK(readable(group.fd()));
    CHECK(b.try_recv().has_value());
  });
}

// A member destroyed while it still holds events takes them with it: the
// descriptor does not stay readable for events nobody can take (the loop
// would spin).
TEST_CASE("a member destroyed with events in its ring leaves the group's descriptor quiet") {
  in_child([] {
    sigkit::wakeup_group group;
    std::optional<sigkit::stream> a{std::in_place, sigkit::signal_set{sigkit::user1},
                                    sigkit::stream_options{.shared_wakeup = &group}};
    sigkit::stream b{{sigkit::user2}, {.shared_wakeup = &group}};
    REQUIRE(::raise(SIGUSR1) == 0);
    REQUIRE(::raise(SIGUSR2) == 0);
    {
      const sigkit::scoped_block hold{{sigkit::user1}};
      a.reset();
    }
    CHECK(readable(group.fd()));
    CHECK(b.try_recv().has_value());
    CHECK_FALSE(b.try_recv().has_value());
    CHECK_FALSE(readable(group.fd()));
  });
}

// Model-based: 1 to 4 member streams (SIGUSR1, SIGUSR2, SIGRTMIN+1, +2;
// each holding at most one event at a time, so the kernel merges nothing),
// a random sequence of "signal member k" and "try_recv() on member j". The
// invariant checked after every step: the descriptor is readable whenever
// a member holds an event, and each try_recv() returns what the model says.
TEST_CASE("a wakeup group's descriptor is readable whenever a member holds an event (model)") {
  in_child([] {
    const int signos[4] = {SIGUSR1, SIGUSR2, rt(1), rt(2)};
    for (int members = 1; members <= 4; ++members)
      for (unsigned seed = 1; seed <= 50; ++seed) {
        sigkit::wakeup_group group;
        std::vector<sigkit::stream> streams;
        for (int k = 0; k < members; ++k)
          streams.emplace_back(sigkit::signal_set{sigkit::signal(signos[k])},
                               sigkit::stream_options{.shared_wakeup = &group});
        bool held[4] = {false, false, false, false};
        std::mt19937 rng(seed);
        for (int step = 0; step < 60; ++step) {
          const int k = static_cast<int>(rng() % static_cast<unsigned>(members));
          if (rng() % 2 == 0) {
            if (held[k]) continue;
            REQUIRE(::raise(signos[k]) == 0);
            held[k] = true;
          } else {
            const auto e = streams[static_cast<std::size_t>(k)].try_recv();
            REQUIRE(e.has_value() == held[k]);
            if (e) CHECK(e->signal == sigkit::signal(signos[k]));
            held[k] = false;
          }
          const bool any = std::find(std::begin(held), std::end(held), true) != std::end(held);
          INFO("members=", members, " seed=", seed, " step=", step);
          if (any) REQUIRE(readable(group.fd()));
        }
      }
  });
}

TEST_CASE("a forked child cannot add a stream to its parent's group, and may drop the parent's members") {
  in_child([] {
    sigkit::wakeup_group group;
    std::optional<sigkit::stream> member{std::in_place, sigkit::signal_set{sigkit::user1},
                                         sigkit::stream_options{.shared_wakeup = &group}};
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      int code = 0;
      try {
        sigkit::stream s{{sigkit::user2}, {.shared_wakeup = &group}};
        code = 1;  // joined a group whose descriptor belongs to the parent
      } catch (const std::logic_error& e) {
        if (std::string(e.what()).find("forked child") == std::string::npos) code = 2;
      } catch (...) {
        code = 3;
      }
      member.reset();  // leaves without the group's lock
      ::_exit(code);
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    REQUIRE(::raise(SIGUSR1) == 0);  // the parent's member still works
    CHECK(member->try_recv().has_value());
  });
}

TEST_CASE("an event loop polling a group's descriptor and draining every stream loses nothing" *
          doctest::skip(sigkit_test::under_tsan)) {
  in_child(
      [] {
        // Three real-time signals (they queue: every send is one event), one
        // stream each, one group; a sender thread sends in bursts while the
        // loop polls the group and drains every stream after each wakeup.
        sigkit::wakeup_group group;
        std::vector<sigkit::stream> streams;
        for (int k = 0; k < 3; ++k)
          streams.emplace_back(sigkit::signal_set{sigkit::realtime(k + 1)},
                               sigkit::stream_options{.capacity = 4096, .shared_wakeup = &group});
        constexpr int per_signal = 2000;
        std::atomic<bool> sent_all{false};
        std::thread sender([&] {
          const sigkit::scoped_block quiet{{sigkit::realtime(1), sigkit::realtime(2), sigkit::realtime(3)}};
          std::mt19937 rng(17);
          int left[3] = {per_signal, per_signal, per_signal};
          for (int sent = 0; sent < 3 * per_signal;) {
            const int k = static_cast<int>(rng() % 3);
            if (left[k] == 0) continue;
            union sigval v {};
            v.sival_int = per_signal - left[k];
            while (::sigqueue(::getpid(), rt(k + 1), v) != 0)
              std::this_thread::yield();  // EAGAIN: let the loop catch up
            --left[k];
            ++sent;
            if (rng() % 64 == 0) std::this_thread::sleep_for(50us);  // let the loop go to sleep now and then
          }
          sent_all = true;
        });
        // Every value of every signal exactly once. (Not their order: a
        // handler-path stream fed by another thread's sigqueue() showed rare
        // reordering of one signal's queued values with or without a group;
        // that is reported apart, it is not the group's doing.)
        std::vector<int> seen[3];
        for (auto& v : seen) v.assign(per_signal, 0);
        int received = 0;
        while (received < 3 * per_signal) {
          pollfd p{group.fd(), POLLIN, 0};
          const int r = ::poll(&p, 1, 10'000);
          if (r == 0) break;  // a lost wakeup: 10 s with events left
          for (int k = 0; k < 3; ++k)
            while (auto e = streams[static_cast<std::size_t>(k)].try_recv()) {
              const int value = e->value.sival_int;
              if (value >= 0 && value < per_signal) ++seen[k][static_cast<std::size_t>(value)];
              ++received;
            }
        }
        sender.join();
        CHECK(received == 3 * per_signal);
        expect_quiet_after_one_round(group, streams);
        for (const auto& v : seen) CHECK(std::count(v.begin(), v.end(), 1) == per_signal);
        for (auto& s : streams) CHECK(s.dropped() == 0);
        CHECK(sent_all);
      },
      60s);
}

// Handlers on a thread other than the consumer's, rings small enough to
// drop, three members: every delivery is either taken or counted as
// dropped, no wakeup is lost (a 10 s poll timeout with deliveries missing
// fails), and once everything is accounted for the descriptor is quiet (a
// count that drifted would keep it readable and the loop spinning).
TEST_CASE("handlers on another thread and full rings: a group loop loses nothing and ends quiet" *
          doctest::skip(sigkit_test::under_tsan)) {
  in_child(
      [] {
        const sigkit::signal_set all{sigkit::realtime(1), sigkit::realtime(2), sigkit::realtime(3)};
        const sigkit::scoped_block consumer_blocks{all};  // the helper below takes every delivery
        sigkit::wakeup_group group;
        std::vector<sigkit::stream> streams;
        for (int k = 0; k < 3; ++k)
          streams.emplace_back(sigkit::signal_set{sigkit::realtime(k + 1)},
                               sigkit::stream_options{.capacity = 8, .shared_wakeup = &group});
        std::atomic<bool> stop{false};
        std::thread taker([&] {
          const sigset_t take = all.to_sigset();
          ::pthread_sigmask(SIG_UNBLOCK, &take, nullptr);
          while (!stop.load()) std::this_thread::sleep_for(1ms);
        });
        constexpr int per_signal = 3000;
        std::atomic<int> sent{0};
        std::thread sender([&] {  // inherits the consumer's mask: blocks all three
          std::mt19937 rng(29);
          for (int i = 0; i < 3 * per_signal; ++i) {
            union sigval v {};
            v.sival_int = i;
            while (::sigqueue(::getpid(), rt(static_cast<int>(rng() % 3) + 1), v) != 0) std::this_thread::yield();
            ++sent;
            if (rng() % 128 == 0) std::this_thread::sleep_for(100us);
          }
        });
        std::uint64_t received = 0;
        const auto dropped = [&] {
          std::uint64_t d = 0;
          for (auto& s : streams) d += s.dropped();
          return d;
        };
        bool lost = false;
        while (received + dropped() < 3 * per_signal) {
          pollfd p{group.fd(), POLLIN, 0};
          if (::poll(&p, 1, 10'000) == 0) {
            lost = true;
            break;
          }
          for (auto& s : streams)
            while (s.try_recv()) ++received;
        }
        sender.join();
        stop = true;
        taker.join();
        CHECK_FALSE(lost);
        CHECK(sent.load() == 3 * per_signal);
        CHECK(received + dropped() == 3u * per_signal);
        CHECK(dropped() > 0);  // the rings did fill: the drop path was exercised
        expect_quiet_after_one_round(group, streams);
      },
      60s);
}

TEST_CASE("recv, recv_for and stop tokens work on a stream of a group") {
  in_child([] {
    sigkit::wakeup_group group;
    sigkit::stream a{{sigkit::user1}, {.shared_wakeup = &group}};
    sigkit::stream b{{sigkit::user2}, {.shared_wakeup = &group}};
    CHECK_FALSE(a.recv_for(20ms).has_value());
    std::jthread sender = sigkit_test::send_to_self_from_thread(sigkit::user1, 20ms);
    CHECK(a.recv().signal == sigkit::user1);
    sender.join();
    // b's event while a consumer waits on a: a is woken (shared descriptor),
    // finds nothing of its own, and goes back to waiting; b keeps the event.
    REQUIRE(::raise(SIGUSR2) == 0);
    CHECK_FALSE(a.recv_for(20ms).has_value());
    CHECK(readable(group.fd()));  // a drained while it waited: b's event still wakes the loop
    CHECK(b.try_recv()->signal == sigkit::user2);
    std::stop_source stop;
    std::thread stopper([&] {
      std::this_thread::sleep_for(20ms);
      stop.request_stop();
    });
    CHECK_FALSE(b.recv(stop.get_token()).has_value());
    stopper.join();
  });
}

TEST_CASE("the streams keep a group's wakeup alive, and bad combinations are refused") {
  in_child([] {
    std::optional<sigkit::stream> s;
    {
      sigkit::wakeup_group group;
      s.emplace(sigkit::signal_set{sigkit::user1}, sigkit::stream_options{.shared_wakeup = &group});
    }  // the handle is gone; the stream still owns the wakeup
    REQUIRE(::raise(SIGUSR1) == 0);
    CHECK(s->recv_for(5s).has_value());

    sigkit::wakeup_group group;
    CHECK_THROWS_AS((sigkit::stream{{sigkit::user2}, {.queue = sigkit::queue_kind::kernel, .shared_wakeup = &group}}),
                    std::invalid_argument);
    std::error_code ec;
    sigkit::stream refused({sigkit::user2}, {.queue = sigkit::queue_kind::kernel, .shared_wakeup = &group}, ec);
    CHECK(ec == std::errc::invalid_argument);
  });
}
