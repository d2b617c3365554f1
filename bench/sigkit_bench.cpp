// sigkit_bench - every contender in one binary and one run, so that ratios
// are comparable (see bench/RESULTS.md for how to read the output):
//   round_trip_same_thread/<contender>        tgkill to self, then observe
//   round_trip_two_threads/<contender>/...    observer asleep in its wait,
//                                             sender on the same or another CPU
//   storm/<contender>/capacity:<n>            a sender process sigqueue()s for
//                                             0.5 s while the observer consumes
//   fanout/<mode>/subscribers:<n>             one delivery to n sigkit streams
//                                             (drained, pending, shared_drained)
//   registration/...                          subscribe + unsubscribe costs
//   distinct_signals/<mode>/signals:<k>       round trip and handler cost with
//                                             k distinct signals subscribed
//   storm_senders/<contender>/senders:<t>     storm throughput with t sender threads
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <optional>
#include <sigkit/flag.hpp>
#include <sigkit/mask.hpp>
#include <sigkit/stream.hpp>
#include <sigkit/wakeup_group.hpp>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bench_support.hpp"
#include "contender.hpp"

namespace bench {

std::vector<contender_kind>& contenders() {
  static std::vector<contender_kind> all;
  return all;
}

contender_registrar::contender_registrar(contender_kind kind) {
  auto& all = contenders();
  all.push_back(std::move(kind));
  std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.order < b.order; });
}

namespace {

constexpr int round_trip_signal = SIGUSR1;
int storm_signal() { return SIGRTMIN + 4; }

// RLIMIT_SIGPENDING is counted per user, and this machine's other users
// (parallel test suites of the same uid) need their share: the storm target
// (this process) caps what may be queued to it. See RESULTS.md.
constexpr rlim_t storm_sigpending_cap = 8192;

/// Tears a contender down without letting a delivery that is still pending
/// reach SIG_DFL (which terminates for SIGUSR1 and real-time signals).
void teardown(std::unique_ptr<contender>& c, int signo) {
  const scoped_mask block(signo, true);
  c.reset();
  reset_signal(signo);
}

void set_error(benchmark::State& state, const std::string& what) { state.SkipWithError(what.c_str()); }

// ---------------------------------------------------------------------------
// 1. Round trip, same thread.

void round_trip_same_thread(benchmark::State& state, const contender_kind& kind) {
  const int signo = round_trip_signal;
  reset_signal(signo);
  std::optional<scoped_mask> mask;
  if (kind.how == delivery::blocked) mask.emplace(signo, true);
  auto c = kind.make(signo, 64);
  const pid_t self = this_tid();
  std::uint64_t seen = 0;
  for (auto _ : state) {
    send_to_thread(self, signo);
    seen += c->wait_one();
  }
  if (seen != static_cast<std::uint64_t>(state.iterations()))
    set_error(state,
              "observed " + std::to_string(seen) + " deliveries for " + std::to_string(state.iterations()) + " sends");
  teardown(c, signo);
}

// ---------------------------------------------------------------------------
// 2. Round trip, two threads: the observer sleeps in its wait before every
// send (checked in /proc), the sender records t0, sends, and sleeps on a
// futex until the observer has published the time it saw the delivery.

long futex(std::atomic<int>* word, int op, int value, const timespec* timeout) {
  static_assert(sizeof(std::atomic<int>) == sizeof(int));
  return ::syscall(SYS_futex, reinterpret_cast<int*>(word), op, value, timeout, nullptr, 0);
}

struct handshake {
  std::atomic<int> seq{0};
  std::atomic<bool> stop{false};
  std::atomic<pid_t> tid{0};
  std::atomic<std::int64_t> t1{0};
  std::atomic<int> cpu{-1};
};

enum class handled_on { observer, sender };

void round_trip_two_threads(benchmark::State& state, const contender_kind& kind, int cpus, handled_on where) {
  const int signo = round_trip_signal;
  const std::vector<int> allowed = allowed_cpus();
  if (static_cast<int>(allowed.size()) < cpus) {
    set_error(state, "needs " + std::to_string(cpus) + " CPUs, this process may use " + std::to_string(allowed.size()));
    return;
  }
  const int sender_cpu = allowed[0];
  const int observer_cpu = cpus == 1 ? allowed[0] : allowed[1];
  reset_signal(signo);

  const scoped_affinity keep_affinity;
  if (!pin_this_thread(sender_cpu)) {
    set_error(state, "cannot pin the sender");
    return;
  }
  // Who may take the signal: the handler's thread, or (kernel floor) nobody.
  const bool sender_takes = kind.how == delivery::handler && where == handled_on::sender;
  const bool observer_takes = kind.how == delivery::handler && where == handled_on::observer;
  const scoped_mask sender_mask(signo, !sender_takes);
  auto c = kind.make(signo, 64);

  handshake hs;
  std::atomic<bool> pinned{true};
  std::thread observer([&] {
    const scoped_mask observer_mask(signo, !observer_takes);
    if (!pin_this_thread(observer_cpu)) pinned = false;
    hs.tid = this_tid();
    for (;;) {
      c->wait_one();
      const std::int64_t t1 = now_ns();
      if (hs.stop.load(std::memory_order_acquire)) return;
      hs.t1.store(t1, std::memory_order_relaxed);
      hs.cpu.store(::sched_getcpu(), std::memory_order_relaxed);
      hs.seq.fetch_add(1, std::memory_order_release);
      futex(&hs.seq, FUTEX_WAKE_PRIVATE, 1, nullptr);
    }
  });
  while (hs.tid.load() == 0) std::this_thread::yield();
  const pid_t observer_tid = hs.tid.load();
  const pid_t target = sender_takes ? this_tid() : observer_tid;

  std::vector<double> latencies;
  latencies.reserve(static_cast<std::size_t>(state.max_iterations));
  std::string error;
  int on_same_cpu = 0;
  for (auto _ : state) {
    if (!wait_until_asleep(observer_tid)) {
      error = "the observer never went to sleep";
      break;
    }
    const int before = hs.seq.load(std::memory_order_acquire);
    const std::int64_t t0 = now_ns();
    send_to_thread(target, signo);
    const timespec limit{10, 0};
    while (hs.seq.load(std::memory_order_acquire) == before) {
      if (futex(&hs.seq, FUTEX_WAIT_PRIVATE, before, &limit) != 0 && errno == ETIMEDOUT) break;
    }
    if (hs.seq.load(std::memory_order_acquire) == before) {
      error = "no delivery observed within 10 s (send " + std::to_string(latencies.size()) + ", observer state " +
              std::string(1, thread_state(observer_tid)) + " in " + thread_wchan(observer_tid) + ")";
      break;
    }
    const double ns = static_cast<double>(hs.t1.load(std::memory_order_relaxed) - t0);
    state.SetIterationTime(ns * 1e-9);
    latencies.push_back(ns);
    if (hs.cpu.load(std::memory_order_relaxed) == ::sched_getcpu()) ++on_same_cpu;
  }
  hs.stop.store(true, std::memory_order_release);
  send_to_thread(target, signo);  // wakes the observer one last time
  observer.join();
  teardown(c, signo);

  if (!error.empty()) return set_error(state, error);
  if (!pinned) return set_error(state, "cannot pin the observer");
  const summary s = summarize(latencies);
  state.counters["median_ns"] = s.median;
  state.counters["p90_ns"] = s.p90;
  state.counters["p99_ns"] = s.p99;
  state.counters["min_ns"] = s.min;
  state.counters["max_ns"] = s.max;
  // 1.0 when every observation ran on the sender's CPU, 0.0 when none did:
  // shows that the pinning held.
  state.counters["same_cpu_fraction"] = latencies.empty() ? 0.0 : on_same_cpu / static_cast<double>(latencies.size());
}

// ---------------------------------------------------------------------------
// 3. Storm: a forked sender sigqueue()s the storm signal to this process as
// fast as it can for 0.5 s while the observer consumes through the
// contender's consumer path.
//   handler_on:observer  the process is single-threaded: the observer's own
//                        thread takes every delivery (a typical event loop);
//   handler_on:helper    the observer blocks the signal and a helper thread
//                        on the same CPU takes the deliveries.
// Starvation is judged per 1 ms slot of the storm: a slot is starved when
// the sender was trying to send in it and the observer observed nothing.
// The observer's run-queue wait (time it was runnable while another task
// had its CPU: other load on the machine) is reported next to it.

constexpr int storm_slots = 600;  // 1 ms each; the storm lasts 500
constexpr int max_storm_senders = 8;

struct storm_report {
  std::uint64_t sent = 0, eagain = 0, other_errors = 0;
  std::int64_t t_start = 0, t_end = 0;
  std::uint32_t attempts[storm_slots] = {};  // sigqueue() calls per 1 ms slot
};

int live_threads() {
  std::error_code ec;
  const auto status = sigkit::inspect_status(::getpid(), ec);
  return status ? status->threads : 0;
}

/// (time on CPU, time runnable but waiting for the CPU) of this thread, ns.
std::pair<std::int64_t, std::int64_t> thread_schedstat() {
  std::ifstream in("/proc/thread-self/schedstat");
  std::int64_t run = 0, wait = 0;
  in >> run >> wait;
  return {run, wait};
}

// One sender thread's loop: sigqueue() in chunks of 16 until 0.5 s after
// `start_at`, counting attempts per 1 ms slot.
void storm_send_loop(pid_t target, int signo, std::int64_t start_at, storm_report& r) {
  r.t_start = start_at;
  const std::int64_t until = start_at + 500'000'000;
  int seq = 0;
  for (;;) {
    for (int i = 0; i < 16; ++i) {
      union sigval v {};
      v.sival_int = seq;
      if (::sigqueue(target, signo, v) == 0) {
        ++r.sent;
        ++seq;
      } else if (errno == EAGAIN) {
        ++r.eagain;  // RLIMIT_SIGPENDING reached: not sent, not counted as sent
      } else {
        ++r.other_errors;
      }
    }
    const std::int64_t t = now_ns();
    const std::int64_t slot = (t - r.t_start) / 1'000'000;
    if (slot < storm_slots) r.attempts[slot] += 16;
    if (t >= until) break;
  }
  r.t_end = now_ns();
}

// The sender process: `senders` threads (all on `cpu` when it is >= 0)
// storm at once; their counts are summed into one report.
[[noreturn]] void storm_sender(pid_t target, int signo, int go_fd, int report_fd, int cpu, int senders) {
  if (cpu >= 0) pin_this_thread(cpu);
  static storm_report each[max_storm_senders];  // static: too big for a comfortable stack frame
  std::atomic<std::int64_t> start_at{0};
  std::vector<std::thread> others;
  for (int i = 1; i < senders; ++i)
    others.emplace_back([&, i] {
      if (cpu >= 0) pin_this_thread(cpu);
      std::int64_t t0 = 0;
      while ((t0 = start_at.load()) == 0) ::sched_yield();
      storm_send_loop(target, signo, t0, each[i]);
    });
  char go = 0;
  if (::read(go_fd, &go, 1) != 1) ::_exit(1);
  const std::int64_t t0 = now_ns();
  start_at = t0;
  storm_send_loop(target, signo, t0, each[0]);
  for (auto& t : others) t.join();
  static storm_report r;
  r.t_start = t0;
  for (int i = 0; i < senders; ++i) {
    r.sent += each[i].sent;
    r.eagain += each[i].eagain;
    r.other_errors += each[i].other_errors;
    r.t_end = std::max(r.t_end, each[i].t_end);
    for (int k = 0; k < storm_slots; ++k) r.attempts[k] += each[i].attempts[k];
  }
  const char* p = reinterpret_cast<const char*>(&r);
  std::size_t left = sizeof r;
  while (left > 0) {
    const ssize_t w = ::write(report_fd, p, left);
    if (w <= 0) ::_exit(1);
    p += w;
    left -= static_cast<std::size_t>(w);
  }
  ::_exit(0);
}

enum class storm_handler { observer, helper };

void storm(benchmark::State& state, const contender_kind& kind, std::size_t capacity, storm_handler where,
           int senders) {
  const int signo = storm_signal();
  if (live_threads() != 1) {
    set_error(state, "the storm needs a single-threaded process (it decides which thread takes the signal)");
    return;
  }
  const std::vector<int> allowed = allowed_cpus();
  const int observer_cpu = allowed.empty() ? -1 : allowed[0];
  const int sender_cpu = allowed.size() >= 2 ? allowed[1] : -1;
  const scoped_affinity keep_affinity;
  if (observer_cpu >= 0) pin_this_thread(observer_cpu);

  struct totals {
    double sent = 0, seen = 0, dropped = 0, eagain = 0, errors = 0, starved = 0, gap = 0, drain_ms = 0, oncpu_ms = 0,
           waitcpu_ms = 0, storm_ms = 0;
  } sum;
  int runs = 0;
  for (auto _ : state) {
    reset_signal(signo);
    // The observer blocks the signal unless its own thread is to take it.
    const scoped_mask mask(signo, kind.how == delivery::blocked || where == storm_handler::helper);
    auto c = kind.make(signo, capacity);
    std::atomic<bool> helper_stop{false};
    std::atomic<pid_t> helper_tid{0};
    std::optional<std::thread> helper;
    if (where == storm_handler::helper) {
      helper.emplace([&] {
        if (observer_cpu >= 0) pin_this_thread(observer_cpu);
        const scoped_mask take(signo, false);
        helper_tid = this_tid();
        while (!helper_stop.load()) ::pause();  // every delivery runs the handler here
      });
      while (helper_tid.load() == 0) std::this_thread::yield();
    }
    int go[2], report[2];
    if (::pipe2(go, O_CLOEXEC) != 0 || ::pipe2(report, O_CLOEXEC) != 0) {
      set_error(state, "pipe2");
      return;
    }
    const pid_t self = ::getpid();
    const pid_t sender = ::fork();
    if (sender == 0) storm_sender(self, signo, go[0], report[1], sender_cpu, senders);
    ::close(go[0]);
    ::close(report[1]);
    ::fcntl(report[0], F_SETFL, O_NONBLOCK);

    std::vector<std::int64_t> observed_at;  // one entry per batch the observer took
    observed_at.reserve(1 << 21);
    auto r = std::make_unique<storm_report>();
    std::size_t report_bytes = 0;
    bool reported = false;
    std::uint64_t seen = 0;
    std::int64_t last_seen_at = 0, last_progress = 0;
    const auto sched0 = thread_schedstat();
    const std::int64_t t_go = now_ns();
    (void)!::write(go[1], "g", 1);
    for (;;) {
      const std::uint64_t n = c->consume(1);
      const std::int64_t t = now_ns();
      if (n > 0) {
        seen += n;
        last_seen_at = last_progress = t;
        if (observed_at.size() < observed_at.capacity()) observed_at.push_back(t);
      }
      if (!reported && t - t_go >= 500'000'000) {
        const ssize_t got =
            ::read(report[0], reinterpret_cast<char*>(r.get()) + report_bytes, sizeof(storm_report) - report_bytes);
        if (got > 0) report_bytes += static_cast<std::size_t>(got);
        if (report_bytes == sizeof(storm_report)) {
          reported = true;
          last_progress = std::max(last_progress, t);
        }
      }
      if (reported) {
        if (seen + c->dropped() >= r->sent) break;   // everything accounted for
        if (t - last_progress > 300'000'000) break;  // lossy: nothing more is coming
      }
      if (t - t_go > 19'000'000'000) break;  // safety net
    }
    const auto sched1 = thread_schedstat();
    int status = 0;
    ::waitpid(sender, &status, 0);
    ::close(go[1]);
    ::close(report[0]);
    const std::uint64_t dropped = c->dropped();
    if (helper) {
      helper_stop = true;
      send_to_thread(helper_tid.load(), signo);  // ends its pause()
      helper->join();
    }
    teardown(c, signo);
    if (!reported) {
      set_error(state, "the sender never reported");
      return;
    }
    // Starved slots: the sender tried to send, the observer saw nothing.
    std::vector<std::uint8_t> observed(storm_slots, 0);
    for (std::int64_t t : observed_at) {
      const std::int64_t slot = (t - r->t_start) / 1'000'000;
      if (slot >= 0 && slot < storm_slots) observed[static_cast<std::size_t>(slot)] = 1;
    }
    int active = 0, starved = 0, run = 0, longest = 0;
    for (int i = 0; i < storm_slots; ++i) {
      if (r->attempts[i] == 0) continue;  // the sender was not running in this slot
      ++active;
      if (observed[static_cast<std::size_t>(i)] == 0) {
        ++starved;
        longest = std::max(longest, ++run);
      } else {
        run = 0;
      }
    }
    sum.sent += static_cast<double>(r->sent);
    sum.seen += static_cast<double>(seen);
    sum.dropped += static_cast<double>(dropped);
    sum.eagain += static_cast<double>(r->eagain);
    sum.errors += static_cast<double>(r->other_errors);
    sum.starved += active > 0 ? static_cast<double>(starved) / active : 0;
    sum.gap = std::max(sum.gap, static_cast<double>(longest));
    sum.drain_ms += static_cast<double>(std::max<std::int64_t>(0, last_seen_at - r->t_end)) / 1e6;
    sum.oncpu_ms += static_cast<double>(sched1.first - sched0.first) / 1e6;
    sum.waitcpu_ms += static_cast<double>(sched1.second - sched0.second) / 1e6;
    sum.storm_ms += static_cast<double>(r->t_end - r->t_start) / 1e6;
    ++runs;
    state.SetIterationTime(static_cast<double>(r->t_end - r->t_start) * 1e-9);
  }
  if (runs == 0) return;
  state.counters["sent"] = sum.sent / runs;
  state.counters["seen"] = sum.seen / runs;
  state.counters["dropped"] = sum.dropped / runs;
  state.counters["eagain"] = sum.eagain / runs;
  state.counters["send_errors"] = sum.errors / runs;
  state.counters["seen_per_sent"] = sum.sent > 0 ? sum.seen / sum.sent : 0;
  state.counters["accounted_per_sent"] = sum.sent > 0 ? (sum.seen + sum.dropped) / sum.sent : 0;
  state.counters["starved_fraction"] = sum.starved / runs;
  state.counters["longest_starved_ms"] = sum.gap;
  state.counters["drain_after_storm_ms"] = sum.drain_ms / runs;
  state.counters["observer_oncpu_ms"] = sum.oncpu_ms / runs;
  state.counters["observer_waitcpu_ms"] = sum.waitcpu_ms / runs;
  state.counters["sender_on_other_cpu"] = sender_cpu >= 0 ? 1 : 0;
  state.counters["senders"] = senders;
  // Throughput: deliveries observed per ms of storm (the sender's time).
  state.counters["seen_per_ms"] = sum.storm_ms > 0 ? sum.seen / sum.storm_ms : 0;
  state.counters["sent_per_ms"] = sum.storm_ms > 0 ? sum.sent / sum.storm_ms : 0;
}

// ---------------------------------------------------------------------------
// 4. Fan-out: one delivery to n sigkit streams on one signal. Timed: the
// tgkill() call, during which the kernel runs the handler to completion
// (handler work for every subscriber). Untimed: consuming from every stream.
//   drained: every consumer has drained its wakeup (it is waiting), so the
//            handler makes one eventfd write per stream;
//   pending: every consumer still has its wakeup pending (it is busy), so
//            the handler makes no system call at all;
//   shared_drained: as drained, but the n streams share one wakeup_group
//            (one event loop serves them all), so the handler makes one
//            eventfd write per delivery, however many streams.
// subscribers:0 is the floor: an empty SA_SIGINFO handler (kernel cost of
// the delivery alone).

extern "C" void bench_empty_handler(int, siginfo_t*, void*) {}

enum class fanout_mode { drained, pending, shared_drained };

void fanout(benchmark::State& state, fanout_mode mode) {
  const int signo = round_trip_signal;
  const auto n = static_cast<std::size_t>(state.range(0));
  const bool drained = mode != fanout_mode::pending;
  reset_signal(signo);
  sigkit::wakeup_group group;
  sigkit::stream_options options;
  if (mode == fanout_mode::shared_drained) options.shared_wakeup = &group;
  std::vector<sigkit::stream> streams;
  streams.reserve(n);
  struct sigaction empty {
  }, previous{};
  if (n == 0) {
    empty.sa_sigaction = &bench_empty_handler;
    empty.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
    sigemptyset(&empty.sa_mask);
    ::sigaction(signo, &empty, &previous);
  }
  for (std::size_t i = 0; i < n; ++i) streams.emplace_back(sigkit::signal_set{sigkit::signal{signo}}, options);
  const pid_t self = this_tid();
  std::uint64_t missing = 0;
  for (auto _ : state) {
    const std::int64_t t0 = now_ns();
    send_to_thread(self, signo);
    const std::int64_t t1 = now_ns();
    state.SetIterationTime(static_cast<double>(t1 - t0) * 1e-9);
    for (auto& s : streams) {
      if (!s.try_recv()) ++missing;
      if (drained) (void)s.try_recv();  // nullopt, and drains the wakeup
    }
  }
  if (n == 0) ::sigaction(signo, &previous, nullptr);
  {
    const scoped_mask block(signo, true);
    streams.clear();
    reset_signal(signo);
  }
  if (missing != 0) set_error(state, std::to_string(missing) + " deliveries missing from streams");
  state.counters["subscribers"] = static_cast<double>(n);
}

// ---------------------------------------------------------------------------
// 5. Registration.

// Create + destroy one stream. first: no other subscriber (installs and
// restores the disposition); extra: another stream keeps the handler in.
void registration_stream(benchmark::State& state, bool extra) {
  const int signo = round_trip_signal;
  reset_signal(signo);
  std::optional<sigkit::stream> keep;
  if (extra) keep.emplace(sigkit::signal_set{sigkit::signal{signo}});
  for (auto _ : state) {
    sigkit::stream s{sigkit::signal_set{sigkit::signal{signo}}};
    benchmark::DoNotOptimize(s);
  }
  keep.reset();
  reset_signal(signo);
}

void registration_flag(benchmark::State& state, bool extra) {
  const int signo = round_trip_signal;
  reset_signal(signo);
  std::optional<sigkit::flag> keep;
  if (extra) keep.emplace(sigkit::signal_set{sigkit::signal{signo}});
  for (auto _ : state) {
    sigkit::flag f{sigkit::signal_set{sigkit::signal{signo}}};
    benchmark::DoNotOptimize(f);
  }
  keep.reset();
  reset_signal(signo);
}

// n streams alive at once on one signal, then destroyed (newest first, as
// a scope would). Manual time: creation + destruction.
void registration_many(benchmark::State& state) {
  const int signo = round_trip_signal;
  const auto n = static_cast<std::size_t>(state.range(0));
  reset_signal(signo);
  double create_ns = 0, destroy_ns = 0;
  for (auto _ : state) {
    std::vector<std::optional<sigkit::stream>> v(n);
    const std::int64_t t0 = now_ns();
    for (auto& s : v) s.emplace(sigkit::signal_set{sigkit::signal{signo}});
    const std::int64_t t1 = now_ns();
    for (auto it = v.rbegin(); it != v.rend(); ++it) it->reset();
    const std::int64_t t2 = now_ns();
    create_ns += static_cast<double>(t1 - t0);
    destroy_ns += static_cast<double>(t2 - t1);
    state.SetIterationTime(static_cast<double>(t2 - t0) * 1e-9);
  }
  reset_signal(signo);
  const auto iters = static_cast<double>(state.iterations());
  state.counters["create_total_us"] = create_ns / iters / 1e3;
  state.counters["destroy_total_us"] = destroy_ns / iters / 1e3;
  state.counters["create_per_stream_ns"] = create_ns / iters / static_cast<double>(n);
  state.counters["destroy_per_stream_ns"] = destroy_ns / iters / static_cast<double>(n);
}

void registration_other(benchmark::State& state, const contender_kind& kind) {
  const int signo = round_trip_signal;
  reset_signal(signo);
  const std::function<void()> once = kind.registration(signo);
  for (auto _ : state) once();
  reset_signal(signo);
}

// ---------------------------------------------------------------------------
// 6. Distinct signals: the process subscribes to k distinct signals, one
// sigkit stream each (SIGUSR1, then SIGRTMIN, SIGRTMIN+1, ...), and SIGUSR1
// is delivered. Flat is the goal: the handler finds a signal's subscribers
// by its number, so the other k-1 signals should cost nothing.
//   round_trip: tgkill to this thread, then recv() from SIGUSR1's stream
//               (CPU time, as in 1.);
//   handler:    the tgkill() alone (manual time: the kernel runs the handler
//               to completion inside it), the stream drained untimed.

constexpr int max_distinct_signals = 32;  // SIGUSR1 and 31 real-time signals

enum class distinct_mode { round_trip, handler };

void distinct(benchmark::State& state, distinct_mode mode) {
  const auto signals = distinct_signals(static_cast<std::size_t>(state.range(0)));
  if (signals.size() != static_cast<std::size_t>(state.range(0))) {
    set_error(state, "not enough real-time signals on this system");
    return;
  }
  for (int s : signals) reset_signal(s);
  std::vector<sigkit::stream> streams;
  streams.reserve(signals.size());
  for (int s : signals) streams.emplace_back(sigkit::signal_set{sigkit::signal{s}});
  sigkit::stream& measured = streams.front();
  const pid_t self = this_tid();
  std::uint64_t missing = 0;
  for (auto _ : state) {
    if (mode == distinct_mode::round_trip) {
      send_to_thread(self, round_trip_signal);
      (void)measured.recv();
    } else {
      const std::int64_t t0 = now_ns();
      send_to_thread(self, round_trip_signal);
      const std::int64_t t1 = now_ns();
      state.SetIterationTime(static_cast<double>(t1 - t0) * 1e-9);
      if (!measured.try_recv()) ++missing;
      (void)measured.try_recv();  // nullopt, and drains the wakeup
    }
  }
  {
    // As teardown(): no delivery still pending may reach SIG_DFL.
    sigkit::signal_set all;
    for (int s : signals) all.insert(sigkit::signal{s});
    const sigkit::scoped_block block{all};
    streams.clear();
    for (int s : signals) reset_signal(s);
  }
  if (missing != 0) set_error(state, std::to_string(missing) + " deliveries missing");
  state.counters["signals"] = static_cast<double>(signals.size());
}

// ---------------------------------------------------------------------------

std::string first_line_of(const char* path, const char* key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) {
      const auto colon = line.find(':');
      return colon == std::string::npos ? line : line.substr(line.find_first_not_of(" \t", colon + 1));
    }
  return "?";
}

void add_context() {
  utsname u{};
  ::uname(&u);
  benchmark::AddCustomContext("kernel", u.release);
  benchmark::AddCustomContext("cpu_model", first_line_of("/proc/cpuinfo", "model name"));
  benchmark::AddCustomContext("allowed_cpus", std::to_string(allowed_cpus().size()));
  benchmark::AddCustomContext("loadavg_at_start", [] {
    std::ifstream in("/proc/loadavg");
    std::string s;
    std::getline(in, s);
    return s;
  }());
#if defined(__clang__)
  benchmark::AddCustomContext("compiler", "clang " __clang_version__);
#elif defined(__GNUC__)
  benchmark::AddCustomContext("compiler", "g++ " __VERSION__);
#endif
  std::string names;
  for (const auto& k : contenders()) names += (names.empty() ? "" : ",") + k.name;
  benchmark::AddCustomContext("contenders", names);
  benchmark::AddCustomContext("storm_sigpending_cap", std::to_string(storm_sigpending_cap));
}

void register_all() {
  for (const auto& k : contenders()) {
    benchmark::RegisterBenchmark(("round_trip_same_thread/" + k.name).c_str(), round_trip_same_thread, k);
  }
  for (int cpus : {1, 2}) {
    for (const auto& k : contenders()) {
      if (!k.can_sleep) continue;  // a spinning observer on one CPU measures the scheduler tick
      std::vector<handled_on> places{handled_on::observer};
      if (k.how == delivery::handler) places.push_back(handled_on::sender);
      for (handled_on where : places) {
        const std::string name = "round_trip_two_threads/" + k.name + "/cpus:" + std::to_string(cpus) +
                                 (k.how == delivery::blocked      ? "/dequeued_by:observer"
                                  : where == handled_on::observer ? "/handler_on:observer"
                                                                  : "/handler_on:sender");
        // Nine repetitions: a repetition's median lands in one of two
        // states on this VM (4.4 or 5.8 us on one CPU, for a contender and
        // its floor alike), and a median of three was a coin toss between
        // them (bench/RESULTS.md, "Issue 17, third run").
        benchmark::RegisterBenchmark(name.c_str(), round_trip_two_threads, k, cpus, where)
            ->UseManualTime()
            ->Iterations(3000)
            ->Repetitions(9)
            ->Unit(benchmark::kMicrosecond);
      }
    }
  }
  for (storm_handler where : {storm_handler::observer, storm_handler::helper}) {
    for (const auto& k : contenders()) {
      if (where == storm_handler::helper && k.how == delivery::blocked) continue;  // no handler at all
      std::vector<std::size_t> capacities{0};
      if (k.counts_drops) capacities = {std::size_t{1} << 20, 64};
      for (std::size_t cap : capacities) {
        const std::string name = "storm/" + k.name + (cap ? "/capacity:" + std::to_string(cap) : "") +
                                 (k.how == delivery::blocked         ? "/dequeued_by:observer"
                                  : where == storm_handler::observer ? "/handler_on:observer"
                                                                     : "/handler_on:helper");
        benchmark::RegisterBenchmark(name.c_str(), storm, k, cap, where, 1)
            ->UseManualTime()
            ->Iterations(1)
            ->Repetitions(3)
            ->Unit(benchmark::kMillisecond);
      }
    }
  }
  for (const auto& [mode, name] :
       {std::pair{fanout_mode::drained, "fanout/drained"}, std::pair{fanout_mode::pending, "fanout/pending"},
        std::pair{fanout_mode::shared_drained, "fanout/shared_drained"}}) {
    benchmark::RegisterBenchmark(name, fanout, mode)
        ->ArgName("subscribers")
        ->Arg(0)
        ->Arg(1)
        ->Arg(8)
        ->Arg(64)
        ->Arg(256)
        ->Arg(1024)
        ->UseManualTime();
  }
  for (const auto& [mode, name] : {std::pair{distinct_mode::round_trip, "distinct_signals/round_trip"},
                                   std::pair{distinct_mode::handler, "distinct_signals/handler"}}) {
    auto* b = benchmark::RegisterBenchmark(name, distinct, mode)->ArgName("signals");
    for (int k : {1, 2, 4, 8, 16, max_distinct_signals}) b->Arg(k);
    if (mode == distinct_mode::handler) b->UseManualTime();
  }
  // 7. Storm throughput against the number of sender threads (one sender
  // process, its threads on the other CPU), for sigkit's two queues, the
  // kernel floor and the hand-written handler (is a drop with more senders
  // sigkit's, or every handler's?): what the observer takes per ms.
  for (const auto& k : contenders()) {
    if (k.name != "sigkit_stream" && k.name != "sigkit_stream_kernel" && k.name != "kernel_signalfd_read" &&
        k.name != "hand_written_eventfd_epoll")
      continue;
    const std::size_t cap = k.counts_drops ? std::size_t{1} << 20 : 0;
    for (int senders : {1, 2, 4, max_storm_senders}) {
      const std::string name = "storm_senders/" + k.name + "/senders:" + std::to_string(senders);
      benchmark::RegisterBenchmark(name.c_str(), storm, k, cap, storm_handler::observer, senders)
          ->UseManualTime()
          ->Iterations(1)
          ->Repetitions(3)
          ->Unit(benchmark::kMillisecond);
    }
  }
  benchmark::RegisterBenchmark("registration/stream/first", registration_stream, false);
  benchmark::RegisterBenchmark("registration/stream/extra", registration_stream, true);
  benchmark::RegisterBenchmark("registration/flag/first", registration_flag, false);
  benchmark::RegisterBenchmark("registration/flag/extra", registration_flag, true);
  benchmark::RegisterBenchmark("registration/streams_alive", registration_many)
      ->ArgName("n")
      ->Arg(1000)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
  for (const auto& k : contenders())
    if (k.registration) benchmark::RegisterBenchmark(("registration/" + k.name).c_str(), registration_other, k);
}

/// The console reporter, remembering whether any benchmark reported an
/// error (Google Benchmark itself exits 0 regardless), so that the
/// bench-smoke test fails when a contender stops working.
class error_tracking_reporter : public benchmark::ConsoleReporter {
 public:
  // Colour only on a terminal, as Google Benchmark's own default does.
  error_tracking_reporter() : ConsoleReporter(::isatty(STDOUT_FILENO) != 0 ? OO_Color : OO_None) {}
  bool failed = false;
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) failed = failed || r.error_occurred;
    ConsoleReporter::ReportRuns(runs);
  }
};

}  // namespace
}  // namespace bench

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  // 1000 streams need 1000 eventfds.
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &files);
  }
  rlimit pending{};
  if (::getrlimit(RLIMIT_SIGPENDING, &pending) == 0 && pending.rlim_cur > bench::storm_sigpending_cap) {
    pending.rlim_cur = bench::storm_sigpending_cap;
    ::setrlimit(RLIMIT_SIGPENDING, &pending);
  }
  bench::add_context();
  bench::register_all();
  bench::error_tracking_reporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return reporter.failed ? 1 : 0;
}
