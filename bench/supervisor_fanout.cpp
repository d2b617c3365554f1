// supervisor_fanout - the supervisor's fan-out cost: the time from one
// SIGINT sent to a supervising process until every one of its N children
// (each in its own process group) has received it, and until all N are
// reaped; and the descriptors and memory the supervisor holds per child.
// A separate program, not a Google Benchmark: each round is a process tree.
//
//   supervisor_fanout [--n 1,10,100,1000] [--rounds R] [--json FILE] [--only NAME[,NAME...]]
//
// Contenders, each run in a forked process S that spawns N fanout_probe
// children, each in a process group of its own:
//   floor           the hand-written floor: sigwaitinfo(SIGINT), a loop of
//                   kill(-pgid, SIGINT), then N waitid(P_ALL, WEXITED)
//   sigkit          sigkit::supervisor (shutdown on SIGINT), the main thread
//                   in supervisor::next() until no child is left
//   sigkit-blocked  the same with SIGINT blocked in the main thread, so the
//                   kernel hands it to the supervisor's own thread
// A round: S spawns its probes and reports their pids and its descriptor
// and VmRSS growth; once every probe and every thread of S sleeps, this
// program notes the time and sends SIGINT to S. Each probe writes the time
// it got SIGINT to a pipe; S writes the time it reaped the last one.
// Contenders take turns within each round (the order alternates), so that
// load from elsewhere falls on every contender alike.
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <sigkit/mask.hpp>
#include <sigkit/supervisor.hpp>

#include "bench_support.hpp"

extern char** environ;  // NOLINT(readability-redundant-declaration): POSIX

namespace {

#if defined(SIGKIT_BENCH_FANOUT_PROBE)
const char* const probe_path = SIGKIT_BENCH_FANOUT_PROBE;
#else
const char* const probe_path = "fanout_probe";
#endif

/// What S reports before the signal: its growth for N children.
struct growth {
  double fds = 0;  // descriptors
  double kib = 0;  // VmRSS
};

int open_fds() {
  int n = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (dirent* e = ::readdir(d))
      if (e->d_name[0] != '.') ++n;
    ::closedir(d);
  }
  return n - 1;
}

double vm_rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::strtod(line.c_str() + 6, nullptr);
  return 0;
}

struct snapshot {
  int fds = open_fds();
  double kib = vm_rss_kib();
  growth since(const snapshot& before) const { return {double(fds - before.fds), kib - before.kib}; }
};

bool write_all(int fd, const void* data, std::size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

/// Reads exactly `size` bytes within `timeout_ms` in all.
bool read_all(int fd, void* data, std::size_t size, int timeout_ms) {
  char* p = static_cast<char*>(data);
  const std::int64_t deadline = bench::now_ns() + std::int64_t(timeout_ms) * 1000000;
  while (size > 0) {
    const std::int64_t left = (deadline - bench::now_ns()) / 1000000;
    if (left <= 0) return false;
    pollfd pfd{fd, POLLIN, 0};
    const int r = ::poll(&pfd, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    const ssize_t n = ::read(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

/// The descriptors S reports on and the probes write to.
struct channels {
  int ready = -1;  // probes and S: one byte each once ready
  int times = -1;  // probes: 8 bytes each, when they got SIGINT
  int done = -1;   // S: its growth and its probes' pids; later the time it reaped the last
};

/// S's report before the signal, then its probes' pids.
void report_ready(const channels& out, const growth& g, const std::vector<pid_t>& pids) {
  write_all(out.done, &g, sizeof g);
  write_all(out.done, pids.data(), pids.size() * sizeof(pid_t));
  const char byte = 's';
  write_all(out.ready, &byte, 1);
}

void report_reaped(const channels& out) {
  const std::int64_t t = bench::now_ns();
  write_all(out.done, &t, sizeof t);
}

std::vector<std::string> probe_argv(const channels& out) {
  return {probe_path, std::to_string(out.ready), std::to_string(out.times)};
}

[[noreturn]] void run_floor(int n, const channels& out) {
  sigset_t interrupt;
  sigemptyset(&interrupt);
  sigaddset(&interrupt, SIGINT);
  ::sigprocmask(SIG_BLOCK, &interrupt, nullptr);
  std::vector<pid_t> pgids;
  pgids.reserve(static_cast<std::size_t>(n));
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
  // Warm-up: one spawn and reap first, so the snapshot below sees the cost
  // per child, not the pages the first spawn touches once.
  {
    char true_path[] = "/bin/true";
    char* no_args[] = {true_path, nullptr};
    pid_t pid = -1;
    if (::posix_spawn(&pid, true_path, nullptr, &attr, no_args, environ) == 0) ::waitpid(pid, nullptr, 0);
  }
  const snapshot before;
  const auto args = probe_argv(out);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));  // NOLINT: posix_spawn's signature
  argv.push_back(nullptr);
  for (int i = 0; i < n; ++i) {
    pid_t pid = -1;
    if (::posix_spawn(&pid, probe_path, nullptr, &attr, argv.data(), environ) != 0) ::_exit(3);
    pgids.push_back(pid);
  }
  report_ready(out, snapshot{}.since(before), pgids);
  siginfo_t info;
  while (::sigwaitinfo(&interrupt, &info) < 0) {
  }
  for (const pid_t g : pgids) ::kill(-g, SIGINT);
  for (int i = 0; i < n; ++i) {
    while (::waitid(P_ALL, 0, &info, WEXITED) < 0 && errno == EINTR) {
    }
  }
  report_reaped(out);
  ::_exit(0);
}

[[noreturn]] void run_sigkit(int n, const channels& out, bool block_in_main) {
  {
    sigkit::supervisor sup({.shutdown_grace = std::chrono::seconds(60)});
    std::optional<sigkit::scoped_block> quiet;
    if (block_in_main) quiet.emplace(sigkit::signal_set{sigkit::interrupt});  // after the thread started
    sup.spawn({"/bin/true"});                                                 // warm-up, as in run_floor
    (void)sup.next();
    const snapshot before;
    const auto argv = probe_argv(out);
    std::vector<pid_t> pids;
    for (int i = 0; i < n; ++i) pids.push_back(sup.pid(sup.spawn(argv)));
    report_ready(out, snapshot{}.since(before), pids);
    while (sup.next()) {
    }
    report_reaped(out);
  }
  ::_exit(0);
}

bool asleep(pid_t pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/task", static_cast<int>(pid));
  DIR* d = ::opendir(path);
  if (d == nullptr) return false;
  bool all = true;
  int tasks = 0;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    ++tasks;
    if (bench::thread_state(static_cast<pid_t>(std::atoi(e->d_name))) != 'S') all = false;
  }
  ::closedir(d);
  return all && tasks > 0;
}

bool wait_all_asleep(pid_t s, const std::vector<pid_t>& probes) {
  for (int i = 0; i < 20000; ++i) {
    if (asleep(s) && std::all_of(probes.begin(), probes.end(), asleep)) return true;
    const timespec pause{0, 100'000};
    ::nanosleep(&pause, nullptr);
  }
  return false;
}

struct sample {
  double received_ns = 0;  // SIGINT sent -> the last probe got it
  double reaped_ns = 0;    // SIGINT sent -> S reaped the last probe
  growth per_child;
};

/// One round of one contender with n children.
std::optional<sample> one_round(const std::string& contender, int n, std::string& error) {
  int ready[2], times[2], done[2];
  if (::pipe2(ready, 0) != 0 || ::pipe2(times, 0) != 0 || ::pipe2(done, O_CLOEXEC) != 0) {
    error = "pipe2";
    return std::nullopt;
  }
  ::fcntl(ready[0], F_SETFD, FD_CLOEXEC);
  ::fcntl(times[0], F_SETFD, FD_CLOEXEC);
  const channels out{ready[1], times[1], done[1]};
  const pid_t s = ::fork();
  if (s == 0) {
    ::close(ready[0]);
    ::close(times[0]);
    ::close(done[0]);
    if (contender == "floor") run_floor(n, out);
    run_sigkit(n, out, contender == "sigkit-blocked");
  }
  ::close(ready[1]);
  ::close(times[1]);
  ::close(done[1]);
  std::optional<sample> result;
  auto finish = [&](const std::string& why) {
    error = why;
    ::kill(s, SIGKILL);
  };
  std::vector<char> bytes(static_cast<std::size_t>(n) + 1);
  growth g;
  std::vector<pid_t> probes(static_cast<std::size_t>(n));
  if (!read_all(ready[0], bytes.data(), bytes.size(), 120000)) {
    finish("not ready within 120 s");
  } else if (!read_all(done[0], &g, sizeof g, 5000) ||
             !read_all(done[0], probes.data(), probes.size() * sizeof(pid_t), 5000)) {
    finish("no report from the supervising process");
  } else if (!wait_all_asleep(s, probes)) {
    finish("the supervising process or a probe never went to sleep");
  } else {
    const std::int64_t t0 = bench::now_ns();
    ::kill(s, SIGINT);
    std::vector<std::int64_t> got(static_cast<std::size_t>(n));
    std::int64_t reaped = 0;
    if (!read_all(times[0], got.data(), got.size() * sizeof(std::int64_t), 30000)) {
      finish("not every probe got SIGINT within 30 s");
    } else if (!read_all(done[0], &reaped, sizeof reaped, 30000)) {
      finish("the probes were not all reaped within 30 s");
    } else {
      sample x;
      x.received_ns = double(*std::max_element(got.begin(), got.end()) - t0);
      x.reaped_ns = double(reaped - t0);
      x.per_child = {g.fds / n, g.kib / n};
      result = x;
    }
  }
  int status = 0;
  ::waitpid(s, &status, 0);
  if (result && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
    error = "the supervising process did not exit 0";
    result.reset();
  }
  if (!result)  // whatever probes are left: they are S's children, killed by group
    for (pid_t p : probes)
      if (p > 0) ::kill(-p, SIGKILL);
  ::close(ready[0]);
  ::close(times[0]);
  ::close(done[0]);
  return result;
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

struct series {
  std::vector<double> received, reaped, fds, kib;
  int failures = 0;
  std::string error;
};

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes{1, 10, 100, 1000};
  int rounds = 10;
  std::string json_path;
  std::vector<std::string> contenders{"floor", "sigkit", "sigkit-blocked"};
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string opt = argv[i], val = argv[i + 1];
    if (opt == "--n") {
      sizes.clear();
      for (const auto& s : split(val)) sizes.push_back(std::atoi(s.c_str()));
    } else if (opt == "--rounds") {
      rounds = std::atoi(val.c_str());
    } else if (opt == "--json") {
      json_path = val;
    } else if (opt == "--only") {
      contenders = split(val);
    } else {
      std::fprintf(stderr, "usage: supervisor_fanout [--n 1,10,100,1000] [--rounds R] [--json FILE] [--only NAMES]\n");
      return 2;
    }
  }
  // N pidfds and more: lift the soft descriptor limit (inherited by S).
  rlimit nofile{};
  if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0) {
    nofile.rlim_cur = nofile.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &nofile);
  }
  std::map<std::pair<int, std::string>, series> all;
  for (const int n : sizes) {
    for (int r = 0; r < rounds; ++r) {
      std::vector<std::string> order = contenders;
      if (r % 2 == 1) std::reverse(order.begin(), order.end());
      for (const auto& c : order) {
        series& s = all[{n, c}];
        std::string error;
        const auto x = one_round(c, n, error);
        if (!x) {
          ++s.failures;
          s.error = error;
          continue;
        }
        s.received.push_back(x->received_ns);
        s.reaped.push_back(x->reaped_ns);
        s.fds.push_back(x->per_child.fds);
        s.kib.push_back(x->per_child.kib);
      }
    }
  }
  std::printf("%6s  %-15s %12s %12s %12s %12s %9s %9s %8s %9s\n", "N", "contender", "received_us", "recv_p90_us",
              "reaped_us", "reap_p90_us", "recv/N_us", "reap/N_us", "fds/chld", "KiB/chld");
  std::string json = "[\n";
  for (const int n : sizes) {
    const series& floor = all[{n, "floor"}];
    const double floor_recv = bench::summarize(floor.received).median;
    const double floor_reap = bench::summarize(floor.reaped).median;
    for (const auto& c : contenders) {
      const series& s = all[{n, c}];
      const auto recv = bench::summarize(s.received);
      const auto reap = bench::summarize(s.reaped);
      const double fds = bench::summarize(s.fds).median, kib = bench::summarize(s.kib).median;
      std::printf("%6d  %-15s %12.1f %12.1f %12.1f %12.1f %9.2f %9.2f %8.2f %9.2f", n, c.c_str(), recv.median / 1e3,
                  recv.p90 / 1e3, reap.median / 1e3, reap.p90 / 1e3, recv.median / 1e3 / n, reap.median / 1e3 / n, fds,
                  kib);
      if (c != "floor" && floor_recv > 0 && floor_reap > 0)
        std::printf("   x%.2f recv, x%.2f reap", recv.median / floor_recv, reap.median / floor_reap);
      if (s.failures > 0) std::printf("   (%d failed: %s)", s.failures, s.error.c_str());
      std::printf("\n");
      char line[512];
      std::snprintf(line, sizeof line,
                    "  {\"n\": %d, \"contender\": \"%s\", \"rounds\": %zu, \"failures\": %d, \"received_median_ns\": "
                    "%.0f, \"received_p90_ns\": %.0f, \"reaped_median_ns\": %.0f, \"reaped_p90_ns\": %.0f, "
                    "\"fds_per_child\": %.3f, \"kib_per_child\": %.3f},\n",
                    n, c.c_str(), recv.n, s.failures, recv.median, recv.p90, reap.median, reap.p90, fds, kib);
      json += line;
    }
  }
  if (json.size() > 2) json.erase(json.size() - 2, 1);  // the last comma
  json += "]\n";
  if (!json_path.empty()) std::ofstream(json_path) << json;
  return 0;
}
