// Test support: fork isolation with a watchdog, and small helpers.
//
// Every test that changes signal state runs its body in a forked child via
// in_child(): the child gets a fresh copy of the process (so nothing leaks
// into other tests), its doctest assertions are counted and turned into its
// exit code, and the parent kills it if it outlives its time limit.
#pragma once

#include <signal.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <sigkit/inspect.hpp>
#include <sigkit/mask.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <thread>

#if defined(__SANITIZE_THREAD__)
#define SIGKIT_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SIGKIT_TEST_TSAN 1
#endif
#endif

namespace sigkit_test {

using namespace std::chrono_literals;

/// True under ThreadSanitizer, whose runtime defers signal delivery through
/// a per-thread table with one slot per signal number: queued real-time
/// signals of one number coalesce there, so exact real-time accounting
/// cannot be observed under TSan (it is tested in every other build).
#if defined(SIGKIT_TEST_TSAN)
inline constexpr bool under_tsan = true;
#else
inline constexpr bool under_tsan = false;
#endif

/// How a child ended.
struct child_result {
  bool exited = false;
  int code = -1;  // exit code if exited
  bool signaled = false;
  int signo = 0;  // terminating signal if signaled
  bool timed_out = false;
  std::string describe() const;
};

/// Runs `body` in a forked child and returns how the child ended. The child
/// exits 0 if `body` returns with no failed doctest assertion, 1 if an
/// assertion failed, 2 on an exception. Killed (timed_out) after `limit`.
child_result run_child(const std::function<void()>& body, std::chrono::milliseconds limit = 20s);

/// run_child(), then CHECKs that the child exited 0.
void in_child(const std::function<void()>& body, std::chrono::milliseconds limit = 20s);

/// in_child() for a body that starts shells and jobs: the forked child is a
/// child subreaper (orphaned descendants come back to it, not to init), and
/// reaps whatever is left of them once `body` returns.
void in_subreaper_child(const std::function<void()>& body, std::chrono::milliseconds limit);

/// Waits for `pid` at most `limit`; returns its wait status, or -1 on timeout
/// (the child is then killed and reaped).
int wait_pid_for(pid_t pid, std::chrono::milliseconds limit);

/// Number of open file descriptors of this process (from /proc/self/fd).
int open_fd_count();

/// Compares two dispositions exactly: handler, mask, and every flag but
/// glibc's own SA_RESTORER (see support.cpp).
bool same_disposition(const struct sigaction& a, const struct sigaction& b);

/// All dispositions 1..NSIG-1 (entries for SIGKILL/SIGSTOP included).
struct all_dispositions {
  struct sigaction act[NSIG];
  static all_dispositions capture();
  /// Empty if equal, else the names of the signals that differ.
  std::string diff(const all_dispositions& other) const;
};

/// Path of a helper program built from tests/helpers/.
std::string helper_path(const std::string& name);

/// Waits until `pred` holds, for at most `limit`, looking every `step`; true
/// if it held in time.
template <class P>
bool wait_until(P pred, std::chrono::milliseconds limit, std::chrono::microseconds step = 1ms) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return pred();
    std::this_thread::sleep_for(step);
  }
  return true;
}

/// Waits (at most `limit`) until every other thread of this process is
/// asleep (state 'S'), so that a fork() made next does not copy a lock some
/// thread holds mid-allocation. The C library's own locks are fork-safe,
/// but the sanitizers' allocators in clang 14 are not. True if they all
/// were asleep. (Inline, so that it is compiled with the sigkit macros of
/// the test that uses it: the support library is built once.)
inline bool wait_other_threads_asleep(std::chrono::milliseconds limit = 5s) {
  const auto self = static_cast<pid_t>(::syscall(SYS_gettid));
  return wait_until(
      [self] {
        std::error_code ec;
        for (const auto& t : sigkit::inspect_threads(::getpid(), ec)) {
          if (t.tid == self) continue;
          const auto status = sigkit::inspect_status(t.tid, ec);
          if (status && status->state != 'S') return false;  // gone meanwhile: no longer in the way
        }
        return true;
      },
      limit);
}

/// A thread that sends `s` to this process (kill(getpid())) after `delay`,
/// with `s` blocked, so that the kernel hands it to a thread that waits for
/// it. A sender that took the signal itself could exit before TSan's
/// runtime ran the handler it defers to the thread's next safe point, and
/// the signal would be lost (the wakeup_test case that failed once in CI).
inline std::jthread send_to_self_from_thread(sigkit::signal s, std::chrono::milliseconds delay = {}) {
  return std::jthread([s, delay] {
    const sigkit::scoped_block own{{s}};
    if (delay > std::chrono::milliseconds::zero()) std::this_thread::sleep_for(delay);
    ::kill(::getpid(), s.number());
  });
}

/// Waits (at most `limit`) until process `pid` runs the program `name`
/// and ignores `s` (/proc/PID/status), e.g. `sh -c "trap '' TERM; exec
/// sleep 30"` once the exec is done: a shell slow to set its trap would
/// die of the signal. True if it did.
inline bool wait_running_ignoring(pid_t pid, std::string_view name, sigkit::signal s,
                                  std::chrono::milliseconds limit = 5s) {
  return wait_until(
      [=] {
        std::error_code ec;
        const auto status = sigkit::inspect_status(pid, ec);
        return status && status->name == name && status->ignored.contains(s);
      },
      limit);
}

/// The durations every timeout parameter is tested with that mean "do not
/// wait": nanoseconds::min(), -1 ns, 0 and (too short to wait for) 1 ns.
inline constexpr std::chrono::nanoseconds no_wait_durations[] = {
    std::chrono::nanoseconds::min(), std::chrono::nanoseconds(-1), std::chrono::nanoseconds(0),
    std::chrono::nanoseconds(1)};

/// For a wait given the longest timeout there is (nanoseconds::max()): runs
/// `wait` on this thread while another thread, after `after`, records
/// whether `wait` is still running and then calls `finish`, which makes the
/// awaited event happen. True if `wait` was still waiting then (and, since
/// this returns, it returned after the event).
template <class Wait, class Finish>
bool waited_for_event(Wait wait, Finish finish, std::chrono::milliseconds after = 200ms) {
  std::atomic<bool> returned{false};
  std::atomic<bool> was_waiting{false};
  std::thread other([&] {
    std::this_thread::sleep_for(after);  // the point: is it still waiting after a while?
    was_waiting = !returned.load();
    finish();
  });
  wait();
  returned = true;
  other.join();
  return was_waiting.load();
}

/// How long `f` takes to run.
template <class F>
std::chrono::steady_clock::duration time_of(F f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::steady_clock::now() - t0;
}

}  // namespace sigkit_test
