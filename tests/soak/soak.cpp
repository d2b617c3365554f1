// sigkit soak (issue 7, item 6): streams and flags under continuous signals
// for a given time, with streams and flags created and destroyed all along.
//   soak [seconds]        (default 600)
// Prints signals/s, VmRSS and open fds every 10 s. Fails (exit 1) if:
//   * a real-time signal accepted by sigqueue was not counted by its flag,
//     or a long-lived stream's popped + dropped differs from what its flag
//     counted (anything lost or duplicated);
//   * open fds at the end differ from the baseline (taken after warm-up);
//   * VmRSS grew by more than 8 MiB over the baseline;
//   * a consumer or sender stalled (no progress for 10 s: a deadlock).
#include <sigkit/flag.hpp>
#include <sigkit/stream.hpp>

#include <dirent.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <thread>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

long rss_kib() {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return -1;
  char line[256];
  long v = -1;
  while (std::fgets(line, sizeof line, f) != nullptr)
    if (std::strncmp(line, "VmRSS:", 6) == 0) v = std::atol(line + 6);
  std::fclose(f);
  return v;
}

int fd_count() {
  DIR* d = ::opendir("/proc/self/fd");
  if (d == nullptr) return -1;
  int n = 0;
  while (dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') ++n;
  ::closedir(d);
  return n - 1;
}

constexpr int rt_count = 3;
int rt_signo(int i) { return SIGRTMIN + 10 + i; }
constexpr int std_signos[] = {SIGUSR1, SIGUSR2, SIGHUP};

struct tracked {
  sigkit::stream s;
  std::atomic<std::uint64_t> popped{0};
  explicit tracked(sigkit::signal sig, std::size_t cap) : s({sig}, {.capacity = cap}) {}
};

}  // namespace

int main(int argc, char** argv) {
  const int seconds = argc > 1 ? std::atoi(argv[1]) : 600;
  const pid_t self = ::getpid();
  std::vector<std::unique_ptr<tracked>> streams;  // 16: one per signal, several per signal
  std::vector<int> stream_signal;
  for (int i = 0; i < 16; ++i) {
    const int signo = i < 10 ? rt_signo(i % rt_count) : std_signos[i % 3];
    streams.push_back(std::make_unique<tracked>(sigkit::signal{signo}, i % 2 ? 32 : 512));
    stream_signal.push_back(signo);
  }
  std::vector<sigkit::flag> flags;  // one per signal, after the streams
  std::vector<int> flag_signal;
  for (int i = 0; i < rt_count; ++i) {
    flags.emplace_back(sigkit::signal_set{sigkit::signal{rt_signo(i)}});
    flag_signal.push_back(rt_signo(i));
  }
  for (int s : std_signos) {
    flags.emplace_back(sigkit::signal_set{sigkit::signal{s}});
    flag_signal.push_back(s);
  }
  auto flag_of = [&](int signo) -> const sigkit::flag& {
    for (std::size_t i = 0; i < flags.size(); ++i)
      if (flag_signal[i] == signo) return flags[i];
    std::abort();
  };

  const int fds_start = fd_count();  // long-lived streams made, no thread yet
  std::atomic<bool> stop{false};
  const int stop_fd = ::eventfd(0, EFD_CLOEXEC);
  std::thread consumer([&] {
    std::vector<pollfd> fds;
    for (auto& t : streams) fds.push_back({t->s.fd(), POLLIN, 0});
    fds.push_back({stop_fd, POLLIN, 0});
    for (;;) {
      const int r = ::poll(fds.data(), fds.size(), -1);
      if (r < 0 && errno != EINTR) std::abort();
      for (auto& t : streams)
        while (t->s.try_recv()) t->popped.fetch_add(1, std::memory_order_relaxed);
      if (fds.back().revents != 0) return;
    }
  });

  std::array<std::atomic<std::uint64_t>, rt_count> rt_sent{};
  std::atomic<std::uint64_t> std_sent{0}, rt_total_sent{0}, churns{0};
  std::vector<std::thread> senders;
  for (int t = 0; t < 4; ++t) {
    senders.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t + 1));
      while (!stop.load(std::memory_order_relaxed)) {
        // Back-pressure: at most 1024 real-time signals in flight, so the
        // user's RLIMIT_SIGPENDING is never exhausted.
        std::uint64_t delivered = 0;
        for (int i = 0; i < rt_count; ++i) delivered += flag_of(rt_signo(i)).count();
        if (rt_total_sent.load() - delivered > 1024) {
          std::this_thread::sleep_for(std::chrono::microseconds(50));
          continue;
        }
        if (rng() % 4 != 0) {
          const int i = static_cast<int>(rng() % rt_count);
          union sigval v {};
          if (::sigqueue(self, rt_signo(i), v) == 0) {
            rt_sent[static_cast<std::size_t>(i)].fetch_add(1);
            rt_total_sent.fetch_add(1);
          }
        } else if (::kill(self, std_signos[rng() % 3]) == 0) {
          std_sent.fetch_add(1);
        }
      }
    });
  }
  std::vector<std::thread> churners;
  for (int t = 0; t < 2; ++t) {
    churners.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t + 10));
      while (!stop.load(std::memory_order_relaxed)) {
        sigkit::stream s({sigkit::signal{rt_signo(static_cast<int>(rng() % rt_count))}, sigkit::signal{SIGURG}},
                         {.capacity = 8});
        sigkit::flag f({sigkit::signal{std_signos[rng() % 3]}});
        while (s.try_recv()) {
        }
        churns.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }

  // The main thread only measures: keep the storm's handlers off it (the
  // other threads were made before this, with an empty mask).
  sigset_t storm;
  sigemptyset(&storm);
  for (int i = 0; i < rt_count; ++i) sigaddset(&storm, rt_signo(i));
  for (int s : std_signos) sigaddset(&storm, s);
  ::pthread_sigmask(SIG_BLOCK, &storm, nullptr);
  const auto start = clock_type::now();
  auto handled = [&] {
    std::uint64_t n = 0;
    for (const auto& f : flags) n += f.count();
    return n;
  };
  long rss0 = 0;
  int fds0 = 0;
  std::uint64_t last_handled = 0, last_popped = 0;
  int stalled = 0;
  bool ok = true;
  for (int tick = 1; tick * 5 <= seconds; ++tick) {
    std::this_thread::sleep_until(start + std::chrono::seconds(5 * tick));
    const std::uint64_t h = handled();
    std::uint64_t popped = 0;
    for (auto& t : streams) popped += t->popped.load();
    if (tick == 1) rss0 = rss_kib();  // baseline after warm-up
    if (h == last_handled || popped == last_popped) {
      if (++stalled >= 2) {
        std::printf("soak: FAIL: no progress for 10 s (handled %llu, popped %llu)\n",
                    static_cast<unsigned long long>(h), static_cast<unsigned long long>(popped));
        std::fflush(stdout);
        std::_Exit(1);  // threads may be stuck: do not join them
      }
    } else {
      stalled = 0;
    }
    if (tick % 2 == 0 || tick * 5 + 5 > seconds)
      std::printf("soak: t=%3d s  %9.0f signals/s  VmRSS %ld KiB  fds %d  churn cycles %llu\n", tick * 5,
                  static_cast<double>(h - last_handled) / 5.0, rss_kib(), fd_count(),
                  static_cast<unsigned long long>(churns.load()));
    std::fflush(stdout);
    last_handled = h;
    last_popped = popped;
  }
  stop.store(true);
  const auto t_stop = clock_type::now();
  for (auto& t : senders) t.join();
  for (auto& t : churners) t.join();
  const auto t_joined = clock_type::now();
  const double elapsed = std::chrono::duration<double>(clock_type::now() - start).count();

  // Quiescence: every accepted real-time signal reaches its flag; one more
  // standard signal each proves the consumer still wakes.
  const auto deadline = clock_type::now() + std::chrono::seconds(20);
  for (int i = 0; i < rt_count; ++i)
    while (flag_of(rt_signo(i)).count() < rt_sent[static_cast<std::size_t>(i)].load() && clock_type::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  for (int s : std_signos) {
    const auto c0 = flag_of(s).count();
    ::kill(self, s);
    std_sent.fetch_add(1);
    while (flag_of(s).count() <= c0 && clock_type::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::uint64_t lost = 0, dropped = 0, mismatched = 0;
  for (int i = 0; i < rt_count; ++i) {
    const auto sent = rt_sent[static_cast<std::size_t>(i)].load(), got = flag_of(rt_signo(i)).count();
    if (got != sent) {
      std::printf("soak: FAIL: %s: sent %llu, flag counted %llu\n", sigkit::signal{rt_signo(i)}.name().data(),
                  static_cast<unsigned long long>(sent), static_cast<unsigned long long>(got));
      lost += sent > got ? sent - got : 0;
      ok = false;
    }
  }
  for (std::size_t i = 0; i < streams.size(); ++i) {
    auto& t = *streams[i];
    const auto want = flag_of(stream_signal[i]).count();
    while (t.popped.load() + t.s.dropped() < want && clock_type::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (t.popped.load() + t.s.dropped() != want) {
      ++mismatched;
      ok = false;
    }
    dropped += t.s.dropped();
  }
  const std::uint64_t one = 1;
  (void)!::write(stop_fd, &one, sizeof one);
  consumer.join();
  ::close(stop_fd);
  const long rss1 = rss_kib();
  const int fds1 = fd_count();
  fds0 = fds_start;
  std::printf("soak: joined the threads in %.2f s, quiesced in %.2f s\n",
              std::chrono::duration<double>(t_joined - t_stop).count(),
              std::chrono::duration<double>(clock_type::now() - t_joined).count());
  std::uint64_t rt_total = 0;
  for (auto& v : rt_sent) rt_total += v.load();
  const std::uint64_t h = handled();
  std::printf(
      "soak: %.0f s: sent %llu real-time + %llu standard; handled %llu (%.0f signals/s); lost %llu; streams with a "
      "count mismatch %llu; dropped by full rings %llu; churn cycles %llu; VmRSS %ld -> %ld KiB; fds %d -> %d\n",
      elapsed, static_cast<unsigned long long>(rt_total), static_cast<unsigned long long>(std_sent.load()),
      static_cast<unsigned long long>(h), static_cast<double>(h) / elapsed, static_cast<unsigned long long>(lost),
      static_cast<unsigned long long>(mismatched), static_cast<unsigned long long>(dropped),
      static_cast<unsigned long long>(churns.load()), rss0, rss1, fds0, fds1);
  if (fds1 != fds0) {
    std::printf("soak: FAIL: descriptors %d -> %d\n", fds0, fds1);
    ok = false;
  }
  if (rss1 - rss0 > 8 * 1024) {
    std::printf("soak: FAIL: VmRSS grew by %ld KiB\n", rss1 - rss0);
    ok = false;
  }
  std::printf("soak: %s\n", ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}
