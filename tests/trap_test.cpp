// Tests for sigkit/trap.hpp: cleanup at normal exit and on terminating
// signals, in reverse order, on an ordinary thread, then the right death.
#include <sigkit/trap.hpp>

#include <pthread.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "support.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using sigkit_test::in_child;
using sigkit_test::run_child;

namespace {

// A pipe a child writes its cleanup log into; the parent reads it after the
// child is gone.
struct log_pipe {
  int fds[2] = {-1, -1};
  log_pipe() { REQUIRE(::pipe2(fds, O_CLOEXEC) == 0); }
  ~log_pipe() {
    ::close(fds[0]);
    if (fds[1] >= 0) ::close(fds[1]);
  }
  void write(const std::string& s) const { (void)!::write(fds[1], s.data(), s.size()); }
  std::string read_all() {
    ::close(fds[1]);
    fds[1] = -1;
    std::string out;
    char buf[256];
    ssize_t n;
    while ((n = ::read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
    return out;
  }
};

void no_core_dumps() {
  const rlimit none{0, 0};
  ::setrlimit(RLIMIT_CORE, &none);
}

}  // namespace

TEST_CASE("leaving the scope runs the cleanups once, newest first, and restores the dispositions") {
  in_child([] {
    const auto before = sigkit_test::all_dispositions::capture();
    const int fds = sigkit_test::open_fd_count();
    std::string log;
    {
      sigkit::trap t{[&] { log += "a"; }};
      CHECK(t.signals() == sigkit::trap::default_signals());
      t.push([&] { log += "b"; });
      t.push([&] { log += "c"; });
      CHECK(log.empty());
      CHECK(sigkit_test::all_dispositions::capture().diff(before) != "");
    }
    CHECK(log == "cba");
    CHECK(sigkit_test::all_dispositions::capture().diff(before) == "");
    CHECK(sigkit_test::open_fd_count() == fds);

    log.clear();
    {
      sigkit::trap t{[&] { log += "x"; }};
      t.run();
      t.run();
      CHECK(log == "x");
    }
    CHECK(log == "x");  // not again at scope end
  });
}

TEST_CASE("a terminating signal runs the cleanups on an ordinary thread, then the process dies of it") {
  for (const int signo : {SIGTERM, SIGINT, SIGHUP, SIGQUIT}) {
    CAPTURE(signo);
    log_pipe log;
    const auto r = run_child([&] {
      no_core_dumps();
      const pthread_t main_thread = ::pthread_self();
      sigkit::trap t{[&] { log.write("first;"); }};
      t.push([&] {
        log.write(::pthread_equal(::pthread_self(), main_thread) ? "main-thread;" : "own-thread;");
        const auto e = t.which();
        log.write(e ? std::string(e->signal.name()) + ";" : "none;");
        log.write(e && e->from.pid == ::getpid() ? "from-self;" : "from-other;");
      });
      ::kill(::getpid(), signo);
      std::this_thread::sleep_for(10s);
      CHECK_MESSAGE(false, "still alive 10 s after the signal");
    });
    CHECK_MESSAGE(r.signaled, r.describe());
    CHECK(r.signo == signo);
    CHECK(log.read_all() == "own-thread;" + std::string(sigkit::signal{signo}.name()) + ";from-self;first;");
  }
}

TEST_CASE("exit() with a live trap runs its cleanups and keeps the exit code") {
  log_pipe log;
  const auto r = run_child([&] {
    static sigkit::trap* keep = nullptr;
    auto* t = new sigkit::trap{[&] { log.write("cleaned;"); }};
    keep = t;
    (void)keep;
    std::exit(7);
  });
  CHECK_MESSAGE(r.exited, r.describe());
  CHECK(r.code == 7);
  CHECK(log.read_all() == "cleaned;");
}

TEST_CASE("a signal runs the cleanups of every live trap, newest first") {
  log_pipe log;
  const auto r = run_child([&] {
    sigkit::trap outer({sigkit::terminate}, [&] { log.write("outer;"); });
    sigkit::trap inner({sigkit::user1}, [&] { log.write("inner;"); });
    ::raise(SIGUSR1);
    std::this_thread::sleep_for(10s);
    CHECK_MESSAGE(false, "still alive");
  });
  CHECK_MESSAGE(r.signaled, r.describe());
  CHECK(r.signo == SIGUSR1);
  CHECK(log.read_all() == "inner;outer;");
}

TEST_CASE("a throwing cleanup does not stop the others") {
  in_child([] {
    std::string log;
    {
      sigkit::trap t{[&] { log += "a"; }};
      t.push([] { throw std::runtime_error("cleanup failed"); });
      t.push([&] { log += "c"; });
    }
    CHECK(log == "ca");
  });
}

TEST_CASE("dismiss() forgets the cleanups but a signal still ends the process") {
  log_pipe log;
  const auto r = run_child([&] {
    sigkit::trap t{[&] { log.write("ran;"); }};
    t.dismiss();
    ::raise(SIGTERM);
    std::this_thread::sleep_for(10s);
  });
  CHECK_MESSAGE(r.signaled, r.describe());
  CHECK(r.signo == SIGTERM);
  CHECK(log.read_all() == "");
}

TEST_CASE("a trap refuses signals that do not end the process, naming them, and changes nothing") {
  in_child([] {
    const auto before = sigkit_test::all_dispositions::capture();
    for (const int signo : {SIGCHLD, SIGCONT, SIGTSTP, SIGWINCH, SIGURG}) {
      CAPTURE(signo);
      const std::string expected = std::string(sigkit::signal{signo}.name()) + " does not end the process";
      CHECK_THROWS_WITH_AS((sigkit::trap{{sigkit::terminate, sigkit::signal{signo}}, [] {}}),
                           doctest::Contains(expected.c_str()), std::invalid_argument);
    }
    CHECK_THROWS_AS((sigkit::trap{{sigkit::signal{SIGKILL}}, [] {}}), std::invalid_argument);
    CHECK_THROWS_AS((sigkit::trap{{sigkit::signal{SIGSEGV}}, [] {}}), std::invalid_argument);
    CHECK(sigkit_test::all_dispositions::capture().diff(before) == "");
  });
}

TEST_CASE("a forked child never runs the parent's cleanups") {
  in_child([] {
    log_pipe log;
    {
      sigkit::trap t{[&] { log.write("parent;"); }};
      REQUIRE(sigkit_test::wait_other_threads_asleep());  // see shutdown_test
      const pid_t pid = ::fork();
      REQUIRE(pid >= 0);
      if (pid == 0) {
        t.~trap();     // scope end in the child: inert, must not hang
        std::exit(0);  // atexit in the child: must not run the parent's cleanup
      }
      const int status = sigkit_test::wait_pid_for(pid, 5s);
      CHECK_MESSAGE(status != -1, "forked child hung");
      CHECK(WIFEXITED(status));
    }
    CHECK(log.read_all() == "parent;");
  });
}
