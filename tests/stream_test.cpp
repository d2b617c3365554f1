// Tests for sigkit/stream.hpp: typed streams, siginfo, waits, overflow
// accounting, lost wakeups, fd hygiene, fork. Every test that changes signal
// state runs in a forked child (in_child) so nothing leaks between tests.
#include <sigkit/action.hpp>
#include <sigkit/inspect.hpp>
#include <sigkit/mask.hpp>
#include <sigkit/stream.hpp>

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <random>
#include <span>
#include <thread>
#include <vector>

#include "support.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using sigkit_test::in_child;

namespace {

int rt(int k) { return SIGRTMIN + k; }

void queue_self(int signo, int value) {
  union sigval v {};
  v.sival_int = value;
  REQUIRE(::sigqueue(::getpid(), signo, v) == 0);
}

}  // namespace

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
    CHECK(s.signals() == sigkit::signal_set{sigkit::user1, sigkit::interrupt});
  });
}

TEST_CASE("a sigqueue payload and a child's exit status arrive in the event") {
  in_child([] {
    sigkit::stream s{{sigkit::realtime(3), sigkit::child}};
    queue_self(rt(3), 4242);
    auto e = s.recv_for(5s);
    REQUIRE(e.has_value());
    CHECK(e->signal.number() == rt(3));
    CHECK(e->value.sival_int == 4242);
    CHECK(e->from.code == SI_QUEUE);
    CHECK(e->from_user());

    const pid_t kid = ::fork();
    REQUIRE(kid >= 0);
    if (kid == 0) ::_exit(7);
    auto c = s.recv_for(5s);
    REQUIRE(c.has_value());
    CHECK(c->signal == sigkit::child);
    CHECK(c->from.pid == kid);
    CHECK(c->from.code == CLD_EXITED);
    CHECK(c->child_status == 7);
    CHECK(c->from_kernel());
    CHECK_FALSE(c->from_user());
    int status = 0;
    CHECK(::waitpid(kid, &status, 0) == kid);
  });
}

TEST_CASE("sixteen streams on one signal all see every delivery") {
  in_child([] {
    std::vector<sigkit::stream> streams;
    for (int i = 0; i < 16; ++i) streams.emplace_back(sigkit::signal_set{sigkit::user2});
    for (int round = 0; round < 3; ++round) {
      REQUIRE(::raise(SIGUSR2) == 0);
      for (auto& s : streams) {
        auto e = s.recv_for(5s);
        REQUIRE(e.has_value());
        CHECK(e->signal == sigkit::user2);
      }
    }
    for (auto& s : streams) CHECK_FALSE(s.try_recv().has_value());
  });
}

TEST_CASE("500 queued real-time signals are all delivered in order with their values" *
          doctest::skip(sigkit_test::under_tsan)) {
  in_child([] {
    sigkit::stream s{{sigkit::realtime(1)}, {.capacity = 1024}};
    {
      // Queue them in the kernel first, then let them all in at once.
      sigkit::scoped_block hold{{sigkit::realtime(1)}};
      for (int i = 0; i < 500; ++i) queue_self(rt(1), i);
    }
    for (int i = 0; i < 500; ++i) {
      auto e = s.recv_for(5s);
      REQUIRE(e.has_value());
      REQUIRE(e->value.sival_int == i);
    }
    CHECK_FALSE(s.try_recv().has_value());
    CHECK(s.dropped() == 0);
  });
}

// The order promise (issue 13, defect 8): a stream gets one sender's
// real-time payloads in the order the kernel queued them when one thread at
// a time runs the handler for that signal: here the consumer is the only
// thread that leaves it unblocked, while three other threads run and the
// sender (which blocks it too) queues 12 000 payloads without waiting for
// them. (With several threads leaving it unblocked, the kernel hands
// consecutive signals to different threads whose handlers record them
// concurrently: 1 to 33 of 12 000 came out of order in issue 13's
// measurement, none lost. README, "What arrives".) Under TSan, whose
// runtime defers and merges queued real-time signals, only the order of
// what arrives is checked.
TEST_CASE("one sender's real-time payloads arrive in order when only one thread leaves the signal unblocked") {
  in_child(
      [] {
        constexpr int count = 12000;
        const int signo = rt(6);
        sigkit::stream s{{sigkit::realtime(6)}, {.capacity = count}};
        const pid_t self = ::getpid();
        sigset_t one;
        sigemptyset(&one);
        sigaddset(&one, signo);
        std::atomic<bool> done{false};
        // Other threads exist and run, but block the signal: they are made
        // with it blocked (a thread starts with its creator's mask), and
        // only then does this thread unblock it.
        REQUIRE(::pthread_sigmask(SIG_BLOCK, &one, nullptr) == 0);
        std::vector<std::thread> others;
        for (int i = 0; i < 3; ++i)
          others.emplace_back([&] {
            while (!done.load()) std::this_thread::sleep_for(100us);
          });
        std::atomic<int> sent{0};
        std::thread sender([&] {
          for (int i = 0; i < count;) {
            union sigval v {};
            v.sival_int = i;
            if (::sigqueue(self, signo, v) == 0) {
              sent.store(++i);
            } else if (errno == EAGAIN) {
              std::this_thread::sleep_for(100us);  // RLIMIT_SIGPENDING: let the consumer catch up
            } else {
              break;
            }
          }
        });
        // The consumer: this thread, the only one that leaves it unblocked.
        REQUIRE(::pthread_sigmask(SIG_UNBLOCK, &one, nullptr) == 0);
        int received = 0, out_of_order = 0, last = -1;
        const auto deadline = std::chrono::steady_clock::now() + 60s;
        while (received < count && std::chrono::steady_clock::now() < deadline) {
          auto e = s.recv_for(200ms);
          if (!e) {
            if (sent.load() == count && sigkit_test::under_tsan) break;  // merged away under TSan
            continue;
          }
          if (e->value.sival_int <= last) ++out_of_order;
          last = e->value.sival_int;
          ++received;
        }
        sender.join();
        done.store(true);
        for (auto& t : others) t.join();
        CHECK(sent.load() == count);
        CHECK(out_of_order == 0);
        CHECK(s.dropped() == 0);
        if (!sigkit_test::under_tsan) CHECK(received == count);
        MESSAGE("received " << received << " of " << count << ", out of order " << out_of_order);
      },
      90s);
}

TEST_CASE("a small ring keeps the oldest events and counts exactly what it dropped" *
          doctest::skip(sigkit_test::under_tsan)) {
  in_child([] {
    sigkit::stream s{{sigkit::realtime(2)}, {.capacity = 4}};
    CHECK(s.capacity() == 4);
    {
      sigkit::scoped_block hold{{sigkit::realtime(2)}};
      for (int i = 0; i < 10; ++i) queue_self(rt(2), i);
    }
    CHECK(s.dropped() == 6);
    for (int i = 0; i < 4; ++i) {
      auto e = s.try_recv();
      REQUIRE(e.has_value());
      CHECK(e->value.sival_int == i);
    }
    CHECK_FALSE(s.try_recv().has_value());
    // Room again: new deliveries are kept.
    queue_self(rt(2), 99);
    auto e = s.recv_for(5s);
    REQUIRE(e.has_value());
    CHECK(e->value.sival_int == 99);
    CHECK(s.dropped() == 6);
  });
}

TEST_CASE("a consumer thread is always woken by the last signal of a burst") {
  in_child(
      [] {
        sigkit::stream s{{sigkit::realtime(4), sigkit::user1}, {.capacity = 256}};
        std::mutex m;
        std::condition_variable cv;
        // Counted, not "the last value seen": the handler may run on the
        // consumer's thread and the sender's at once, and two handlers record
        // in the order they reach the ring (stream's "Order"), so the last
        // value sent need not be the last one taken.
        int realtime_seen = 0;
        std::vector<int> times_seen;
        long standard_seen = 0;
        std::jthread consumer([&](std::stop_token stop) {
          while (auto e = s.recv(stop)) {
            std::lock_guard lock(m);
            if (e->signal == sigkit::user1) {
              ++standard_seen;
            } else {
              ++realtime_seen;
              const auto v = static_cast<std::size_t>(e->value.sival_int);
              if (v >= times_seen.size()) times_seen.resize(v + 1);
              ++times_seen[v];
            }
            cv.notify_all();
          }
        });
        std::mt19937 rng(12345);
        int next = 0;
        for (int burst = 0; burst < 300; ++burst) {
          const int n = std::uniform_int_distribution<int>(1, 40)(rng);
          long standard_before;
          {
            std::lock_guard lock(m);
            standard_before = standard_seen;
          }
          for (int i = 0; i < n; ++i) queue_self(rt(4), next++);
          const int k = std::uniform_int_distribution<int>(1, 5)(rng);
          for (int i = 0; i < k; ++i) REQUIRE(::kill(::getpid(), SIGUSR1) == 0);
          std::unique_lock lock(m);
          const bool woke =
              cv.wait_for(lock, 5s, [&] { return realtime_seen == next && standard_seen > standard_before; });
          REQUIRE_MESSAGE(woke, "burst " << burst << ": consumer took " << realtime_seen << " of " << next
                                         << " real-time events, SIGUSR1 " << standard_seen - standard_before
                                         << " times");
        }
        CHECK(s.dropped() == 0);
        {
          std::lock_guard lock(m);
          REQUIRE(times_seen.size() == static_cast<std::size_t>(next));
          CHECK(std::count(times_seen.begin(), times_seen.end(), 1) == next);  // each value exactly once
        }
        consumer.request_stop();
      },
      60s);
}

// sigkit_run_test's recorder died of SIGSEGV under ASan when a burst of
// different signals reached it: sigkit's handler blocked nothing, so each
// signal nested another signal frame on the thread's alternate stack (its
// SA_ONSTACK; ASan's runtime installs such a stack) until it overflowed and
// the kernel killed the process. The handler now blocks every signal while
// it runs: one frame at a time, however many signals are pending.
TEST_CASE("a burst of every catchable signal on a small alternate stack is delivered one handler at a time") {
  in_child([] {
    // 32 KiB holds one signal frame and the handler; 60 nested frames of
    // more than 1 KiB each (with the FPU state) do not fit.
    static std::vector<char> alt(32 * 1024);
    stack_t ss{};
    ss.ss_sp = alt.data();
    ss.ss_size = alt.size();
    REQUIRE(::sigaltstack(&ss, nullptr) == 0);
    sigkit::signal_set set;
    for (int n = 1; n < NSIG; ++n)
      if (sigkit::signal{n}.catchable() && !sigkit::signal{n}.synchronous()) set.insert(sigkit::signal{n});
    // The kernel discards a pending SIGCONT when a stop signal is sent (and
    // the reverse): they cannot all be pending at once.
    set.erase(sigkit::signal{SIGCONT});
    REQUIRE(set.size() >= 50);
    sigkit::stream s{set, {.capacity = 256}};
    // All pending on this thread at once; unblocking them lets the kernel
    // deliver them back to back (nested, without the mask).
    const sigset_t all = set.to_sigset();
    sigset_t old;
    REQUIRE(::pthread_sigmask(SIG_BLOCK, &all, &old) == 0);
    for (const sigkit::signal sig : set) REQUIRE(::raise(sig.number()) == 0);
    REQUIRE(::pthread_sigmask(SIG_SETMASK, &old, nullptr) == 0);
    sigkit::signal_set got;
    while (const auto e = s.try_recv()) got.insert(e->signal);
    CHECK_MESSAGE(got == set, "missing: " << (set - got).to_string());
    CHECK(s.dropped() == 0);
    ss.ss_flags = SS_DISABLE;
    REQUIRE(::sigaltstack(&ss, nullptr) == 0);
  });
}

TEST_CASE("errno is preserved across the handler, even when a chained handler changes it") {
  in_child([] {
    struct sigaction clobber {};
    clobber.sa_handler = [](int) { errno = EIO; };
    sigemptyset(&clobber.sa_mask);
    sigkit::scoped_action foreign(sigkit::user1, clobber);
    sigkit::stream s{{sigkit::user1}};
    int got = 0;
    for (int i = 0; i < 100; ++i) {
      errno = 4242;
      ::raise(SIGUSR1);
      REQUIRE(errno == 4242);
      while (s.try_recv()) ++got;
    }
    CHECK(got == 100);
    CHECK(s.dropped() == 0);
  });
}

TEST_CASE("refused signals throw invalid_argument naming the signal and change nothing") {
  in_child([] {
    const auto before = sigkit_test::all_dispositions::capture();
    const int fds = sigkit_test::open_fd_count();
    struct refusal {
      sigkit::signal_set set;
      const char* text;
    };
    sigkit::signal_set with_kill{sigkit::interrupt, sigkit::signal{SIGKILL}};
    const refusal cases[] = {
        {{sigkit::signal{SIGKILL}}, "SIGKILL cannot be caught"},
        {{sigkit::signal{SIGSTOP}}, "SIGSTOP cannot be caught"},
        {{sigkit::signal{SIGSEGV}}, "SIGSEGV is synchronous"},
        {{sigkit::signal{SIGFPE}}, "SIGFPE is synchronous"},
        {{sigkit::signal{32}}, "SIG32 is reserved by the C library"},
        {with_kill, "SIGKILL cannot be caught"},
        {{}, "the signal set is empty"},
    };
    for (const auto& c : cases) {
      CAPTURE(c.text);
      CHECK_THROWS_WITH_AS(sigkit::stream{c.set}, doctest::Contains(c.text), std::invalid_argument);
      std::error_code ec;
      sigkit::stream s(c.set, {}, ec);
      CHECK(ec == std::errc::invalid_argument);
      CHECK_FALSE(s.valid());
      CHECK(s.fd() == -1);
    }
    CHECK_THROWS_WITH_AS(sigkit::stream({sigkit::interrupt}, {.capacity = 0}), doctest::Contains("capacity 0"),
                         std::invalid_argument);
    CHECK(sigkit_test::all_dispositions::capture().diff(before) == "");
    CHECK(sigkit_test::open_fd_count() == fds);
  });
}

TEST_CASE("no descriptor leaks over 2000 streams, and every one is close-on-exec and non-blocking") {
  in_child([] {
    const int before = sigkit_test::open_fd_count();
    std::vector<sigkit::stream> alive;
    for (int i = 0; i < 2000; ++i) {
      alive.emplace_back(sigkit::signal_set{i % 2 ? sigkit::user1 : sigkit::hangup});
      const int fd = alive.back().fd();
      REQUIRE(fd >= 0);
      REQUIRE((::fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
      REQUIRE((::fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
      if (alive.size() == 50) alive.clear();  // destroy in batches, newest last
    }
    alive.clear();
    CHECK(sigkit_test::open_fd_count() == before);
  });
}

TEST_CASE("EMFILE at construction gives system_error and changes nothing") {
  in_child([] {
    const auto before = sigkit_test::all_dispositions::capture();
#if defined(SIGKIT_TEST_SANITIZED)
    // UBSan's vptr check needs a spare descriptor of its own, so sanitizer
    // builds inject EMFILE through the system-call seam instead of
    // exhausting RLIMIT_NOFILE (same sigkit code path).
    auto& sys = sigkit::detail::sys();
    const auto real_e = sys.eventfd;
    const auto real_p = sys.pipe;
    sys.eventfd = [](unsigned, int) noexcept -> int {
      errno = EMFILE;
      return -1;
    };
    sys.pipe = [](int*) noexcept -> int {
      errno = EMFILE;
      return -1;
    };
    auto lift = [&] {
      sys.eventfd = real_e;
      sys.pipe = real_p;
    };
#else
    rlimit lim{};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &lim) == 0);
    int highest = 0;
    for (int fd = 0; fd < 1024; ++fd)
      if (::fcntl(fd, F_GETFD) >= 0) highest = fd;
    rlimit low = lim;
    low.rlim_cur = static_cast<rlim_t>(highest + 1);
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
    std::vector<int> fillers;  // fill any hole below the limit
    for (int fd; (fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;) fillers.push_back(fd);
    REQUIRE(errno == EMFILE);
    auto lift = [&] {
      for (int fd : fillers) ::close(fd);
      ::setrlimit(RLIMIT_NOFILE, &lim);
    };
#endif
    // Collect the outcomes at the limit; check them after lifting it (the
    // sanitizers' own checks need a spare descriptor).
    bool constructed = false;
    std::error_code thrown;
    std::string message;
    try {
      sigkit::stream s{{sigkit::interrupt}};
      constructed = true;
    } catch (const std::system_error& e) {
      thrown = e.code();
      message = e.what();
    }
    std::error_code ec;
    sigkit::stream s2({sigkit::interrupt}, {}, ec);
    const bool s2_valid = s2.valid();
    const auto after = sigkit_test::all_dispositions::capture();
    lift();

    CHECK_FALSE(constructed);
    CHECK(thrown == std::errc::too_many_files_open);
    CHECK(message.find("{SIGINT}") != std::string::npos);
    CHECK(ec == std::errc::too_many_files_open);
    CHECK_FALSE(s2_valid);
    CHECK(after.diff(before) == "");
    sigkit::stream ok{{sigkit::interrupt}};
    CHECK(ok.valid());
  });
}

TEST_CASE("recv_for times out, and recv with a stop token returns once stop is requested") {
  in_child([] {
    sigkit::stream s{{sigkit::user1}};
    const auto t0 = std::chrono::steady_clock::now();
    CHECK_FALSE(s.recv_for(50ms).has_value());
    CHECK(std::chrono::steady_clock::now() - t0 >= 50ms);
    CHECK_FALSE(s.recv_for(0ns).has_value());

    std::stop_source src;
    std::jthread stopper([&] {
      // Wait until the main thread is about to block, then stop it.
      std::this_thread::yield();
      src.request_stop();
    });
    CHECK_FALSE(s.recv(src.get_token()).has_value());
    std::stop_source already;
    already.request_stop();
    ::raise(SIGUSR1);
    CHECK_FALSE(s.recv(already.get_token()).has_value());  // stop wins over a pending event
    CHECK(s.try_recv().has_value());                       // which is still there
  });
}

// A handler that runs on the thread waiting in recv() interrupts its
// poll(): recv() then looks at the ring at once instead of polling again to
// find the descriptor readable (one poll() per event on this path, as a
// hand-written loop makes). Polls are counted through the sys() seam; the
// signal is sent only once the waiting thread sleeps in its first poll().
// Failed on 6c1d12e (2 polls: the EINTR was retried).
namespace {
std::atomic<int> recv_polls{0};
int counting_poll(pollfd* fds, nfds_t n, int timeout) {
  ++recv_polls;
  return ::poll(fds, n, timeout);
}
}  // namespace

TEST_CASE("recv() interrupted by its own thread's handler takes the event without polling again") {
  in_child([] {
    sigkit::stream s{{sigkit::user1}};
    const auto waiter = static_cast<pid_t>(::syscall(SYS_gettid));
    sigkit::detail::sys().poll = counting_poll;
    for (int round = 0; round < 5; ++round) {
      recv_polls = 0;
      std::atomic<bool> sent{false};
      std::thread sender([&] {
        const bool asleep = sigkit_test::wait_until(
            [&] {
              std::error_code ec;
              const auto status = sigkit::inspect_status(waiter, ec);
              return recv_polls.load() == 1 && status && status->state == 'S';
            },
            5s, 100us);
        if (asleep) sent = ::syscall(SYS_tgkill, ::getpid(), waiter, SIGUSR1) == 0;
        if (!sent) ::raise(SIGUSR1);  // end the recv() anyway; the checks below fail
      });
      const auto e = s.recv();
      sender.join();
      INFO("round ", round);
      REQUIRE(sent);
      CHECK(e.signal == sigkit::user1);
      CHECK(recv_polls.load() == 1);
    }
    sigkit::detail::sys().poll = ::poll;
  });
}

// try_recv_many on a ring stream: as many as fit, in order, and the fd is
// drained exactly when the ring was emptied. Skipped under TSan as the other
// queued-value cases are (TSan does not keep queued siginfo values).
TEST_CASE("try_recv_many takes pending events in order, as many as fit, and drains the fd once the ring is empty" *
          doctest::skip(sigkit_test::under_tsan)) {
  in_child([] {
    sigkit::stream s{{sigkit::realtime(1)}, {.capacity = 64}};
    const auto readable = [&s] {
      pollfd p{s.fd(), POLLIN, 0};
      return ::poll(&p, 1, 0) == 1;
    };
    {
      const sigkit::scoped_block hold{{sigkit::realtime(1)}};
      for (int i = 0; i < 5; ++i) {
        union sigval v {};
        v.sival_int = i;
        REQUIRE(::sigqueue(::getpid(), SIGRTMIN + 1, v) == 0);
      }
    }  // unblocked: the five run the handler here
    std::vector<sigkit::event> buf(8);
    CHECK(s.try_recv_many({}) == 0);
    CHECK(readable());
    REQUIRE(s.try_recv_many(std::span(buf).first(3)) == 3);
    for (int k = 0; k < 3; ++k) CHECK(buf[static_cast<std::size_t>(k)].value.sival_int == k);
    CHECK(readable());  // two left
    REQUIRE(s.try_recv_many(buf) == 2);
    CHECK(buf[0].value.sival_int == 3);
    CHECK(buf[1].value.sival_int == 4);
    CHECK_FALSE(readable());
    CHECK(s.try_recv_many(buf) == 0);
    sigkit::stream moved = std::move(s);
    CHECK_THROWS_AS((void)s.try_recv_many(buf), std::logic_error);  // NOLINT(bugprone-use-after-move)
  });
}

TEST_CASE("a stream is a blocking input range, and until(stop) ends when stop is requested") {
  in_child([] {
    sigkit::stream s{{sigkit::realtime(5)}};
    for (int i = 0; i < 3; ++i) queue_self(rt(5), i);
    int expect = 0;
    for (const sigkit::event& e : s) {
      CHECK(e.value.sival_int == expect);
      if (++expect == 3) break;
    }
    CHECK(expect == 3);

    std::stop_source src;
    queue_self(rt(5), 10);
    int n = 0;
    for (const sigkit::event& e : s.until(src.get_token())) {
      CHECK(e.value.sival_int == 10);
      ++n;
      src.request_stop();
    }
    CHECK(n == 1);
  });
}

TEST_CASE("the fd is readable exactly while events are pending") {
  in_child([] {
    sigkit::stream s{{sigkit::user2}};
    pollfd p{s.fd(), POLLIN, 0};
    CHECK(::poll(&p, 1, 0) == 0);
    ::raise(SIGUSR2);
    CHECK(::poll(&p, 1, 1000) == 1);
    CHECK(s.try_recv().has_value());
    CHECK_FALSE(s.try_recv().has_value());
    p.revents = 0;
    CHECK(::poll(&p, 1, 0) == 0);
  });
}

TEST_CASE("a moved stream keeps receiving and the moved-from one refuses clearly") {
  in_child([] {
    sigkit::stream a{{sigkit::user1}};
    sigkit::stream b = std::move(a);
    ::raise(SIGUSR1);
    CHECK(b.recv_for(5s).has_value());
    CHECK_FALSE(a.valid());  // NOLINT(bugprone-use-after-move): testing the moved-from state
    CHECK_THROWS_WITH_AS(a.try_recv(), doctest::Contains("empty (moved from or closed)"), std::logic_error);
    std::error_code ec;
    CHECK_FALSE(a.try_recv(ec).has_value());
    CHECK(ec == std::errc::operation_not_permitted);
  });
}

TEST_CASE("stream_of checks its signals at compile time and works like a stream") {
  in_child([] {
    sigkit::stream_of<SIGUSR1, SIGUSR2> s;
    static_assert(sigkit::stream_of<SIGUSR1, SIGUSR2>::contains<SIGUSR2>);
    static_assert(!sigkit::stream_of<SIGUSR1, SIGUSR2>::contains<SIGINT>);
    ::raise(SIGUSR2);
    auto e = s.recv_for(5s);
    REQUIRE(e.has_value());
    CHECK(e->signal == sigkit::user2);
  });
}

TEST_CASE("a forked child's signals never wake the parent's stream") {
  in_child([] {
    sigkit::stream s{{sigkit::user1}};
    // The child raises SIGUSR1 at itself. It has no live subscriber, so the
    // disposition from before sigkit (SIG_DFL: terminate) applies to it.
    const pid_t kid = ::fork();
    REQUIRE(kid >= 0);
    if (kid == 0) {
      ::raise(SIGUSR1);
      ::_exit(0);  // not reached
    }
    const int status = sigkit_test::wait_pid_for(kid, 10s);
    REQUIRE(status != -1);
    CHECK(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGUSR1);
    CHECK_FALSE(s.try_recv().has_value());
    pollfd p{s.fd(), POLLIN, 0};
    CHECK(::poll(&p, 1, 0) == 0);
    // And the parent still works.
    ::raise(SIGUSR1);
    CHECK(s.recv_for(5s).has_value());
  });
}

TEST_CASE("in a forked child the inherited stream refuses and a fresh stream works") {
  in_child([] {
    sigkit::stream parent_stream{{sigkit::user1}};
    int pipefd[2];
    REQUIRE(::pipe(pipefd) == 0);
    const pid_t kid = ::fork();
    REQUIRE(kid >= 0);
    if (kid == 0) {
      int verdict = 0;
      try {
        (void)parent_stream.try_recv();
        verdict = 1;  // should have thrown
      } catch (const std::logic_error& e) {
        if (std::string(e.what()).find("forked child") == std::string::npos) verdict = 2;
      }
      sigkit::stream mine{{sigkit::user1}};
      ::raise(SIGUSR1);
      auto e = mine.recv_for(5s);
      if (!e || e->from.pid != ::getpid()) verdict = 3;
      const char byte = static_cast<char>('0' + verdict);
      (void)!::write(pipefd[1], &byte, 1);
      ::_exit(0);
    }
    ::close(pipefd[1]);
    char byte = 'x';
    pollfd p{pipefd[0], POLLIN, 0};
    REQUIRE(::poll(&p, 1, 10000) == 1);
    REQUIRE(::read(pipefd[0], &byte, 1) == 1);
    CHECK(byte == '0');
    const int status = sigkit_test::wait_pid_for(kid, 10s);
    CHECK((status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0));
    CHECK_FALSE(parent_stream.try_recv().has_value());
    ::close(pipefd[0]);
  });
}

TEST_CASE("recv_for means what it says for every duration, from nanoseconds::min() to max()") {
  in_child([] {
    using sigkit_test::time_of;
    sigkit::stream s{{sigkit::user1}};
    for (const std::chrono::nanoseconds timeout : sigkit_test::no_wait_durations) {
      CAPTURE(timeout.count());
      std::optional<sigkit::event> e;
      CHECK(time_of([&] { e = s.recv_for(timeout); }) < 1s);  // nothing pending: looks once
      CHECK_FALSE(e.has_value());
      REQUIRE(::raise(SIGUSR1) == 0);
      e = s.recv_for(timeout);  // pending: taken without waiting
      REQUIRE(e.has_value());
      CHECK(e->signal == sigkit::user1);
      std::error_code ec;
      CHECK_FALSE(s.recv_for(timeout, ec).has_value());
      CHECK_FALSE(ec);
    }
    CHECK(time_of([&] { CHECK_FALSE(s.recv_for(50ms).has_value()); }) >= 50ms);
    std::optional<sigkit::event> got;
    CHECK(sigkit_test::waited_for_event([&] { got = s.recv_for(std::chrono::nanoseconds::max()); },
                                        [] { ::kill(::getpid(), SIGUSR1); }));
    REQUIRE(got.has_value());
    CHECK(got->signal == sigkit::user1);
  });
}
