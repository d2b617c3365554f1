// bench_support.hpp - small helpers shared by sigkit's benchmark programs:
// clocks, thread ids and states, CPU pinning, signal masks, percentiles.
#pragma once

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <sigkit/inspect.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace bench {

/// CLOCK_MONOTONIC in nanoseconds (comparable across processes).
inline std::int64_t now_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

inline pid_t this_tid() noexcept { return static_cast<pid_t>(::syscall(SYS_gettid)); }

/// Sends `signo` to one thread of this process. The same call for every
/// contender: glibc's raise() adds two sigprocmask calls around tgkill.
inline int send_to_thread(pid_t tid, int signo) noexcept {
  return static_cast<int>(::syscall(SYS_tgkill, ::getpid(), tid, signo));
}

/// The k signals the distinct-signal measurements subscribe to, one stream
/// each: SIGUSR1 (the one delivered), then SIGRTMIN, SIGRTMIN+1, ...; fewer
/// than k if the system has too few real-time signals. Shared by
/// sigkit_bench and handler_probe, so that both measure the same setup.
inline std::vector<int> distinct_signals(std::size_t k) {
  std::vector<int> v{SIGUSR1};
  for (int s = SIGRTMIN; v.size() < k && s <= SIGRTMAX; ++s) v.push_back(s);
  return v;
}

/// The scheduler state letter of a thread or process ('R', 'S', 'D', ...,
/// sigkit::proc_status::state); '?' if it cannot be read.
inline char thread_state(pid_t tid) noexcept {
  std::error_code ec;
  const auto status = sigkit::inspect_status(tid, ec);
  return status && status->state != 0 ? status->state : '?';
}

/// Where thread `tid` of this process sleeps in the kernel (/proc wchan).
inline std::string thread_wchan(pid_t tid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/task/%d/wchan", static_cast<int>(tid));
  FILE* f = std::fopen(path, "re");
  if (f == nullptr) return "?";
  char buf[128] = {};
  const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  return std::string(buf, n);
}

/// Waits until thread `tid` of this process sleeps ('S'). Yields the CPU
/// between checks so that, on one CPU, the thread can get there.
inline bool wait_until_asleep(pid_t tid, int max_checks = 200000) noexcept {
  for (int i = 0; i < max_checks; ++i) {
    if (thread_state(tid) == 'S') return true;
    const timespec pause{0, 20'000};
    ::nanosleep(&pause, nullptr);
  }
  return false;
}

/// CPUs this process may run on.
inline std::vector<int> allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> out;
  if (::sched_getaffinity(0, sizeof set, &set) != 0) return out;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &set)) out.push_back(c);
  return out;
}

/// Pins the calling thread to `cpu` and checks that it took.
inline bool pin_this_thread(int cpu) noexcept {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (::sched_setaffinity(0, sizeof set, &set) != 0) return false;
  cpu_set_t got;
  CPU_ZERO(&got);
  return ::sched_getaffinity(0, sizeof got, &got) == 0 && CPU_EQUAL(&set, &got);
}

/// Restores the calling thread's affinity on scope exit.
class scoped_affinity {
 public:
  scoped_affinity() noexcept {
    CPU_ZERO(&saved_);
    ::sched_getaffinity(0, sizeof saved_, &saved_);
  }
  ~scoped_affinity() { ::sched_setaffinity(0, sizeof saved_, &saved_); }
  scoped_affinity(const scoped_affinity&) = delete;
  scoped_affinity& operator=(const scoped_affinity&) = delete;

 private:
  cpu_set_t saved_;
};

/// Blocks (or unblocks) one signal in the calling thread for a scope.
class scoped_mask {
 public:
  scoped_mask(int signo, bool block) noexcept {
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, signo);
    ::pthread_sigmask(block ? SIG_BLOCK : SIG_UNBLOCK, &one, &saved_);
  }
  ~scoped_mask() { ::pthread_sigmask(SIG_SETMASK, &saved_, nullptr); }
  scoped_mask(const scoped_mask&) = delete;
  scoped_mask& operator=(const scoped_mask&) = delete;

 private:
  sigset_t saved_;
};

/// Sets `signo` to SIG_DFL and drops any instance of it left pending, so
/// that one contender's leftovers cannot reach the next one.
inline void reset_signal(int signo) noexcept {
  sigset_t one, old;
  sigemptyset(&one);
  sigaddset(&one, signo);
  ::pthread_sigmask(SIG_BLOCK, &one, &old);
  struct sigaction ign {};
  ign.sa_handler = SIG_IGN;  // ignoring discards what is pending
  sigemptyset(&ign.sa_mask);
  ::sigaction(signo, &ign, nullptr);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  ::sigaction(signo, &dfl, nullptr);
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

/// Order statistics of a sample, in the sample's unit.
struct summary {
  double min = 0, median = 0, p90 = 0, p99 = 0, max = 0, mean = 0;
  std::size_t n = 0;
};

inline summary summarize(std::vector<double> v) {
  summary s;
  s.n = v.size();
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    // Nearest rank: the smallest value with at least q of the sample at or below it.
    auto rank = static_cast<std::size_t>(q * static_cast<double>(v.size()) + 0.999999);
    rank = std::clamp<std::size_t>(rank, 1, v.size());
    return v[rank - 1];
  };
  s.min = v.front();
  s.max = v.back();
  s.median = at(0.5);
  s.p90 = at(0.9);
  s.p99 = at(0.99);
  double sum = 0;
  for (double x : v) sum += x;
  s.mean = sum / static_cast<double>(v.size());
  return s;
}

}  // namespace bench
