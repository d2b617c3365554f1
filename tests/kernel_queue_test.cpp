// Tests for kernel-queue streams (stream_options::queue = queue_kind::kernel,
// detail/kernel_queue.hpp) and process_block: the same events and calls as
// the handler path; the thread-mask check; one owner per signal; the
// disposition left alone; what stays pending at close; fork and exec; and
// the storm accounting (received + refused at the sender == sent). Every
// test runs in a forked child (in_child). Built a second time with
// SIGKIT_NO_SIGNALFD (kernel_queue_test_nosignalfd), where only the
// not_supported case runs.
#include <sigkit/action.hpp>
#include <sigkit/child_process.hpp>
#include <sigkit/flag.hpp>
#include <sigkit/inspect.hpp>
#include <sigkit/mask.hpp>
#include <sigkit/process_block.hpp>
#include <sigkit/shutdown.hpp>
#include <sigkit/stream.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <span>
#include <stop_token>
#include <thread>
#include <vector>

#include "support.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using sigkit_test::in_child;

namespace {

constexpr sigkit::stream_options kernel{.queue = sigkit::queue_kind::kernel};

[[maybe_unused]] int rt(int k) { return SIGRTMIN + k; }

[[maybe_unused]] void queue_to(pid_t pid, int signo, int value) {
  union sigval v {};
  v.sival_int = value;
  REQUIRE(::sigqueue(pid, signo, v) == 0);
}

template <class F>
std::error_code error_of(F&& f) {
  try {
    f();
  } catch (const std::system_error& e) {
    return e.code();
  }
  return {};
}

template <class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return {};
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

#if SIGKIT_HAVE_SIGNALFD

TEST_CASE("a kernel-queue stream delivers the same events through every call, with no handler installed") {
  in_child([] {
    const sigkit::signal_set set{sigkit::user1, sigkit::realtime(2), sigkit::child};
    sigkit::process_block block{set};
    const auto before = sigkit_test::all_dispositions::capture();
    sigkit::stream s{set, kernel};
    CHECK(s.valid());
    CHECK(s.queue() == sigkit::queue_kind::kernel);
    CHECK(s.signals() == set);
    CHECK(s.capacity() == 0);
    CHECK(sigkit_test::all_dispositions::capture().diff(before) == "");  // no handler: the disposition is left alone

    REQUIRE(::raise(SIGUSR1) == 0);
    const sigkit::event e = s.recv();
    CHECK(e.signal == sigkit::user1);
    CHECK(e.from.pid == ::getpid());
    CHECK(e.from.uid == ::getuid());
    CHECK(e.from_user());

    queue_to(::getpid(), rt(2), 4242);
    auto q = s.recv_for(5s);
    REQUIRE(q.has_value());
    CHECK(q->signal.number() == rt(2));
    CHECK(q->value.sival_int == 4242);
    CHECK(q->from.code == SI_QUEUE);

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
    int status = 0;
    CHECK(::waitpid(kid, &status, 0) == kid);

    CHECK_FALSE(s.try_recv().has_value());
    std::error_code ec;
    CHECK_FALSE(s.try_recv(ec).has_value());
    CHECK_FALSE(ec);
    CHECK(s.dropped() == 0);
  });
}

TEST_CASE(
    "kernel-queue streams: recv_for times out, stop tokens end waits, ranges iterate, fd() is readable while queued") {
  in_child([] {
    sigkit::process_block block{{sigkit::user1}};
    sigkit::stream s{{sigkit::user1}, kernel};
    const auto t0 = std::chrono::steady_clock::now();
    CHECK_FALSE(s.recv_for(50ms).has_value());
    CHECK(std::chrono::steady_clock::now() - t0 >= 50ms);
    CHECK_FALSE(s.recv_for(0ns).has_value());

    pollfd p{s.fd(), POLLIN, 0};
    CHECK(::poll(&p, 1, 0) == 0);
    REQUIRE(::raise(SIGUSR1) == 0);
    CHECK(::poll(&p, 1, 0) == 1);
    CHECK(s.try_recv().has_value());
    CHECK(::poll(&p, 1, 0) == 0);
    CHECK((::fcntl(s.fd(), F_GETFD) & FD_CLOEXEC) != 0);
    CHECK((::fcntl(s.fd(), F_GETFL) & O_NONBLOCK) != 0);

    std::stop_source stop;
    std::thread stopper([&] {
      std::this_thread::sleep_for(20ms);
      stop.request_stop();
    });
    CHECK_FALSE(s.recv(stop.get_token()).has_value());
    stopper.join();
    CHECK_FALSE(s.recv(stop.get_token()).has_value());  // already stopped: at once

    std::stop_source stop2;
    REQUIRE(::raise(SIGUSR1) == 0);
    auto got = s.recv(stop2.get_token());
    REQUIRE(got.has_value());
    CHECK(got->signal == sigkit::user1);

    for (int i = 0; i < 3; ++i) REQUIRE(::raise(SIGUSR1) == 0);  // merged: standard signals
    int seen = 0;
    for (const sigkit::event& ev : s) {
      CHECK(ev.signal == sigkit::user1);
      if (++seen == 1) break;
    }
    CHECK(seen == 1);
    CHECK_FALSE(s.try_recv().has_value());

    std::stop_source stop3;
    REQUIRE(::raise(SIGUSR1) == 0);
    int in_range = 0;
    for (const sigkit::event& ev : s.until(stop3.get_token())) {
      (void)ev;
      ++in_range;
      stop3.request_stop();
    }
    CHECK(in_range == 1);

    sigkit::stream moved = std::move(s);
    CHECK_FALSE(s.valid());  // NOLINT(bugprone-use-after-move): testing the moved-from state
    CHECK_THROWS_AS((void)s.try_recv(), std::logic_error);
    REQUIRE(::raise(SIGUSR1) == 0);
    CHECK(moved.recv_for(5s).has_value());
  });
}

TEST_CASE("real-time signals come out of the kernel queue in order, all of them") {
  in_child([] {
    sigkit::process_block block{{sigkit::realtime(1)}};
    sigkit::stream s{{sigkit::realtime(1)}, kernel};
    for (int i = 0; i < 500; ++i) queue_to(::getpid(), rt(1), i);
    for (int i = 0; i < 500; ++i) {
      auto e = s.try_recv();
      REQUIRE(e.has_value());
      REQUIRE(e->value.sival_int == i);
    }
    CHECK_FALSE(s.try_recv().has_value());
  });
}

// try_recv_many: for buffers of every interesting size (1, 15, 16, 17, more
// than is queued), every signal comes out once, in order, never more than
// fit; an empty buffer takes nothing; read()s are counted through the sys()
// seam: 40 queued signals into a 64-event buffer take 3 reads (16 + 16 + 8),
// and the short read ends the call.
namespace {
std::atomic<int> signalfd_reads{0};
ssize_t counting_read(int fd, void* buf, size_t n) {
  ++signalfd_reads;
  return ::read(fd, buf, n);
}
}  // namespace

TEST_CASE("try_recv_many takes queued signals in order, as many as fit, up to 16 per read()") {
  in_child([] {
    sigkit::process_block block{{sigkit::realtime(1)}};
    sigkit::stream s{{sigkit::realtime(1)}, kernel};
    std::vector<sigkit::event> buf(64);
    queue_to(::getpid(), rt(1), 7);
    CHECK(s.try_recv_many({}) == 0);  // an empty buffer takes nothing
    REQUIRE(s.try_recv_many(buf) == 1);
    CHECK(buf[0].value.sival_int == 7);
    for (const std::size_t size : {std::size_t{1}, std::size_t{2}, std::size_t{15}, std::size_t{16}, std::size_t{17},
                                   std::size_t{40}, std::size_t{64}}) {
      INFO("buffer of ", size);
      for (int i = 0; i < 40; ++i) queue_to(::getpid(), rt(1), i);
      int next = 0;
      while (next < 40) {
        const std::size_t n = s.try_recv_many(std::span(buf).first(size));
        REQUIRE(n > 0);
        REQUIRE(n <= size);
        for (std::size_t k = 0; k < n; ++k) REQUIRE(buf[k].value.sival_int == next++);
      }
      CHECK(s.try_recv_many(std::span(buf).first(size)) == 0);
      CHECK_FALSE(s.try_recv().has_value());
    }
    for (int i = 0; i < 40; ++i) queue_to(::getpid(), rt(1), i);
    sigkit::detail::sys().read = counting_read;
    CHECK(s.try_recv_many(buf) == 40);
    CHECK(signalfd_reads.load() == 3);
    sigkit::detail::sys().read = ::read;
    CHECK(buf[39].value.sival_int == 39);
  });
}

TEST_CASE("a kernel-queue stream refuses when a thread leaves its signals unblocked, naming the thread") {
  in_child([] {
    std::atomic<bool> done{false};
    std::atomic<pid_t> tid{0};
    std::thread open([&] {  // started before any block: it takes SIGUSR1
      tid = static_cast<pid_t>(::gettid());
      while (!done) std::this_thread::sleep_for(1ms);
    });
    while (tid == 0) std::this_thread::sleep_for(1ms);
    sigkit::scoped_block mine{{sigkit::user1}};
    const auto before = sigkit_test::all_dispositions::capture();

    const std::string msg = message_of([] { sigkit::stream s{{sigkit::user1}, kernel}; });
    CHECK(contains(msg, "thread " + std::to_string(tid.load())));
    CHECK(contains(msg, "does not block {SIGUSR1}"));
    CHECK(contains(msg, "process_block"));
    CHECK(error_of([] { sigkit::stream s{{sigkit::user1}, kernel}; }) == std::errc::operation_not_permitted);
    std::error_code ec;
    sigkit::stream failed({sigkit::user1}, kernel, ec);
    CHECK(ec == std::errc::operation_not_permitted);
    CHECK_FALSE(failed.valid());

    // process_block refuses too, and leaves the calling thread's mask as it was.
    const sigkit::signal_set mask_before = sigkit::blocked_signals();
    CHECK(error_of([] { sigkit::process_block b{{sigkit::user2}}; }) == std::errc::operation_not_permitted);
    sigkit::process_block quiet({sigkit::user2}, ec);
    CHECK(ec == std::errc::operation_not_permitted);
    CHECK_FALSE(quiet.valid());
    CHECK(sigkit::blocked_signals() == mask_before);
    CHECK(sigkit_test::all_dispositions::capture().diff(before) == "");
    done = true;
    open.join();
    // The thread is gone: nothing leaves SIGUSR1 unblocked now.
    sigkit::stream s{{sigkit::user1}, kernel};
    CHECK(s.valid());
  });
}

TEST_CASE("threads started inside a process_block inherit it, and a stream made on one receives kill()") {
  in_child([] {
    sigkit::process_block block{{sigkit::terminate}};
    CHECK(block.valid());
    CHECK(block.added() == sigkit::signal_set{sigkit::terminate});
    std::atomic<bool> ready{false};
    std::optional<sigkit::event> got;
    std::thread consumer([&] {
      sigkit::stream s{{sigkit::terminate}, kernel};
      ready = true;
      got = s.recv_for(10s);
    });
    std::thread bystander([&] {  // inherits the block: takes nothing
      while (!ready) std::this_thread::sleep_for(1ms);
    });
    while (!ready) std::this_thread::sleep_for(1ms);
    REQUIRE(::kill(::getpid(), SIGTERM) == 0);  // process-directed: any thread could have taken it
    consumer.join();
    bystander.join();
    REQUIRE(got.has_value());
    CHECK(got->signal == sigkit::terminate);
    CHECK(got->from.pid == ::getpid());
  });
}

TEST_CASE("one kernel-queue stream per signal, and no handler-path subscriber beside it") {
  in_child([] {
    sigkit::process_block block{{sigkit::user1, sigkit::user2, sigkit::hangup}};
    std::optional<sigkit::stream> first(std::in_place, sigkit::signal_set{sigkit::user1}, kernel);
    const auto before = sigkit_test::all_dispositions::capture();

    // A second kernel-queue stream, alone or in an overlapping set: refused,
    // and the set's other signal stays free.
    CHECK(error_of([] { sigkit::stream s{{sigkit::user1}, kernel}; }) == std::errc::device_or_resource_busy);
    const std::string msg = message_of([] { sigkit::stream s{{sigkit::user2, sigkit::user1}, kernel}; });
    CHECK(contains(msg, "SIGUSR1 has a kernel-queue stream already"));
    sigkit::stream second{{sigkit::user2}, kernel};

    // Handler-path subscribers of the same signal: refused (stream, flag,
    // shutdown), before anything is installed.
    CHECK(error_of([] { sigkit::stream s{{sigkit::user1}}; }) == std::errc::device_or_resource_busy);
    CHECK(contains(message_of([] {
                     sigkit::stream s{{sigkit::hangup, sigkit::user1}};
                   }),
                   "SIGUSR1 has a kernel-queue stream"));
    CHECK(error_of([] { sigkit::flag f{{sigkit::user1}}; }) == std::errc::device_or_resource_busy);
    std::error_code ec;
    sigkit::stream refused({sigkit::user1}, {}, ec);
    CHECK(ec == std::errc::device_or_resource_busy);
    CHECK(sigkit_test::all_dispositions::capture().diff(before) == "");

    // And the other way round: a kernel-queue stream on a signal with a
    // handler-path subscriber.
    {
      sigkit::stream on_handler{{sigkit::hangup}};
      CHECK(contains(message_of([] {
                       sigkit::stream s{{sigkit::hangup}, kernel};
                     }),
                     "SIGHUP has a subscriber through sigkit's handler"));
      sigkit::shutdown stop{{sigkit::hangup}};
      CHECK(error_of([] { sigkit::stream s{{sigkit::hangup}, kernel}; }) == std::errc::device_or_resource_busy);
    }
    sigkit::stream hup{{sigkit::hangup}, kernel};  // the handler-path ones are gone

    // Closing the first frees SIGUSR1 for either kind.
    first.reset();
    sigkit::stream again{{sigkit::user1}, kernel};
    REQUIRE(::raise(SIGUSR1) == 0);
    REQUIRE(::raise(SIGUSR2) == 0);
    CHECK(again.recv_for(5s)->signal == sigkit::user1);
    CHECK(second.recv_for(5s)->signal == sigkit::user2);
  });
}

TEST_CASE("a kernel-queue stream and a handler-path stream on different signals both receive") {
  in_child([] {
    sigkit::process_block block{{sigkit::user1}};
    sigkit::stream kq{{sigkit::user1}, kernel};
    sigkit::stream ring{{sigkit::user2}};
    REQUIRE(::raise(SIGUSR2) == 0);
    REQUIRE(::raise(SIGUSR1) == 0);
    CHECK(kq.recv_for(5s)->signal == sigkit::user1);
    CHECK(ring.recv_for(5s)->signal == sigkit::user2);
    CHECK_FALSE(kq.try_recv().has_value());
    CHECK_FALSE(ring.try_recv().has_value());
  });
}

namespace {
std::atomic<int> previous_ran{0};
extern "C" void count_previous(int) { previous_ran.fetch_add(1); }
}  // namespace

TEST_CASE("what is queued when a kernel-queue stream closes stays pending for the next stream or the disposition") {
  in_child([] {
    const sigkit::signal_set set{sigkit::realtime(3)};
    struct sigaction counting {};
    counting.sa_handler = count_previous;
    sigemptyset(&counting.sa_mask);
    REQUIRE(::sigaction(rt(3), &counting, nullptr) == 0);
    std::optional<sigkit::process_block> block(std::in_place, set);
    {
      sigkit::stream s{set, kernel};
      for (int i = 0; i < 3; ++i) queue_to(::getpid(), rt(3), i);
      CHECK(s.try_recv()->value.sival_int == 0);  // one taken, two left
    }
    CHECK(previous_ran == 0);  // still blocked: the handler has not run
    {
      sigkit::stream next{set, kernel};
      CHECK(next.try_recv()->value.sival_int == 1);  // the next stream reads on
    }
    CHECK(sigkit::inspect(::getpid()).pending.contains(sigkit::realtime(3)));
    block.reset();  // unblocked: the disposition (the program's handler) takes the last one
    CHECK(sigkit_test::wait_until([] { return previous_ran.load() == 1; }, 5s));
    CHECK_FALSE(sigkit::inspect(::getpid()).pending.contains(sigkit::realtime(3)));
  });
}

TEST_CASE(
    "in a forked child the inherited kernel-queue stream refuses, the mask is inherited, and a new stream reads the "
    "child's signals") {
  in_child([] {
    sigkit::process_block block{{sigkit::user1}};
    sigkit::stream s{{sigkit::user1}, kernel};
    int ready[2];
    REQUIRE(::pipe2(ready, O_CLOEXEC) == 0);
    const pid_t kid = ::fork();
    REQUIRE(kid >= 0);
    if (kid == 0) {
      ::close(ready[0]);
      bool ok = true;
      try {
        (void)s.try_recv();
        ok = false;
      } catch (const std::logic_error& e) {
        ok = ok && contains(e.what(), "forked child");
      }
      ok = ok && sigkit::blocked_signals().contains(sigkit::user1);  // POSIX: the mask is inherited
      // Sent before any stream exists here: it waits in the child's queue.
      ok = ok && ::kill(::getpid(), SIGUSR1) == 0;
      ok = ok && sigkit::inspect(::getpid()).pending.contains(sigkit::user1);
      try {
        sigkit::stream mine{{sigkit::user1}, kernel};  // the parent's ownership does not count here
        auto e = mine.recv_for(5s);
        ok = ok && e && e->from.pid == ::getpid();
      } catch (...) {
        ok = false;
      }
      (void)!::write(ready[1], "x", 1);
      ::_exit(ok ? 0 : 1);
    }
    ::close(ready[1]);
    char c = 0;
    CHECK(::read(ready[0], &c, 1) == 1);
    ::close(ready[0]);
    int status = 0;
    REQUIRE(::waitpid(kid, &status, 0) == kid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    // The child's signal went to the child's queue, never to ours.
    CHECK_FALSE(s.try_recv().has_value());
    REQUIRE(::raise(SIGUSR1) == 0);
    CHECK(s.recv_for(5s)->from.pid == ::getpid());
  });
}

TEST_CASE(
    "an exec'd program inherits the block, spawn() clears it, and reset_signals=false gives the mask from before") {
  in_child([] {
    const sigkit::scoped_block mine{{sigkit::user2}};  // the program's own block, from before sigkit
    sigkit::process_block block{{sigkit::user1}};
    sigkit::stream s{{sigkit::user1}, kernel};
    CHECK(sigkit::blocked_signals().contains(sigkit::user1));

    const auto blocked_in = [](pid_t pid) { return sigkit::inspect(pid).blocked; };
    // By hand (fork + exec): POSIX keeps the mask across exec.
    const pid_t raw = ::fork();
    REQUIRE(raw >= 0);
    if (raw == 0) {
      ::execlp("sleep", "sleep", "30", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    CHECK(sigkit_test::wait_until(
        [&] {
          std::error_code ec;
          const auto st = sigkit::inspect_status(raw, ec);
          return st && st->name == "sleep";
        },
        5s));
    CHECK(blocked_in(raw).contains(sigkit::user1));
    CHECK(blocked_in(raw).contains(sigkit::user2));
    ::kill(raw, SIGKILL);
    ::waitpid(raw, nullptr, 0);

    auto reset = sigkit::child_process::spawn({"sleep", "30"});
    CHECK(blocked_in(reset.pid()).empty());
    reset.terminate(0s);

    sigkit::spawn_options keep;
    keep.reset_signals = false;
    auto kept = sigkit::child_process::spawn({"sleep", "30"}, keep);
    const sigkit::signal_set child_mask = blocked_in(kept.pid());
    CHECK_FALSE(child_mask.contains(sigkit::user1));  // process_block's: taken out
    CHECK(child_mask.contains(sigkit::user2));        // the program's own: kept
    kept.terminate(0s);

    sigset_t before = sigkit::mask_before_process_block();
    CHECK(sigismember(&before, SIGUSR1) == 0);
    CHECK(sigismember(&before, SIGUSR2) == 1);
  });
}

TEST_CASE("a failing signalfd gives its errno, and the signals stay free") {
  in_child([] {
    sigkit::process_block block{{sigkit::user1}};
    auto& sys = sigkit::detail::sys();
    const auto real = sys.signalfd;
    sys.signalfd = [](const sigset_t*, int) noexcept -> int {
      errno = EMFILE;
      return -1;
    };
    const std::string msg = message_of([] { sigkit::stream s{{sigkit::user1}, kernel}; });
    std::error_code ec;
    sigkit::stream failed({sigkit::user1}, kernel, ec);
    sys.signalfd = real;
    CHECK(contains(msg, "signalfd({SIGUSR1}) failed"));
    CHECK(ec == std::errc::too_many_files_open);
    sigkit::stream ok{{sigkit::user1}, kernel};
    sigkit::stream refused_ring({sigkit::user1}, {}, ec);
    CHECK(ec == std::errc::device_or_resource_busy);
  });
}

namespace {

struct storm_result {
  std::uint64_t attempts = 0, sent = 0, refused = 0, other = 0;
};

// Forks a process that sigqueue()s `attempts` real-time signals to `target`,
// numbering the successful ones 0, 1, 2...; its counts come back on the
// returned pipe. It starts when `go` is written to.
pid_t start_sender(pid_t target, int signo, std::uint64_t attempts, int& go_write, int& report_read) {
  int go[2], report[2];
  REQUIRE(::pipe2(go, O_CLOEXEC) == 0);
  REQUIRE(::pipe2(report, O_CLOEXEC) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    char c;
    if (::read(go[0], &c, 1) != 1) ::_exit(1);
    storm_result r;
    r.attempts = attempts;
    int seq = 0;
    for (std::uint64_t i = 0; i < attempts; ++i) {
      union sigval v {};
      v.sival_int = seq;
      if (::sigqueue(target, signo, v) == 0) {
        ++r.sent;
        ++seq;
      } else if (errno == EAGAIN) {
        ++r.refused;
      } else {
        ++r.other;
      }
    }
    (void)!::write(report[1], &r, sizeof r);
    ::_exit(0);
  }
  ::close(go[0]);
  ::close(report[1]);
  go_write = go[1];
  report_read = report[0];
  return pid;
}

// The signals queued for this user now (SigQ in /proc/self/status).
std::uint64_t queued_for_user() {
  const auto st = sigkit::inspect_status(::getpid());
  return static_cast<std::uint64_t>(st.queued);
}

}  // namespace

TEST_CASE("storm accounting: received + refused at the sender == sent, in order, with a small RLIMIT_SIGPENDING" *
          doctest::skip(sigkit_test::under_tsan)) {
  in_child(
      [] {
        const int signo = rt(4);
        sigkit::process_block block{{sigkit::signal{signo}}};
        sigkit::stream s{{sigkit::signal{signo}}, kernel};
        // Room for about 128 more queued signals (the count is per user, so
        // other processes of this user may take some of it meanwhile; the
        // accounting below holds whatever they do).
        rlimit lim{};
        REQUIRE(::getrlimit(RLIMIT_SIGPENDING, &lim) == 0);
        lim.rlim_cur = static_cast<rlim_t>(queued_for_user() + 128);
        REQUIRE(::setrlimit(RLIMIT_SIGPENDING, &lim) == 0);

        for (const bool consume_during : {false, true}) {
          CAPTURE(consume_during);
          int go = -1, report = -1;
          const std::uint64_t attempts = 20000;
          const pid_t sender = start_sender(::getpid(), signo, attempts, go, report);
          REQUIRE(::write(go, "g", 1) == 1);
          std::uint64_t received = 0;
          int next = 0;
          bool in_order = true;
          const auto take = [&](const sigkit::event& e) {
            in_order = in_order && e.value.sival_int == next;
            ++next;
            ++received;
          };
          storm_result r;
          if (consume_during) {
            // Consume while it sends, until it has reported and all it sent is in.
            bool reported = false;
            ::fcntl(report, F_SETFL, O_NONBLOCK);
            while (!reported || received < r.sent) {
              if (auto e = s.recv_for(10ms)) take(*e);
              while (auto e = s.try_recv()) take(*e);
              if (!reported) reported = ::read(report, &r, sizeof r) == static_cast<ssize_t>(sizeof r);
            }
          } else {
            // Consume nothing until it is done: the kernel queue fills and
            // the rest is refused at the sender.
            REQUIRE(::read(report, &r, sizeof r) == static_cast<ssize_t>(sizeof r));
            while (auto e = s.try_recv()) take(*e);
            CHECK(r.refused > 0);
          }
          int status = 0;
          REQUIRE(::waitpid(sender, &status, 0) == sender);
          ::close(go);
          ::close(report);
          CHECK(r.other == 0);
          CHECK(received == r.sent);
          CHECK(received + r.refused == attempts);
          CHECK(in_order);
          CHECK_FALSE(s.try_recv().has_value());
          CHECK(s.dropped() == 0);
        }
      },
      60s);
}

#else  // !SIGKIT_HAVE_SIGNALFD

TEST_CASE("without a signalfd a kernel-queue stream fails with not_supported, naming the option") {
  in_child([] {
    sigkit::process_block block{{sigkit::user1}};
    const std::string msg = message_of([] { sigkit::stream s{{sigkit::user1}, kernel}; });
    CHECK(contains(msg, "stream_options::queue = queue_kind::kernel"));
    CHECK(error_of([] { sigkit::stream s{{sigkit::user1}, kernel}; }) == std::errc::not_supported);
    std::error_code ec;
    sigkit::stream s({sigkit::user1}, kernel, ec);
    CHECK(ec == std::errc::not_supported);
    CHECK_FALSE(s.valid());
    sigkit::stream ring{{sigkit::user1}};  // nothing was taken: the handler path works
    CHECK(ring.valid());
  });
}

#endif

TEST_CASE("refused signals throw invalid_argument for a kernel-queue stream too, before anything else") {
  in_child([] {
    CHECK_THROWS_AS((sigkit::stream{{sigkit::signal{SIGKILL}}, kernel}), std::invalid_argument);
    CHECK_THROWS_AS((sigkit::stream{{sigkit::signal{SIGSEGV}}, kernel}), std::invalid_argument);
    CHECK_THROWS_AS((sigkit::stream{sigkit::signal_set{}, kernel}), std::invalid_argument);
  });
}
