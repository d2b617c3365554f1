// Tests for sigkit/child_process.hpp: spawning with a clean signal state, owning the
// child by pidfd, exit statuses and their mirroring.
#include <sigkit/action.hpp>
#include <sigkit/child_process.hpp>
#include <sigkit/stream.hpp>

#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "process.hpp"
#include "support.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using sigkit::child_process;
using sigkit_test::in_child;

namespace {

std::string field(const std::vector<std::string>& lines, const std::string& prefix) {
  for (const auto& l : lines)
    if (l.rfind(prefix, 0) == 0) return l.substr(prefix.size());
  return "<missing>";
}

// Runs the fd/mask report helper through child::spawn with its stdout on a pipe.
std::vector<std::string> report_of(sigkit::spawn_options options) {
  int out[2];
  REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
  const int saved = ::fcntl(1, F_DUPFD_CLOEXEC, 3);
  ::dup2(out[1], 1);
  ::close(out[1]);
  auto c = child_process::spawn({sigkit_test::helper_path("torture_fdreport")}, options);
  ::dup2(saved, 1);
  ::close(saved);
  const auto st = c.wait();
  CHECK(st.exited());
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(out[0], buf, sizeof buf)) > 0) text.append(buf, static_cast<std::size_t>(n));
  ::close(out[0]);
  std::vector<std::string> lines;
  std::size_t pos = 0, nl;
  while ((nl = text.find('\n', pos)) != std::string::npos) {
    lines.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return lines;
}

// Descriptors of this process without FD_CLOEXEC: what any exec inherits.
std::vector<int> inheritable_fds() {
  std::vector<int> out;
  for (int fd = 0; fd < 1024; ++fd) {
    const int flags = ::fcntl(fd, F_GETFD);
    if (flags >= 0 && (flags & FD_CLOEXEC) == 0) out.push_back(fd);
  }
  return out;
}

}  // namespace

TEST_CASE("every exit code 0..255 comes back exactly, and so does a fatal signal") {
  in_child(
      [] {
        for (int code = 0; code < 256; ++code) {
          auto c = child_process::spawn({"/bin/sh", "-c", "exit " + std::to_string(code)});
          const auto st = c.wait();
          CHECK(st.exited());
          CHECK(st.code() == code);
          CHECK(st.shell_code() == code);
          CHECK(c.wait() == st);  // a second wait gives the same status
        }
        auto c = child_process::spawn({"/bin/sh", "-c", "kill -USR1 $$"});
        const auto st = c.wait();
        CHECK(st.signaled());
        CHECK(st.signal() == sigkit::user1);
        CHECK(st.shell_code() == 128 + SIGUSR1);
        CHECK(st.describe() == "killed by SIGUSR1");
      },
      60s);
}

TEST_CASE("spawn reports exec failures itself, naming the program") {
  in_child([] {
    const int fds = sigkit_test::open_fd_count();
    CHECK_THROWS_WITH_AS(child_process::spawn({"no-such-program-sigkit"}),
                         doctest::Contains("'no-such-program-sigkit': No such file or directory"), std::system_error);
    try {
      child_process::spawn({"/etc/passwd"});
      CHECK_MESSAGE(false, "spawning a non-executable file succeeded");
    } catch (const std::system_error& e) {
      CHECK(e.code() == std::errc::permission_denied);
      CHECK(std::string(e.what()).find("/etc/passwd") != std::string::npos);
    }
    CHECK_THROWS_WITH_AS(child_process::spawn(std::span<const std::string>{}), doctest::Contains("empty argv"),
                         std::invalid_argument);
    std::error_code ec;
    auto c = child_process::spawn(std::vector<std::string>{"/nonexistent/x"}, {}, ec);
    CHECK(ec == std::errc::no_such_file_or_directory);
    CHECK_FALSE(c.valid());
    // Nothing left behind: no zombie, no descriptor.
    CHECK(sigkit_test::open_fd_count() == fds);
    int st;
    CHECK(::waitpid(-1, &st, WNOHANG) == -1);
    CHECK(errno == ECHILD);
  });
}

TEST_CASE("the child starts with default dispositions and an empty mask, unless asked otherwise") {
  in_child([] {
    auto ign = sigkit::ignore(sigkit::pipe);
    auto ign2 = sigkit::ignore(sigkit::user1);
    sigkit::stream s{{sigkit::terminate, sigkit::hangup}};
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR2);
    sigaddset(&block, SIGRTMIN + 2);
    REQUIRE(::pthread_sigmask(SIG_BLOCK, &block, nullptr) == 0);

    const auto inheritable = inheritable_fds();
    const auto clean = report_of({});
    CHECK(field(clean, "SigBlk:\t") == "0000000000000000");
    CHECK(field(clean, "SigIgn:\t") == "0000000000000000");
    for (const auto& l : clean)
      if (l.rfind("fd ", 0) == 0) {
        const int fd = std::stoi(l.substr(3));
        CHECK_MESSAGE((fd <= 2 || std::find(inheritable.begin(), inheritable.end(), fd) != inheritable.end()),
                      "leaked into the child: " << l);
      }

    const auto kept = report_of({.reset_signals = false});
    CHECK(field(kept, "SigBlk:\t") != "0000000000000000");  // SIGUSR2 and SIGRTMIN+2
    CHECK(field(kept, "SigIgn:\t") == "0000000000001200");  // SIGPIPE (13) and SIGUSR1 (10)
  });
}

TEST_CASE("process group, session and parent-death signal are set in the child") {
  in_child([] {
    {
      auto c = child_process::spawn({"sleep", "30"}, {.new_process_group = true});
      CHECK(::getpgid(c.pid()) == c.pid());
      CHECK(::getsid(c.pid()) == ::getsid(0));
      CHECK(c.own_group());
      CHECK(c.terminate(5s).signal() == sigkit::terminate);
    }
    {
      auto c = child_process::spawn({"sleep", "30"}, {.new_session = true});
      CHECK(::getsid(c.pid()) == c.pid());
      CHECK(::getpgid(c.pid()) == c.pid());
      c.terminate(5s);
    }
    {
      auto c = child_process::spawn({"sleep", "30"});
      CHECK(::getpgid(c.pid()) == ::getpgrp());
      c.terminate(5s);
    }
    // Parent death: an intermediate process spawns the sleeper and exits;
    // the sleeper (reparented to us, a subreaper) must die of SIGTERM.
    REQUIRE(::prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
    int p[2];
    REQUIRE(::pipe(p) == 0);
    const pid_t mid = ::fork();
    if (mid == 0) {
      auto c = child_process::spawn({"sleep", "30"}, {.parent_death_signal = sigkit::terminate});
      const pid_t pid = c.pid();
      (void)!::write(p[1], &pid, sizeof pid);
      ::_exit(0);
    }
    pid_t sleeper = -1;
    REQUIRE(::read(p[0], &sleeper, sizeof sleeper) == sizeof sleeper);
    CHECK(WIFEXITED(sigkit_test::wait_pid_for(mid, 5s)));
    const int st = sigkit_test::wait_pid_for(sleeper, 5s);
    CHECK_MESSAGE(WIFSIGNALED(st), "the orphaned child did not get its parent-death signal");
    CHECK(WTERMSIG(st) == SIGTERM);
  });
}

TEST_CASE("a signal sent right after spawn() returns is never lost") {
  in_child(
      [] {
        for (int i = 0; i < 200; ++i) {
          auto c = child_process::spawn({"sleep", "30"});
          c.send(sigkit::terminate);
          const auto st = c.wait_for(5s);
          REQUIRE(st.has_value());
          CHECK(st->signaled());
          CHECK(st->signal() == sigkit::terminate);
        }
      },
      60s);
}

TEST_CASE("send() after the child was reaped fails with ESRCH and hits nobody") {
  in_child([] {
    auto c = child_process::spawn({"true"});
    CHECK(c.wait().code() == 0);
    CHECK_THROWS_WITH_AS(c.send(sigkit::terminate), doctest::Contains("SIGTERM"), std::system_error);
    std::error_code ec;
    c.send(sigkit::terminate, ec);
    CHECK(ec == std::errc::no_such_process);
  });
}

TEST_CASE("wait_for times out on a running child and terminate escalates to SIGKILL after the grace period") {
  in_child([] {
    auto c = child_process::spawn({"/bin/sh", "-c", "trap '' TERM; echo ready; exec sleep 30"});
    CHECK_FALSE(c.wait_for(50ms).has_value());
    const auto t0 = std::chrono::steady_clock::now();
    const auto st = c.terminate(300ms);
    const auto took = std::chrono::steady_clock::now() - t0;
    CHECK(st.signal() == sigkit::signal{SIGKILL});
    CHECK(took >= 300ms);
    CHECK(took < 5s);

    auto polite = child_process::spawn({"sleep", "30"});
    CHECK(polite.terminate(5s).signal() == sigkit::terminate);
  });
}

TEST_CASE("exit_status::mirror exits with the code or dies of the signal without a core") {
  for (const int code : {0, 1, 42, 255}) {
    const auto r =
        sigkit_test::run_child([code] { sigkit::exit_status::from_wait_status(W_EXITCODE(code, 0)).mirror(); });
    CHECK(r.exited);
    CHECK(r.code == code);
  }
  for (const int signo : {SIGINT, SIGTERM, SIGQUIT, SIGABRT, SIGSEGV, SIGKILL}) {
    CAPTURE(signo);
    const auto r = sigkit_test::run_child([signo] {
      // Even with the signal blocked and caught here, mirror() dies of it.
      sigset_t one;
      sigemptyset(&one);
      sigaddset(&one, signo);
      ::pthread_sigmask(SIG_BLOCK, &one, nullptr);
      sigkit::exit_status::from_wait_status(signo).mirror();
    });
    CHECK(r.signaled);
    CHECK(r.signo == signo);
  }
}

TEST_CASE("the child's descriptors and the parent's are clean after spawn and wait") {
  in_child([] {
    const int fds = sigkit_test::open_fd_count();
    for (int i = 0; i < 50; ++i) {
      auto c = child_process::spawn({"true"});
      c.wait();
    }
    {
      auto c = child_process::spawn({"sleep", "30"});
      c.terminate(5s);
    }
    CHECK(sigkit_test::open_fd_count() == fds);
  });
}

namespace {
// `sh -c "trap '' TERM; exec sleep 30"`, once it is the sleep and ignores
// SIGTERM (the SIG_IGN survives the exec).
child_process stubborn() {
  auto c = child_process::spawn({"/bin/sh", "-c", "trap '' TERM; exec sleep 30"});
  const pid_t pid = c.pid();
  REQUIRE_MESSAGE(sigkit_test::wait_until(
                      [pid] {
                        std::error_code ec;
                        const auto s = sigkit::inspect_status(pid, ec);
                        return s && s->name == "sleep" && s->ignored.contains(sigkit::terminate);
                      },
                      5s),
                  "the child does not ignore SIGTERM");
  return c;
}
}  // namespace

TEST_CASE("wait_for means what it says for every duration, from nanoseconds::min() to max()") {
  in_child([] {
    using sigkit_test::time_of;
    auto c = child_process::spawn({"sleep", "30"});
    for (const std::chrono::nanoseconds timeout : sigkit_test::no_wait_durations) {
      CAPTURE(timeout.count());
      CHECK(time_of([&] { CHECK_FALSE(c.wait_for(timeout).has_value()); }) < 1s);
    }
    CHECK(time_of([&] { CHECK_FALSE(c.wait_for(50ms).has_value()); }) >= 50ms);
    std::optional<sigkit::exit_status> st;
    const pid_t pid = c.pid();  // kill() by pid: the child is not reaped before wait_for returns
    CHECK(sigkit_test::waited_for_event([&] { st = c.wait_for(std::chrono::nanoseconds::max()); },
                                        [pid] { ::kill(pid, SIGTERM); }));
    REQUIRE(st.has_value());
    CHECK(st->signal() == sigkit::terminate);
  });
}

TEST_CASE("terminate's grace means what it says for every duration, from nanoseconds::min() to max()") {
  in_child([] {
    using sigkit_test::time_of;
    for (const std::chrono::nanoseconds grace : sigkit_test::no_wait_durations) {
      CAPTURE(grace.count());
      auto c = stubborn();
      CHECK(time_of([&] { CHECK(c.terminate(grace).signal() == sigkit::signal{SIGKILL}); }) < 2s);
    }
    {
      auto c = stubborn();
      CHECK(time_of([&] { CHECK(c.terminate(200ms).signal() == sigkit::signal{SIGKILL}); }) >= 200ms);
    }
    {
      // The longest grace waits for the child: SIGTERM is ignored, so it
      // ends only when something else kills it.
      auto c = stubborn();
      const pid_t pid = c.pid();
      std::optional<sigkit::exit_status> st;
      CHECK(sigkit_test::waited_for_event([&] { st = c.terminate(std::chrono::nanoseconds::max()); },
                                          [pid] { ::kill(pid, SIGUSR1); }));
      REQUIRE(st.has_value());
      CHECK(st->signal() == sigkit::user1);
      auto polite = child_process::spawn({"sleep", "30"});
      CHECK(polite.terminate(std::chrono::nanoseconds::max()).signal() == sigkit::terminate);
    }
  });
}
