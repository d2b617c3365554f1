// forward_latency - measurement 7: the time from kill(forwarder, SIGTERM)
// until the forwarder's child observes SIGTERM, for sigkit-run, tini,
// dumb-init and the floor forwarder (floor_forwarder.cpp). A separate
// program, not a Google Benchmark: each forwarder is one long-lived process
// tree that receives many SIGTERMs (the child, term_probe, survives them).
//
//   forward_latency [--iterations N] [--json FILE] [--only NAME[,NAME...]] [--decompose]
//
// --decompose adds three contenders between the floor and sigkit-run
// (shaped_forwarder.cpp): the floor with sigkit-run's shape (a second
// thread, pidfd_send_signal, a waitid stop check after each send), the
// floor's loop through a signalfd (poll + read + kill), and both.
//
// Pinning (this program always on the first allowed CPU, A; B is the second):
//   same:  forwarder and child both on B
//   split: forwarder on B, child on A
// Before every send, every thread of the forwarder and the child must be
// asleep ('S' in /proc), so each SIGTERM finds both waiting. All forwarders
// of a pin mode run at once and take turns, so that load from elsewhere
// falls on every contender alike.
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "bench_support.hpp"

namespace {

struct forwarder_spec {
  std::string name;
  std::vector<std::string> argv;  // the forwarder and its options, before the child's argv
};

std::string find_in_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const std::string candidate = dir + "/" + program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return {};
}

bool all_asleep(pid_t pid) {
  std::error_code ec;
  const auto threads = sigkit::inspect_threads(pid, ec);
  for (const auto& t : threads)
    if (bench::thread_state(t.tid) != 'S') return false;
  return !threads.empty();
}

bool wait_asleep(pid_t a, pid_t b) {
  for (int i = 0; i < 100000; ++i) {
    if (all_asleep(a) && all_asleep(b)) return true;
    const timespec pause{0, 20'000};
    ::nanosleep(&pause, nullptr);
  }
  return false;
}

// Reads exactly 8 bytes within `timeout_ms`.
std::optional<std::int64_t> read_i64(int fd, int timeout_ms) {
  std::int64_t v = 0;
  std::size_t got = 0;
  while (got < sizeof v) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return std::nullopt;
    const ssize_t r = ::read(fd, reinterpret_cast<char*>(&v) + got, sizeof v - got);
    if (r <= 0) return std::nullopt;
    got += static_cast<std::size_t>(r);
  }
  return v;
}

std::string cpus_allowed(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("Cpus_allowed_list:", 0) == 0) return line.substr(line.find_first_not_of(" \t", 18));
  return "?";
}

struct result {
  std::string forwarder, pin;
  int forwarder_cpu = -1, child_cpu = -1;
  std::string forwarder_allowed, child_allowed;
  bench::summary lat;
  int failures = 0;
  std::string error;
};

/// One forwarder with its probe child, alive for a whole pin mode.
struct tree {
  result res;
  pid_t fwd = -1, probe = -1;
  int out = -1;  // the probe's stdout
  std::vector<double> ns;
};

bool start(tree& t, const forwarder_spec& spec, const std::string& probe) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) {
    t.res.error = "pipe2";
    return false;
  }
  std::vector<std::string> args = spec.argv;
  args.insert(args.end(), {probe, "--cpu", std::to_string(t.res.child_cpu)});
  const int cpu = t.res.forwarder_cpu;
  t.fwd = ::fork();
  if (t.fwd == 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    ::sched_setaffinity(0, sizeof set, &set);
    ::dup2(out[1], 1);  // dup2 clears close-on-exec on the copy
    std::vector<char*> cargs;
    for (auto& a : args) cargs.push_back(a.data());
    cargs.push_back(nullptr);
    ::execv(cargs[0], cargs.data());
    ::_exit(127);
  }
  ::close(out[1]);
  t.out = out[0];
  const auto child = read_i64(t.out, 5000);
  if (!child) {
    t.res.error = "the child never became ready";
    return false;
  }
  t.probe = static_cast<pid_t>(*child);
  t.res.forwarder_allowed = cpus_allowed(t.fwd);
  t.res.child_allowed = cpus_allowed(t.probe);
  return true;
}

// One SIGTERM through the tree; records the latency unless warming up.
void once(tree& t, bool record) {
  if (!t.res.error.empty()) return;
  if (!wait_asleep(t.fwd, t.probe)) {
    t.res.error = "forwarder or child never went to sleep";
    return;
  }
  const std::int64_t t0 = bench::now_ns();
  ::kill(t.fwd, SIGTERM);
  const auto t1 = read_i64(t.out, 2000);
  if (!t1) {
    if (++t.res.failures > 5) t.res.error = "SIGTERM not observed by the child within 2 s, 6 times";
    return;
  }
  if (record) t.ns.push_back(static_cast<double>(*t1 - t0));
}

void stop(tree& t) {
  if (t.fwd > 0) {
    ::kill(t.fwd, SIGUSR1);  // forwarded: the child exits, and the forwarder follows it
    int status = 0;
    bool reaped = false;
    for (int i = 0; i < 300 && !reaped; ++i) {
      reaped = ::waitpid(t.fwd, &status, WNOHANG) == t.fwd;
      if (!reaped) ::usleep(10'000);
    }
    if (!reaped) {
      if (t.probe > 0) ::kill(t.probe, SIGKILL);
      ::kill(t.fwd, SIGKILL);
      ::waitpid(t.fwd, &status, 0);
    }
  }
  if (t.out >= 0) ::close(t.out);
  t.res.lat = bench::summarize(t.ns);
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int iterations = 2000;
  std::string json_path;
  std::string only;
  std::vector<std::pair<std::string, std::string>> also;  // --also NAME=PATH: another sigkit-run-like forwarder
  bool decompose = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--iterations" && i + 1 < argc) {
      iterations = std::atoi(argv[++i]);
    } else if (a == "--json" && i + 1 < argc) {
      json_path = argv[++i];
    } else if (a == "--only" && i + 1 < argc) {
      only = argv[++i];
    } else if (a == "--decompose") {
      decompose = true;
    } else if (a == "--also" && i + 1 < argc && std::string(argv[i + 1]).find('=') != std::string::npos) {
      const std::string spec = argv[++i];
      also.emplace_back(spec.substr(0, spec.find('=')), spec.substr(spec.find('=') + 1));
    } else {
      std::fprintf(
          stderr,
          "usage: forward_latency [--iterations N] [--json FILE] [--only NAME[,NAME...]] "
          "[--decompose] [--also 'NAME=PATH [OPTIONS]']...\n"
          "  --decompose adds floor-sigkit-shape, floor-signalfd, floor-signalfd-sigkit-shape (shaped_forwarder)\n"
          "  --also runs PATH OPTIONS -- CHILD as one more forwarder (e.g. an older sigkit-run, for A/B)\n");
      return 2;
    }
  }
  const std::string probe = SIGKIT_BENCH_PROBE;
  std::vector<forwarder_spec> specs{{"floor", {SIGKIT_BENCH_FLOOR}}};
  if (decompose) {
    specs.push_back({"floor-sigkit-shape", {SIGKIT_BENCH_SHAPED_FORWARDER, "--sigkit-shape", "--"}});
    specs.push_back({"floor-signalfd", {SIGKIT_BENCH_SHAPED_FORWARDER, "--signalfd", "--"}});
    specs.push_back(
        {"floor-signalfd-sigkit-shape", {SIGKIT_BENCH_SHAPED_FORWARDER, "--signalfd", "--sigkit-shape", "--"}});
  }
#if defined(SIGKIT_BENCH_SIGKIT_RUN)
  specs.push_back({"sigkit-run", {SIGKIT_BENCH_SIGKIT_RUN, "--"}});
#else
  std::fprintf(stderr, "forward_latency: sigkit-run was not built (SIGKIT_BUILD_EXAMPLES=OFF): skipped\n");
#endif
  for (const auto& [name, command] : also) {  // "PATH [OPTIONS...]", split on spaces
    forwarder_spec spec{name, {}};
    for (std::size_t at = 0, next; at < command.size(); at = next + 1) {
      next = command.find(' ', at);
      if (next == std::string::npos) next = command.size();
      if (next > at) spec.argv.push_back(command.substr(at, next - at));
    }
    spec.argv.push_back("--");
    specs.push_back(spec);
  }
  if (const std::string tini = find_in_path("tini"); !tini.empty())
    specs.push_back({"tini", {tini, "-s", "--"}});
  else
    std::fprintf(stderr, "forward_latency: tini not found: skipped\n");
  if (const std::string dumb = find_in_path("dumb-init"); !dumb.empty())
    specs.push_back({"dumb-init", {dumb}});
  else
    std::fprintf(stderr, "forward_latency: dumb-init not found: skipped\n");

  const std::vector<int> cpus = bench::allowed_cpus();
  if (cpus.size() < 2) {
    std::fprintf(stderr, "forward_latency: needs 2 CPUs to pin (this process may use %zu)\n", cpus.size());
    return 1;
  }
  const int a = cpus[0], b = cpus[1];
  if (!bench::pin_this_thread(a)) {
    std::fprintf(stderr, "forward_latency: cannot pin to CPU %d\n", a);
    return 1;
  }
  std::signal(SIGPIPE, SIG_IGN);

  // All forwarders of a pin mode are alive at once and take turns (in a
  // rotating order), so that load from elsewhere on the machine falls on
  // every contender alike.
  std::vector<result> results;
  for (const auto& [pin, fwd_cpu, child_cpu] :
       std::vector<std::tuple<std::string, int, int>>{{"same", b, b}, {"split", b, a}}) {
    std::vector<tree> trees;
    for (const auto& spec : specs) {
      if (!only.empty() && ("," + only + ",").find("," + spec.name + ",") == std::string::npos) continue;
      tree t;
      t.res.forwarder = spec.name;
      t.res.pin = pin;
      t.res.forwarder_cpu = fwd_cpu;
      t.res.child_cpu = child_cpu;
      t.ns.reserve(static_cast<std::size_t>(iterations));
      trees.push_back(std::move(t));
      start(trees.back(), spec, probe);
    }
    const int warmup = 20;
    for (int i = 0; i < warmup + iterations; ++i)
      for (std::size_t k = 0; k < trees.size(); ++k)
        once(trees[(k + static_cast<std::size_t>(i)) % trees.size()], i >= warmup);
    for (auto& t : trees) {
      stop(t);
      const result& r = t.res;
      std::fprintf(stderr, "%-27s %-5s n=%zu median %.1f us  p99 %.1f us  min %.1f us%s%s\n", r.forwarder.c_str(),
                   r.pin.c_str(), r.lat.n, r.lat.median / 1e3, r.lat.p99 / 1e3, r.lat.min / 1e3,
                   r.error.empty() ? "" : "  ERROR: ", r.error.c_str());
      results.push_back(r);
    }
  }

  std::string json = "{\n  \"context\": {";
  utsname u{};
  ::uname(&u);
  json += "\"kernel\": \"" + json_escape(u.release) + "\", \"this_cpu\": " + std::to_string(a) +
          ", \"other_cpu\": " + std::to_string(b) + ", \"iterations\": " + std::to_string(iterations) + "},\n";
  json += "  \"results\": [\n";
  for (std::size_t i = 0; i < results.size(); ++i) {
    const result& r = results[i];
    char buf[1024];
    std::snprintf(buf, sizeof buf,
                  "    {\"forwarder\": \"%s\", \"pin\": \"%s\", \"forwarder_cpu\": %d, \"child_cpu\": %d, "
                  "\"forwarder_cpus_allowed\": \"%s\", \"child_cpus_allowed\": \"%s\", \"n\": %zu, "
                  "\"median_ns\": %.0f, \"p90_ns\": %.0f, \"p99_ns\": %.0f, \"min_ns\": %.0f, \"max_ns\": %.0f, "
                  "\"mean_ns\": %.0f, \"failures\": %d, \"error\": \"%s\"}%s\n",
                  r.forwarder.c_str(), r.pin.c_str(), r.forwarder_cpu, r.child_cpu,
                  json_escape(r.forwarder_allowed).c_str(), json_escape(r.child_allowed).c_str(), r.lat.n, r.lat.median,
                  r.lat.p90, r.lat.p99, r.lat.min, r.lat.max, r.lat.mean, r.failures, json_escape(r.error).c_str(),
                  i + 1 < results.size() ? "," : "");
    json += buf;
  }
  json += "  ]\n}\n";
  if (!json_path.empty()) {
    std::ofstream out(json_path);
    out << json;
  } else {
    std::fputs(json.c_str(), stdout);
  }
  bool ok = true;
  for (const auto& r : results) ok = ok && r.error.empty();
  return ok ? 0 : 1;
}
