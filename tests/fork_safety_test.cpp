// fork() at any moment (issue 13, defect 1): while other threads are inside
// sigkit (any public entry point), a forked child's own sigkit calls never
// block. Threads hammer scoped_action/ignore/use_default, streams, flags,
// registries, shutdown, trap, disposition_of, inspect and signal delivery
// while the main thread forks; every child makes a fresh stream, receives a
// raised signal and _exits within a deadline, and the parent counts the
// children that hang (a watchdog per child).
//
// SIGKIT_FORK_SAFETY_FORKS sets the number of forks of the hammer case
// (default below: sized for ctest on a 2-core machine; the 10 000-fork runs
// are recorded in docs/reliability.md).
#include <sigkit/action.hpp>
#include <sigkit/flag.hpp>
#include <sigkit/inspect.hpp>
#include <sigkit/registry.hpp>
#include <sigkit/shutdown.hpp>
#include <sigkit/stream.hpp>
#include <sigkit/trap.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "support.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using sigkit_test::in_child;

namespace {

#if defined(SIGKIT_TEST_SANITIZED)
constexpr bool sanitized = true;
#else
constexpr bool sanitized = false;
#endif

// clang 14's AddressSanitizer is not fork-safe itself: a fork while another
// thread holds one of its allocator's locks (mid-malloc) leaves the child
// waiting for it for ever on its first allocation of that size. gdb shows
// such a child in __sanitizer::SizeClassAllocator64::GetFromAllocator ->
// Semaphore::Wait, under sigkit's stream constructor or under a new
// thread's pthread_getattr_np (LLVM 18 gave ASan an atfork handler that
// locks its allocator). sigkit cannot take
// those locks, so in the ASan build:
//  - the two regression cases, meaningful only with threads inside sigkit
//    at the fork, are skipped (they run in the g++, clang and, for the
//    first, TSan builds);
//  - the hammer case forks only while every hammer waits between two calls
//    (paused mode): it then checks the fork paths (atfork handlers, the
//    child's table) for memory errors with the table state the hammers
//    left, not sigkit's locks at the fork.
// SIGKIT_FORK_SAFETY_UNPAUSED=1 forks at any point under ASan too, to
// measure its hangs (SIGKIT_FORK_SAFETY_GDB=gdb prints their backtraces).
// TSan (clang 14) runs unpaused (figures in docs/reliability.md).
constexpr bool asan_build = sanitized && !sigkit_test::under_tsan;
bool paused_mode() { return asan_build && std::getenv("SIGKIT_FORK_SAFETY_UNPAUSED") == nullptr; }

int forks_to_make(int fallback) {
  if (const char* s = std::getenv("SIGKIT_FORK_SAFETY_FORKS")) {
    const int v = std::atoi(s);
    if (v > 0) return v;
  }
  return fallback;
}

// The harness watchdog for `forks` forks: 280 s (ctest allows 300), or more
// for a long run by hand (up to 400 ms a fork on a loaded machine under a
// sanitizer).
std::chrono::milliseconds watchdog_for(int forks) {
  return std::max(std::chrono::milliseconds(280s), std::chrono::milliseconds(400) * forks);
}

// A line describing where a hung process sleeps (kernel wait channel and the
// system call it is in), for the failure message.
std::string where_it_hangs(pid_t pid) {
  std::string out;
  for (const char* file : {"wchan", "syscall"}) {
    const std::string path = "/proc/" + std::to_string(pid) + "/" + file;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    char buf[256];
    const ssize_t n = ::read(fd, buf, sizeof buf - 1);
    ::close(fd);
    if (n > 0) {
      buf[n] = 0;
      out += std::string(file) + "=" + buf + " ";
    }
  }
  return out;
}

// Outcome of one child: 0 clean, otherwise its status (or -1: hung).
struct fork_outcome {
  bool hung = false;
  int status = 0;
  std::string where;
};

// Forks, runs `child_body` in the child (its return value is the exit code),
// calls `forked` in the parent, and waits `limit` for the child. A hung
// child is described, then killed.
fork_outcome fork_and_wait(const std::function<int()>& child_body, std::chrono::milliseconds limit,
                           const std::function<void()>& forked = {}) {
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) ::_exit(child_body());
  if (forked) forked();
  fork_outcome out;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));  // readable once it exits
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      if (pidfd >= 0) ::close(pidfd);
      out.status = status;
      return out;
    }
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    if (pidfd >= 0) {
      pollfd p{pidfd, POLLIN, 0};
      ::poll(&p, 1, static_cast<int>(left.count()));
    } else {
      std::this_thread::sleep_for(200us);
    }
  }
  if (pidfd >= 0) ::close(pidfd);
  out.hung = true;
  out.where = where_it_hangs(pid);
  if (const char* gdb = std::getenv("SIGKIT_FORK_SAFETY_GDB")) {
    // Investigation aid: a backtrace of the hung child before it is killed.
    const std::string cmd = std::string(gdb) + " -batch -p " + std::to_string(pid) +
                            " -ex 'thread apply all bt' >&2 2>/dev/null </dev/null";
    (void)std::system(cmd.c_str());
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return out;
}

// Forks up to `forks` times, each child running `child_body` with a 5 s
// watchdog, and stops at the first child that hangs; returns where it hung
// (empty: none did). CHECKs that every other child exited 0.
std::string first_hang(int forks, const std::function<int()>& child_body) {
  for (int i = 0; i < forks; ++i) {
    const auto out = fork_and_wait(child_body, 5s);
    if (out.hung) return "child " + std::to_string(i) + ": " + out.where;
    CHECK((WIFEXITED(out.status) && WEXITSTATUS(out.status) == 0));
  }
  return {};
}

// What every child does: a fresh stream receives a raised signal; a flag and
// a scoped action come and go; where threads can be started (not under
// TSan, which refuses new threads after a multi-threaded fork), a trap and a
// shutdown too. Returns the exit code (0: all worked).
int child_uses_sigkit() {
  sigkit::stream s{{sigkit::user1}};
  ::raise(SIGUSR1);
  if (!s.recv_for(5s)) return 3;
  {
    sigkit::flag f{{sigkit::user2}};
    auto ign = sigkit::ignore(sigkit::signal{SIGPROF});
    ::raise(SIGUSR2);
    if (f.count() != 1) return 4;
  }
  if (!sigkit_test::under_tsan) {
    sigkit::trap t{[] {}};
    t.dismiss();
    sigkit::shutdown stop({sigkit::signal{SIGVTALRM}});
  }
  return 0;
}

}  // namespace

// Regression (issue 13, defect 1): the atfork handlers were registered
// lazily under the table lock, and scoped_action never registered them, so
// a fork while another thread held the lock (here: inside ignore()) gave a
// child whose first sigkit call blocked for ever (1 to 8 of 10 forks).
TEST_CASE("a child forked while another thread loops on sigkit::ignore can use sigkit" * doctest::skip(asan_build)) {
  in_child(
      [] {
        std::atomic<bool> stop{false};
        std::thread hammer([&] {
          while (!stop.load(std::memory_order_relaxed)) {
            auto ign = sigkit::ignore(sigkit::user2);
          }
        });
        // The child's first sigkit call takes the table lock.
        const std::string hang = first_hang(50, [] {
          sigkit::stream s{{sigkit::user1}};
          ::raise(SIGUSR1);
          return s.recv_for(5s) ? 0 : 3;
        });
        stop.store(true);
        hammer.join();
        CHECK_MESSAGE(hang.empty(), "a forked child hung on its first sigkit call (" << hang << ")");
      },
      60s);
}

// A trap's registry of live traps was a std::mutex of its own: a fork while
// another thread created or destroyed a trap could leave it locked in the
// child. It is now under the table lock, which the atfork handlers hold
// across fork(). Not under ASan (see paused_mode()), nor under TSan, which
// does not start threads in a child of a multi-threaded process.
TEST_CASE("a child forked while other threads create and destroy traps can make a trap" * doctest::skip(sanitized)) {
  // 1000 forks take about 7 s (g++, loaded 2-core machine); on 5563e0d they
  // caught the hang in 2 of 6 runs (5000 forks: 3 of 3).
  const int forks = forks_to_make(1000);
  in_child(
      [forks] {
        std::atomic<bool> stop{false};
        std::vector<std::thread> hammers;
        for (int k = 0; k < 2; ++k)
          hammers.emplace_back([&] {
            while (!stop.load(std::memory_order_relaxed)) {
              sigkit::trap t{{sigkit::alarm}, [] {}};
              t.dismiss();
            }
          });
        const std::string hang = first_hang(forks, [] {
          sigkit::trap t{{sigkit::alarm}, [] {}};
          t.dismiss();
          return 0;
        });
        stop.store(true);
        for (auto& t : hammers) t.join();
        CHECK_MESSAGE(hang.empty(), "a forked child hung making a trap (" << hang << ")");
      },
      watchdog_for(forks));
}

TEST_CASE("fork at any point: threads hammer every entry point, every forked child can still use sigkit") {
  // In ctest: a count that costs under 30 s per build on a loaded 2-core
  // machine (figures in docs/reliability.md).
  const int forks = forks_to_make(sanitized ? 100 : 250);
  in_child(
      [forks] {
        // Each hammer loops over one family of entry points.
        std::atomic<bool> stop{false};
        std::array<std::atomic<std::uint64_t>, 8> cycles{};
        std::vector<std::function<void()>> bodies = {
            [] {  // scoped actions
              auto a = sigkit::ignore(sigkit::user2);
              auto b = sigkit::use_default(sigkit::signal{SIGPROF});
              struct sigaction act {};
              act.sa_handler = [](int) {};
              sigemptyset(&act.sa_mask);
              sigkit::scoped_action c(sigkit::signal{SIGXFSZ}, act);
              (void)sigkit::disposition_of(sigkit::user2);
            },
            [] {  // streams and flags
              sigkit::stream s{{sigkit::window_change, sigkit::signal{SIGURG}}, {.capacity = 4}};
              sigkit::flag f{{sigkit::window_change}};
              (void)s.try_recv();
            },
            [] {  // registries
              sigkit::registry r;
              r.stream({sigkit::window_change});
              r.flag({sigkit::signal{SIGURG}});
              r.ignore(sigkit::signal{SIGTTIN});
            },
            [] {  // shutdown
              sigkit::shutdown stop_on({sigkit::signal{SIGVTALRM}});
            },
            [] {  // trap
              sigkit::trap t{{sigkit::alarm}, [] {}};
              t.dismiss();
            },
            [] {  // inspect (reads /proc)
              (void)sigkit::inspect(::getpid());
            },
            [] {  // deliveries: the handler runs on hammer threads during the forks
              ::kill(::getpid(), SIGWINCH);
              ::kill(::getpid(), SIGURG);
            },
            [] {  // first stream of a fresh table: ensure_incarnation's path
              sigkit::flag f{{sigkit::signal{SIGPWR}}};
            },
        };
        std::vector<std::thread> hammers;
        // Paused mode (sanitizer builds): the forker raises fork_pending and
        // forks once every hammer is parked between two calls.
        const bool pause = paused_mode();
        std::atomic<bool> fork_pending{false};
        std::atomic<std::size_t> parked{0};
        // The forking (main) thread blocks what the hammers send, so that
        // deliveries land on the hammer threads.
        sigset_t sent;
        sigemptyset(&sent);
        sigaddset(&sent, SIGWINCH);
        sigaddset(&sent, SIGURG);
        ::pthread_sigmask(SIG_BLOCK, &sent, nullptr);
        for (std::size_t k = 0; k < bodies.size(); ++k)
          hammers.emplace_back([&, k] {
            sigset_t none;
            sigemptyset(&none);
            ::pthread_sigmask(SIG_SETMASK, &none, nullptr);
            // Below the forking thread and its children, so that they are
            // not starved on a small machine; the hammers still run
            // whenever the forker waits for a child.
            ::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), 10);
            while (!stop.load(std::memory_order_relaxed)) {
              if (fork_pending.load()) {
                parked.fetch_add(1);
                while (fork_pending.load()) std::this_thread::yield();
                parked.fetch_sub(1);
              }
              bodies[k]();
              cycles[k].fetch_add(1, std::memory_order_relaxed);
            }
          });
        const auto t0 = std::chrono::steady_clock::now();
        int hangs = 0, failed = 0;
        std::string where;
        for (int i = 0; i < forks; ++i) {
          if (pause) {
            fork_pending.store(true);
            while (parked.load() != hammers.size()) std::this_thread::yield();
          }
          const auto out = fork_and_wait(child_uses_sigkit, 10s, [&] { fork_pending.store(false); });
          if (out.hung) {
            if (hangs++ == 0) where = out.where;
          } else if (!(WIFEXITED(out.status) && WEXITSTATUS(out.status) == 0)) {
            ++failed;
          }
        }
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        stop.store(true);
        for (auto& t : hammers) t.join();
        std::string counts;
        for (auto& c : cycles) counts += std::to_string(c.load()) + " ";
        MESSAGE(std::string(pause ? "paused mode: " : "")
                << "forks " << forks << ", hangs " << hangs << ", failed " << failed << ", " << secs
                << " s; hammer cycles (actions streams registries shutdown trap inspect sends flags): " << counts);
        std::printf("fork_safety: %sforks %d hangs %d failed %d seconds %.1f cycles %s\n", pause ? "paused " : "",
                    forks, hangs, failed, secs, counts.c_str());
        CHECK_MESSAGE(hangs == 0, hangs << " of " << forks << " children hung (first: " << where << ")");
        CHECK(failed == 0);
        for (auto& c : cycles) CHECK(c.load() > 0);
      },
      watchdog_for(forks));
}
