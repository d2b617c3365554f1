// Tests for sigkit/run.hpp at the library level: run()'s own options (the
// forwarding itself is tested in forward_test.cpp and, through the
// sigkit-run tool, in sigkit_run_test.cpp).
#include <sigkit/inspect.hpp>
#include <sigkit/run.hpp>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "counted_sends.hpp"
#include "process.hpp"
#include "support.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using sigkit_test::in_child;
using sigkit_test::time_of;

namespace {

/// run() with reap and wait_descendants of a shell that leaves an orphan
/// `sleep <seconds>` behind (reparented to this process, a subreaper) and
/// exits 0. The orphan's pid comes back in `orphan`.
sigkit::exit_status run_leaving_orphan(const std::string& seconds, std::chrono::nanoseconds grace, pid_t& orphan) {
  int out[2];
  REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
  sigkit::run_options o;
  o.reap = true;
  o.wait_descendants = true;
  o.descendants_grace = grace;
  const std::string script = "sleep " + seconds + " & echo $! >&" + std::to_string(out[1]) + "; exit 0";
  ::fcntl(out[1], F_SETFD, 0);  // the shell writes the orphan's pid to it
  const auto st = sigkit::run({"/bin/sh", "-c", script}, o);
  ::close(out[1]);
  char buf[32] = {};
  const ssize_t n = ::read(out[0], buf, sizeof buf - 1);
  ::close(out[0]);
  orphan = n > 0 ? std::stoi(buf) : -1;
  return st;
}

}  // namespace

TEST_CASE("descendants_grace means what it says for every duration, from nanoseconds::min() to max()") {
  in_child(
      [] {
        // Zero or less, and 1 ns: the orphan is killed at once (it would
        // sleep 30 s); run() still reaps it.
        for (const std::chrono::nanoseconds grace : sigkit_test::no_wait_durations) {
          CAPTURE(grace.count());
          pid_t orphan = -1;
          const auto took = time_of([&] { CHECK(run_leaving_orphan("30", grace, orphan).code() == 0); });
          CHECK(took < 15s);
          REQUIRE(orphan > 0);
          CHECK(::kill(orphan, 0) == -1);  // reaped: not even a zombie
        }
        {
          pid_t orphan = -1;
          const auto took = time_of([&] { CHECK(run_leaving_orphan("30", 300ms, orphan).code() == 0); });
          CHECK(took >= 300ms);
          CHECK(took < 15s);
          CHECK(::kill(orphan, 0) == -1);
        }
        // The longest: run() waits until the orphan ends on its own.
        pid_t orphan = -1;
        const auto took =
            time_of([&] { CHECK(run_leaving_orphan("1", std::chrono::nanoseconds::max(), orphan).code() == 0); });
        CHECK(took >= 1s);
        CHECK(::kill(orphan, 0) == -1);
      },
      90s);
}

TEST_CASE("run() takes main()'s argv, and on_exec_failure gives the shell's 127 or 126 with its message") {
  in_child([] {
    const char* argv[] = {"/bin/sh", "-c", "exit 7", nullptr};
    CHECK(sigkit::run(argv).code() == 7);
    const char* const* none = nullptr;
    CHECK_THROWS_AS(sigkit::run(none), std::invalid_argument);  // an empty argv: nothing to run

    // Without on_exec_failure an exec failure throws, in exec_category().
    try {
      (void)sigkit::run({"no-such-command-sigkit"});
      FAIL_CHECK("no exception");
    } catch (const std::system_error& e) {
      CHECK(e.code().category() == sigkit::exec_category());
      CHECK(e.code() == std::errc::no_such_file_or_directory);
    }

    std::vector<std::string> said;
    sigkit::run_options o;
    o.on_exec_failure = [&](const std::string& message) { said.push_back(message); };
    CHECK(sigkit::run({"no-such-command-sigkit"}, o).code() == 127);
    CHECK(sigkit::run({"/nonexistent-dir-sigkit/x"}, o).code() == 127);
    CHECK(sigkit::run({"/etc/passwd"}, o).code() == 126);  // found, not executable
    CHECK(sigkit::run({"/"}, o).code() == 126);            // a directory
    REQUIRE(said.size() == 4);
    CHECK(said[0] == "no-such-command-sigkit: command not found");
    CHECK(said[1] == "/nonexistent-dir-sigkit/x: command not found");
    CHECK(said[2] == "/etc/passwd: cannot execute: Permission denied");
    CHECK(said[3].rfind("/: cannot execute: ", 0) == 0);
    CHECK(sigkit::run({"/bin/sh", "-c", "exit 3"}, o).code() == 3);  // a command that runs is not touched
    CHECK(said.size() == 4);
    CHECK_THROWS_AS((void)sigkit::run(std::span<const std::string>{}, o),
                    std::invalid_argument);  // not an exec failure
  });
}

namespace {

/// run({"sleep", "1000"}) with dequeue_directly and reap while a second
/// thread, started with `watcher_blocks` blocked, waits until run()'s own
/// thread (the main one) waits in sigtimedwait(), notes whether any other
/// thread but itself then waits in poll() or sigtimedwait() (run() forwards
/// on its own thread; a sanitizer's runtime thread sleeps otherwise), and
/// sends SIGTERM from another process. Returns whether none did; run()'s
/// result in `ended`.
bool forwarder_waited_in_sigtimedwait(const sigkit::signal_set& watcher_blocks, sigkit::exit_status& ended) {
  std::atomic<int> seen{-1};
  sigset_t mine;
  sigset_t theirs = watcher_blocks.to_sigset();
  REQUIRE(::pthread_sigmask(SIG_SETMASK, &theirs, &mine) == 0);
  std::thread watcher([&seen] {
    const pid_t self = ::getpid();
    const auto me = static_cast<pid_t>(::syscall(SYS_gettid));
    bool main_waits = false;
    bool other_waits = false;
    (void)sigkit_test::wait_until(
        [&] {
          main_waits = other_waits = false;
          for (const auto& [tid, nr] : sigkit_test::thread_syscalls(self)) {
            if (tid == self && nr == SYS_rt_sigtimedwait) main_waits = true;
            if (tid != self && tid != me && sigkit_test::is_signal_wait(nr)) other_waits = true;
          }
          return main_waits;
        },
        5s);
    seen = !main_waits ? -1 : static_cast<int>(!other_waits);
    (void)sigkit_test::send_from_another_process(self, SIGTERM);
  });
  REQUIRE(::pthread_sigmask(SIG_SETMASK, &mine, nullptr) == 0);
  sigkit::run_options o;
  o.forward.dequeue_directly = true;
  o.forward.job_control = false;
  o.reap = true;
  ended = sigkit::run({"sleep", "1000"}, o);
  watcher.join();
  REQUIRE_MESSAGE(seen >= 0, "run()'s thread never waited in sigtimedwait()");
  return seen == 1;
}

sigkit::signal_set every_signal() {
  sigset_t s;
  sigfillset(&s);
  return sigkit::signal_set(s);
}

}  // namespace

TEST_CASE("run() with dequeue_directly forwards on its own thread, in sigtimedwait(), whatever another thread blocks") {
  // Another thread that blocks everything: only the forwarder's thread can
  // take the signal. One that leaves SIGCHLD, SIGTERM or SIGSYS unblocked
  // may take that one in its handler: the forwarder's stream then wakes it.
  for (const int open : {0, SIGCHLD, SIGTERM, SIGSYS})
    in_child([open] {
      CAPTURE(open);
      sigkit::exit_status ended;
      const sigkit::signal_set blocked =
          open == 0 ? every_signal() : every_signal() - sigkit::signal_set{sigkit::signal{open}};
      sigkit_test::counted_sends sends;
      CHECK(forwarder_waited_in_sigtimedwait(blocked, ended));
      CHECK(ended.signaled());
      CHECK(ended.signal() == sigkit::terminate);
      // With another thread in the process, run() cannot promise that
      // nothing reaps the child: it signals through the pidfd.
      const bool pidfds = sigkit_test::counted_sends::pidfds_work();
      CHECK(sends.by_pidfd() == (pidfds ? 1 : 0));
      CHECK(sends.by_kill() == (pidfds ? 0 : 1));
    });
}

namespace {

/// Whether this process has one thread, as a forked test child has. Not
/// asked under TSan, whose runtime may start a thread of its own in it at
/// any time: there sending by pid and through the pidfd are both right.
bool alone() {
  std::error_code ec;
  const auto self = sigkit::inspect_status(::getpid(), ec);
  return self && self->threads == 1;
}

}  // namespace

// forward_options::signal_by_pid: run() makes the promise only when no
// code but its own can run while it forwards, read before it subscribes
// SIGCHLD (detail::may_signal_by_pid()). Each case starts from every signal
// at SIG_DFL (doctest's and a sanitizer's handlers are gone in this forked
// child) and changes one thing.
TEST_CASE("run()'s check for signalling by pid refuses whenever other code could reap the child") {
  in_child([] {
    sigkit_test::reset_signal_state();
    sigkit::forward_options direct;
    direct.dequeue_directly = true;
    if (!sigkit_test::under_tsan) {
      REQUIRE(alone());
      CHECK(sigkit::detail::may_signal_by_pid(direct));
    }
    CHECK_FALSE(sigkit::detail::may_signal_by_pid(sigkit::forward_options{}));  // attach(): its owner reaps
    sigkit::forward_options logged = direct;
    logged.log = [](const std::string&) {};
    CHECK_FALSE(sigkit::detail::may_signal_by_pid(logged));  // user code on the forwarding thread
    // A disposition of `signo`, for one look.
    const auto with = [&](int signo, void (*handler)(int), int flags) {
      struct sigaction sa {};
      struct sigaction was {};
      if ((flags & SA_SIGINFO) != 0)
        sa.sa_sigaction = [](int, siginfo_t*, void*) {};
      else
        sa.sa_handler = handler;
      sa.sa_flags = flags;
      REQUIRE(::sigaction(signo, &sa, &was) == 0);
      const bool may = sigkit::detail::may_signal_by_pid(direct);
      REQUIRE(::sigaction(signo, &was, nullptr) == 0);
      return may;
    };
    const auto handler = [](int) {};
    CHECK_FALSE(with(SIGCHLD, SIG_IGN, 0));             // the kernel reaps
    CHECK_FALSE(with(SIGCHLD, SIG_DFL, SA_NOCLDWAIT));  // likewise
    CHECK_FALSE(with(SIGCHLD, handler, 0));             // may call wait()
    CHECK_FALSE(with(SIGCHLD, nullptr, SA_SIGINFO));
    CHECK_FALSE(with(SIGTERM, handler, 0));  // a forwarded signal: sigkit's handler would chain to it
    CHECK_FALSE(with(SIGUSR1, handler, 0));  // any other: it runs on the only thread
    CHECK_FALSE(with(SIGSEGV, handler, 0));
    if (!sigkit_test::under_tsan) {
      CHECK(with(SIGUSR1, SIG_IGN, 0));  // ignored signals run nothing
      CHECK(with(SIGCHLD, SIG_DFL, 0));
    }
    {
      // Another thread.
      std::atomic<bool> done{false};
      std::thread other([&done] {
        while (!done) std::this_thread::sleep_for(1ms);
      });
      CHECK_FALSE(sigkit::detail::may_signal_by_pid(direct));
      done = true;
      other.join();
    }
  });
}

TEST_CASE("run() in a one-thread process signals its child with kill(pid), and forwards all the same") {
  in_child([] {
    // run() in a process of its own with one thread (a thread here would
    // void the promise) and every signal at SIG_DFL (see above); this
    // process, its parent, watches it (a parent may read a child's syscall
    // file where ptrace is restricted) and sends SIGTERM once it sleeps in
    // sigtimedwait(). Its exit code says how it went, a bit each.
    enum : int { terminated = 1, by_kill = 2, by_pidfd = 4, one_thread = 8 };
    const pid_t runner = ::fork();
    REQUIRE(runner >= 0);
    if (runner == 0) {
      sigkit_test::reset_signal_state();
      const bool single = alone();
      sigkit_test::counted_sends sends;
      sigkit::run_options o;
      o.forward.dequeue_directly = true;
      o.forward.job_control = false;
      o.spawn.parent_death_signal = sigkit::signal{SIGKILL};
      int code = single ? one_thread : 0;
      try {
        const auto ended = sigkit::run({"sleep", "1000"}, o);
        if (ended.signaled() && ended.signal() == sigkit::terminate) code |= terminated;
      } catch (...) {
      }
      if (sends.by_kill() == 1 && sends.by_pidfd() == 0) code |= by_kill;
      if (sends.by_pidfd() == 1 && sends.by_kill() == 0) code |= by_pidfd;
      ::_exit(code);
    }
    const bool waiting =
        sigkit_test::wait_until([runner] { return sigkit_test::some_thread_in_sigwaitinfo(runner); }, 5s);
    CHECK(waiting);
    CHECK(::kill(runner, SIGTERM) == 0);
    const int st = sigkit_test::wait_pid_for(runner, 10s);
    REQUIRE(WIFEXITED(st));
    const int code = WEXITSTATUS(st);
    CHECK((code & terminated) != 0);
    if (!sigkit_test::under_tsan) {
      CHECK((code & one_thread) != 0);
      CHECK((code & by_kill) != 0);
    } else {
      CHECK((code & (by_kill | by_pidfd)) != 0);  // one of them, exactly once
    }
  });
}
