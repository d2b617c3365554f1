// Tests for sigkit/supervisor.hpp: many children, each in its own process
// group, under one signal policy. Ends reported (iteration, fd), forwarding
// to every group with the forwarder's rules, timeouts that pause while a
// child is stopped, the shutdown policy (grace, second request, mirroring),
// job control (stop every group, then the supervisor's process; continue
// them all), adopt, nothing left behind, two supervisors in one process.
//
// The children are tests/helpers/group_probe: each member of a probe's
// group writes "ready <pid> <pgid>" and then "sig <NAME> <pid> from=<pid>"
// for each signal to a pipe, so every wait here waits for a line, with a
// deadline.
#include <sigkit/forward.hpp>
#include <sigkit/supervisor.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "process.hpp"
#include "support.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using sigkit_test::in_child;

namespace {

/// A pipe the probes write their lines to (the write end is inherited by
/// every child; the read end is close-on-exec).
class report_pipe {
 public:
  report_pipe() {
    int p[2];
    REQUIRE(::pipe(p) == 0);
    read_ = p[0];
    write_ = p[1];
    ::fcntl(read_, F_SETFD, FD_CLOEXEC);
  }
  ~report_pipe() {
    ::close(read_);
    ::close(write_);
  }
  report_pipe(const report_pipe&) = delete;
  report_pipe& operator=(const report_pipe&) = delete;

  /// group_probe's argv, writing here.
  std::vector<std::string> probe(const std::vector<std::string>& options = {}) const {
    std::vector<std::string> argv{sigkit_test::helper_path("group_probe"), std::to_string(write_)};
    argv.insert(argv.end(), options.begin(), options.end());
    return argv;
  }

  /// The next line not taken yet that starts with `prefix`; nullopt after
  /// `limit`.
  std::optional<std::string> take(const std::string& prefix, std::chrono::milliseconds limit = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      for (std::size_t i = 0; i < lines_.size(); ++i) {
        if (!taken_[i] && lines_[i].rfind(prefix, 0) == 0) {
          taken_[i] = true;
          return lines_[i];
        }
      }
      if (!read_some(deadline)) return std::nullopt;
    }
  }

  /// The pids of `n` ready members (REQUIREd within `limit`).
  std::vector<pid_t> ready(int n, std::chrono::milliseconds limit = 10s) {
    std::vector<pid_t> pids;
    for (int i = 0; i < n; ++i) {
      const auto l = take("ready ", limit);
      REQUIRE_MESSAGE(l.has_value(), "only " << i << " of " << n << " probe members reported ready");
      pids.push_back(std::stoi(l->substr(6)));
    }
    return pids;
  }

  /// Waits until every pid in `pids` has reported `sig` (e.g. "SIGINT").
  bool all_got(const std::vector<pid_t>& pids, const std::string& sig, std::chrono::milliseconds limit = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      if (std::all_of(pids.begin(), pids.end(), [&](pid_t p) { return count(sig, p) > 0; })) return true;
      if (!read_some(deadline)) return false;
    }
  }

  /// Lines "sig <sig> <pid> ..." read so far.
  int count(const std::string& sig, pid_t pid) const {
    const std::string prefix = "sig " + sig + " " + std::to_string(pid) + " ";
    return static_cast<int>(
        std::count_if(lines_.begin(), lines_.end(), [&](const std::string& l) { return l.rfind(prefix, 0) == 0; }));
  }

  int write_fd() const { return write_; }

 private:
  bool read_some(std::chrono::steady_clock::time_point deadline) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{read_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return errno == EINTR;
    char buf[4096];
    const ssize_t n = ::read(read_, buf, sizeof buf);
    if (n <= 0) return n < 0 && errno == EINTR;
    partial_.append(buf, static_cast<std::size_t>(n));
    std::size_t nl;
    while ((nl = partial_.find('\n')) != std::string::npos) {
      lines_.push_back(partial_.substr(0, nl));
      taken_.push_back(false);
      partial_.erase(0, nl + 1);
    }
    return true;
  }

  int read_ = -1, write_ = -1;
  std::string partial_;
  std::vector<std::string> lines_;
  std::vector<bool> taken_;
};

/// Whether `fd` polls readable within `limit` (EINTR retried: SIGCHLD
/// interrupts poll() here).
bool readable(int fd, std::chrono::milliseconds limit) {
  return sigkit::detail::wait_readable(fd, sigkit::detail::deadline::after(limit)) == 1;
}

/// Sends `signo` to `pid` from another process (a signal this process sends
/// itself is not forwarded: no loops). The wait is retried on EINTR: the
/// signal may land here during it, and sigkit keeps the previous handler's
/// SA_RESTART choice (ASan's SIGSEGV and SIGBUS handlers lack it).
void send_from_outside(pid_t pid, int signo) { REQUIRE(sigkit_test::send_from_another_process(pid, signo)); }

// TSan's runtime aborts on a chained synchronous signal (see forward_test):
// the user-sent fault case runs in every other build.
#if defined(SIGKIT_TEST_TSAN)
constexpr bool skip_sent_faults = true;
#else
constexpr bool skip_sent_faults = false;
#endif

/// Every test body: a process group of its own (what the children send to
/// "their parent's group" stays here) and a subreaper (members orphaned by a
/// dead leader come back here, to be checked and reaped).
void isolate() {
  REQUIRE(::setpgid(0, 0) == 0);
  REQUIRE(::prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
}

/// True once `pid` is gone or a zombie.
bool dead(pid_t pid) {
  const char s = sigkit_test::proc_state(pid);
  return s == 0 || s == 'Z';
}

bool all_dead(const std::vector<pid_t>& pids, std::chrono::milliseconds limit = 10s) {
  return sigkit_test::wait_until([&] { return std::all_of(pids.begin(), pids.end(), dead); }, limit);
}

bool all_in_state(const std::vector<pid_t>& pids, char state, bool negate, std::chrono::milliseconds limit = 10s) {
  return sigkit_test::wait_until(
      [&] {
        return std::all_of(pids.begin(), pids.end(),
                           [&](pid_t p) { return (sigkit_test::proc_state(p) == state) != negate; });
      },
      limit);
}

/// Reaps whatever orphans came back to this subreaper.
void reap_orphans() {
  int st;
  while (::waitpid(-1, &st, WNOHANG) > 0) {
  }
}

std::string states(const std::vector<pid_t>& pids) {
  std::string out;
  for (pid_t p : pids) {
    const char state = sigkit_test::proc_state(p);
    out += std::to_string(p) + ":" + std::string(1, state != 0 ? state : '-') + " ";
  }
  return out;
}

}  // namespace

TEST_CASE("each child's end is reported once with its status, and iterating ends when none is left") {
  in_child([] {
    isolate();
    sigkit::supervisor sup;
    const auto a = sup.spawn({"sh", "-c", "exit 3"});
    const auto b = sup.spawn({"sh", "-c", "kill -TERM $$"});
    const auto c = sup.spawn({"true"});
    CHECK(sup.running() <= 3);
    std::map<std::uint64_t, sigkit::child_end> ends;
    for (const sigkit::child_end& e : sup) {
      CHECK(ends.count(e.id) == 0);
      ends[e.id] = e;
    }
    REQUIRE(ends.size() == 3);
    CHECK(ends[a].status.code() == 3);
    CHECK(ends[b].status.signal() == sigkit::terminate);
    CHECK(ends[c].status.code() == 0);
    for (const auto& [id, e] : ends) {
      CHECK(e.pid > 0);
      CHECK(e.wall > 0ns);
      CHECK(e.stopped == 0ns);
      CHECK_FALSE(e.timed_out);
      CHECK_FALSE(e.killed);
      CHECK_FALSE(e.shutdown);
      CHECK(sigkit_test::proc_state(e.pid) == 0);  // reaped
    }
    CHECK(sup.running() == 0);
    CHECK_FALSE(sup.try_next().has_value());
    CHECK_FALSE(sup.next().has_value());  // nothing left: does not block
  });
}

TEST_CASE("fd() is readable while an end is queued, and only then") {
  in_child([] {
    isolate();
    sigkit::supervisor sup;
    CHECK_FALSE(readable(sup.fd(), 0ms));
    const auto id = sup.spawn({"true"});
    REQUIRE(readable(sup.fd(), 10s));
    const auto e = sup.try_next();
    REQUIRE(e.has_value());
    CHECK(e->id == id);
    CHECK_FALSE(readable(sup.fd(), 0ms));
    CHECK_FALSE(sup.try_next().has_value());
    // Two ends queued: readable until both are taken.
    sup.spawn({"true"});
    sup.spawn({"true"});
    REQUIRE(sigkit_test::wait_until([&] { return sup.running() == 0; }, 10s));
    CHECK(readable(sup.fd(), 0ms));
    CHECK(sup.try_next().has_value());
    CHECK(readable(sup.fd(), 0ms));
    CHECK(sup.try_next().has_value());
    CHECK_FALSE(readable(sup.fd(), 0ms));
  });
}

/// Spawns a probe in its own group, outside any supervisor, so that a test
/// can wait for it to listen before a timer starts (by adopt()ing it).
sigkit::child_process spawn_probe(const report_pipe& r, const std::vector<std::string>& options = {}) {
  return sigkit::child_process::spawn(r.probe(options), {.new_process_group = true});
}

TEST_CASE("a timeout sends SIGTERM to the child's group, then SIGKILL after the grace period") {
  in_child([] {
    isolate();
    report_pipe r;
    sigkit::supervisor sup({.timeout_grace = 400ms});
    auto stubborn_child = spawn_probe(r, {"--ignore", "TERM", "--members", "2"});
    auto polite_child = spawn_probe(r, {"--members", "2"});
    const auto members = r.ready(4);
    // Adopted once they listen: the timeouts start now.
    const sigkit::child_options timeout{.timeout = 300ms};
    const auto stubborn = sup.adopt(std::move(stubborn_child), timeout);
    const auto polite = sup.adopt(std::move(polite_child), timeout);
    std::map<std::uint64_t, sigkit::child_end> ends;
    for (const auto& e : sup) ends[e.id] = e;
    REQUIRE(ends.size() == 2);
    CHECK(ends[polite].timed_out);
    CHECK_FALSE(ends[polite].killed);
    CHECK(ends[polite].status.signal() == sigkit::terminate);
    CHECK(ends[polite].wall >= 300ms);
    CHECK(ends[stubborn].timed_out);
    CHECK(ends[stubborn].killed);
    CHECK(ends[stubborn].status.signal() == sigkit::signal{SIGKILL});
    CHECK(ends[stubborn].wall >= 700ms);
    // Every member of both groups got it, not only the leaders.
    CHECK(all_dead(members));
    reap_orphans();
  });
}

TEST_CASE("the supervisor's own timeout applies to spawned children") {
  in_child([] {
    isolate();
    sigkit::supervisor sup({.timeout = 200ms, .timeout_grace = 5s});
    const auto slow = sup.spawn({"sleep", "30"});
    const auto quick = sup.spawn({"true"}, {.timeout = 30s});  // its own, longer
    std::map<std::uint64_t, sigkit::child_end> ends;
    for (const auto& e : sup) ends[e.id] = e;
    CHECK(ends[slow].timed_out);
    CHECK(ends[slow].status.signal() == sigkit::terminate);
    CHECK(ends[slow].wall >= 200ms);
    CHECK_FALSE(ends[quick].timed_out);
  });
}

TEST_CASE("time a child spends stopped does not count toward its timeout") {
  in_child([] {
    isolate();
    report_pipe r;
    sigkit::supervisor sup;
    auto c = spawn_probe(r);
    const pid_t pid = r.ready(1)[0];
    const auto id = sup.adopt(std::move(c), {.timeout = 1s});
    REQUIRE(pid == sup.pid(id));
    const auto started = std::chrono::steady_clock::now();
    REQUIRE(::kill(-pid, SIGSTOP) == 0);
    REQUIRE(sigkit_test::wait_state(pid, 'T'));
    // Stopped for longer than the whole timeout (the scenario itself, not a
    // wait for something to happen).
    std::this_thread::sleep_for(1500ms);
    CHECK_FALSE(sup.try_next().has_value());
    REQUIRE(::kill(-pid, SIGCONT) == 0);
    const auto continued = std::chrono::steady_clock::now();
    const auto e = sup.next();
    const auto ended = std::chrono::steady_clock::now();
    REQUIRE(e.has_value());
    CHECK(e->timed_out);
    CHECK(e->status.signal() == sigkit::terminate);
    // It fired once the child had run for 1 s in all: after the continue,
    // the rest of the second, never at once.
    CHECK(ended - continued >= 500ms);
    CHECK(e->stopped >= 1400ms);
    CHECK(e->wall - e->stopped >= 900ms);
    CHECK(e->wall >= ended - started - 100ms);
  });
}

TEST_CASE("the first SIGINT is forwarded once to every member of every group, and no child starts after it") {
  in_child([] {
    isolate();
    report_pipe r;
    std::atomic<int> notices{0};
    sigkit::supervisor sup({.shutdown_grace = 60s, .on_shutdown = [&](sigkit::signal s) {
                              if (s == sigkit::interrupt) notices.fetch_add(1);
                            }});
    std::vector<std::uint64_t> ids;
    for (int i = 0; i < 3; ++i) ids.push_back(sup.spawn(r.probe({"--members", "2"})));
    const auto members = r.ready(6);
    send_from_outside(::getpid(), SIGINT);
    REQUIRE(r.all_got(members, "SIGINT"));
    int ended = 0;
    for (const auto& e : sup) {
      ++ended;
      CHECK(e.status.signal() == sigkit::interrupt);
      CHECK(e.shutdown);
      CHECK_FALSE(e.killed);
    }
    CHECK(ended == 3);
    CHECK(all_dead(members));
    reap_orphans();
    for (pid_t p : members) CHECK(r.count("SIGINT", p) == 1);
    CHECK(sup.shutting_down());
    CHECK(notices.load() == 1);
    REQUIRE(sup.shutdown_signal().has_value());
    CHECK(*sup.shutdown_signal() == sigkit::interrupt);
    CHECK(sup.shutdown_status()->signal() == sigkit::interrupt);
    std::error_code ec;
    CHECK(sup.spawn(std::vector<std::string>{"true"}, {}, ec) == 0);
    CHECK(ec == std::errc::operation_canceled);
    CHECK_THROWS_AS(sup.spawn({"true"}), std::system_error);
  });
}

TEST_CASE("after the shutdown grace period every group gets SIGKILL") {
  in_child([] {
    isolate();
    report_pipe r;
    sigkit::supervisor sup({.shutdown_grace = 300ms});
    sup.spawn(r.probe({"--ignore", "INT", "--members", "2"}));
    sup.spawn(r.probe({"--ignore", "INT"}));
    const auto members = r.ready(3);
    const auto sent = std::chrono::steady_clock::now();
    send_from_outside(::getpid(), SIGINT);
    int ended = 0;
    for (const auto& e : sup) {
      ++ended;
      CHECK(e.killed);
      CHECK(e.shutdown);
      CHECK(e.status.signal() == sigkit::signal{SIGKILL});
    }
    CHECK(ended == 2);
    CHECK(std::chrono::steady_clock::now() - sent >= 300ms);
    CHECK(all_dead(members));
    reap_orphans();
  });
}

TEST_CASE("a second SIGINT kills every group at once") {
  in_child([] {
    isolate();
    report_pipe r;
    sigkit::supervisor sup({.shutdown_grace = 60s});
    sup.spawn(r.probe({"--ignore", "INT", "--members", "2"}));
    sup.spawn(r.probe({"--ignore", "INT"}));
    const auto members = r.ready(3);
    send_from_outside(::getpid(), SIGINT);
    REQUIRE(sigkit_test::wait_until([&] { return sup.shutting_down(); }, 10s));
    CHECK_FALSE(sup.next_for(200ms).has_value());  // they ignore it: still running
    CHECK(sup.running() == 2);
    send_from_outside(::getpid(), SIGINT);
    const auto t0 = std::chrono::steady_clock::now();
    int ended = 0;
    for (const auto& e : sup) {
      ++ended;
      CHECK(e.killed);
      CHECK(e.status.signal() == sigkit::signal{SIGKILL});
    }
    CHECK(ended == 2);
    CHECK(std::chrono::steady_clock::now() - t0 < 10s);
    CHECK(all_dead(members));
    reap_orphans();
  });
}

TEST_CASE("when the last child is gone, the supervisor's process can die of the signal that began the shutdown") {
  in_child([] {
    isolate();
    report_pipe r;
    const pid_t s = ::fork();
    REQUIRE(s >= 0);
    if (s == 0) {
      std::optional<sigkit::exit_status> how;
      {
        sigkit::supervisor sup;
        sup.spawn(r.probe());
        for (const auto& e : sup) (void)e;
        how = sup.shutdown_status();
      }
      if (how) how->mirror();
      ::_exit(0);
    }
    r.ready(1);
    send_from_outside(s, SIGINT);
    const int st = sigkit_test::wait_pid_for(s, 10000ms);
    CHECK(WIFSIGNALED(st));
    CHECK(WTERMSIG(st) == SIGINT);
  });
}

TEST_CASE("SIGTSTP stops every group and then the supervisor's process, and SIGCONT continues them all") {
  in_child([] {
    isolate();
    report_pipe r;
    const pid_t s = ::fork();
    REQUIRE(s >= 0);
    if (s == 0) {
      {
        sigkit::supervisor sup;
        for (int i = 0; i < 3; ++i) sup.spawn(r.probe({"--members", "2"}));
        for (const auto& e : sup) (void)e;
      }
      ::_exit(0);
    }
    const auto members = r.ready(6);
    send_from_outside(s, SIGTSTP);
    CHECK_MESSAGE(all_in_state(members, 'T', false), states(members));
    CHECK(sigkit_test::wait_state(s, 'T'));
    // Still stopped a moment later: nothing undid the stop.
    std::this_thread::sleep_for(100ms);
    CHECK_MESSAGE(all_in_state(members, 'T', false, 0ms), states(members));
    send_from_outside(s, SIGCONT);
    CHECK(sigkit_test::wait_state(s, 'T', true));
    CHECK_MESSAGE(all_in_state(members, 'T', true), states(members));
    send_from_outside(s, SIGTERM);
    const int st = sigkit_test::wait_pid_for(s, 10000ms);
    CHECK(WIFEXITED(st));
    CHECK(all_dead(members));
    reap_orphans();
  });
}

TEST_CASE("a child stopped by SIGTSTP stops the whole job, and SIGCONT continues every child") {
  in_child([] {
    isolate();
    report_pipe r;
    int go[2];
    REQUIRE(::pipe2(go, O_CLOEXEC) == 0);
    const pid_t s = ::fork();
    REQUIRE(s >= 0);
    if (s == 0) {
      {
        sigkit::supervisor sup;
        for (int i = 0; i < 2; ++i) sup.spawn(r.probe({"--members", "2"}));
        // The one that stops itself starts once the others listen.
        char byte;
        (void)!::read(go[0], &byte, 1);
        sup.spawn(r.probe({"--stop-self", "TSTP"}));
        for (const auto& e : sup) (void)e;
      }
      ::_exit(0);
    }
    auto members = r.ready(4);
    REQUIRE(::write(go[1], "g", 1) == 1);
    members.push_back(r.ready(1)[0]);
    CHECK_MESSAGE(all_in_state(members, 'T', false), states(members));
    CHECK(sigkit_test::wait_state(s, 'T'));
    send_from_outside(s, SIGCONT);
    CHECK(sigkit_test::wait_state(s, 'T', true));
    CHECK_MESSAGE(all_in_state(members, 'T', true), states(members));
    send_from_outside(s, SIGTERM);
    CHECK(WIFEXITED(sigkit_test::wait_pid_for(s, 10000ms)));
    CHECK(all_dead(members));
    reap_orphans();
  });
}

TEST_CASE("an adopted child gets the forwarded signals and its end is reported") {
  in_child([] {
    isolate();
    report_pipe r;
    sigkit::supervisor sup;
    auto c = sigkit::child_process::spawn(r.probe(), {.new_process_group = true});
    const pid_t pid = c.pid();
    const auto id = sup.adopt(std::move(c));
    CHECK_FALSE(c.valid());  // NOLINT(bugprone-use-after-move): moved into the supervisor
    CHECK(sup.pid(id) == pid);
    r.ready(1);
    send_from_outside(::getpid(), SIGUSR1);
    REQUIRE(r.all_got({pid}, "SIGUSR1"));
    // One that has exited already is reaped and reported too.
    auto done = sigkit::child_process::spawn({"sh", "-c", "exit 7"});
    REQUIRE(sigkit_test::wait_gone_or(done.pid(), 10000ms));
    const auto done_id = sup.adopt(std::move(done));
    send_from_outside(::getpid(), SIGTERM);
    std::map<std::uint64_t, sigkit::child_end> ends;
    for (const auto& e : sup) ends[e.id] = e;
    REQUIRE(ends.size() == 2);
    CHECK(ends[id].status.signal() == sigkit::terminate);
    CHECK(ends[done_id].status.code() == 7);
    // Once shutting down, adopt() refuses and leaves the child alone.
    auto late = sigkit::child_process::spawn({"true"});
    std::error_code ec;
    CHECK(sup.adopt(std::move(late), {}, ec) == 0);
    CHECK(ec == std::errc::operation_canceled);
    CHECK(late.valid());  // NOLINT(bugprone-use-after-move): refused, so not moved from
    CHECK(late.wait().code() == 0);
  });
}

TEST_CASE("a signal a child sends is forwarded to the other children, not back to it") {
  in_child([] {
    isolate();
    report_pipe r;
    sigkit::supervisor sup;
    sup.spawn(r.probe({"--members", "2"}));
    const auto others = r.ready(2);
    sup.spawn(r.probe({"--send-parent", "USR1"}));
    const pid_t sender = r.ready(1)[0];
    REQUIRE(r.all_got(others, "SIGUSR1"));
    // A barrier: USR2 is forwarded after USR1 was sent to everyone, and a
    // pending USR1 is delivered before a pending USR2.
    send_from_outside(::getpid(), SIGUSR2);
    std::vector<pid_t> all = others;
    all.push_back(sender);
    REQUIRE(r.all_got(all, "SIGUSR2"));
    CHECK(r.count("SIGUSR1", sender) == 0);
    for (pid_t p : others) CHECK(r.count("SIGUSR1", p) == 1);
    sup.shutdown();
    for (const auto& e : sup) (void)e;
    CHECK(all_dead(all));
    reap_orphans();
  });
}

TEST_CASE("nothing is left behind: no child running, no zombie, no descriptor") {
  in_child([] {
    isolate();
    report_pipe r;
    const int fds_before = sigkit_test::open_fd_count();
    std::vector<pid_t> leaders, members;
    {
      sigkit::supervisor sup({.timeout = 60s});
      for (int i = 0; i < 4; ++i) leaders.push_back(sup.pid(sup.spawn(r.probe({"--members", "2"}))));
      sup.spawn(r.probe({"--ignore", "INT,TERM,HUP,QUIT"}));
      for (int i = 0; i < 3; ++i) sup.spawn({"true"});
      members = r.ready(9);
      // Take one end, leave the other ends queued and the probes running.
      REQUIRE(sup.next().has_value());
      CHECK(sigkit_test::open_fd_count() > fds_before);
    }
    CHECK(sigkit_test::open_fd_count() == fds_before);
    // The supervisor reaped its own children: none is left as a zombie.
    for (pid_t p : leaders) CHECK(sigkit_test::proc_state(p) == 0);
    CHECK(all_dead(members));
    reap_orphans();
    siginfo_t info{};
    CHECK((::waitid(P_ALL, 0, &info, WEXITED | WNOHANG) != 0 || info.si_pid == 0));
  });
}

TEST_CASE("two supervisors in one process each forward to and reap only their own children") {
  in_child([] {
    isolate();
    report_pipe r;
    sigkit::supervisor a, b;
    std::set<std::uint64_t> a_ids, b_ids;
    for (int i = 0; i < 2; ++i) a_ids.insert(a.spawn(r.probe()));
    for (int i = 0; i < 2; ++i) b_ids.insert(b.spawn(r.probe()));
    auto outsider = sigkit::child_process::spawn(r.probe(), {.new_process_group = true});
    const auto pids = r.ready(5);
    std::vector<pid_t> supervised;
    for (pid_t p : pids)
      if (p != outsider.pid()) supervised.push_back(p);
    REQUIRE(supervised.size() == 4);
    send_from_outside(::getpid(), SIGUSR1);
    send_from_outside(::getpid(), SIGUSR2);
    REQUIRE(r.all_got(supervised, "SIGUSR2"));
    for (pid_t p : supervised) CHECK(r.count("SIGUSR1", p) == 1);
    CHECK(r.count("SIGUSR1", outsider.pid()) == 0);
    send_from_outside(::getpid(), SIGTERM);
    std::set<std::uint64_t> a_seen, b_seen;
    for (const auto& e : a) a_seen.insert(e.id);
    for (const auto& e : b) b_seen.insert(e.id);
    CHECK(a_seen == a_ids);
    CHECK(b_seen == b_ids);
    // Neither reaped the outsider.
    CHECK_FALSE(outsider.wait_for(0ns).has_value());
    CHECK(outsider.terminate(5s).signal() == sigkit::terminate);
  });
}

TEST_CASE("a forwarder and a supervisor in one process each serve only their own children") {
  in_child([] {
    isolate();
    report_pipe r;
    sigkit::forwarder fwd(sigkit::forward_options{.to_group = true, .job_control = false});
    auto single = sigkit::child_process::spawn(r.probe(), {.new_process_group = true});
    fwd.attach(single);
    sigkit::supervisor sup;
    sup.spawn(r.probe());
    sup.spawn(r.probe());
    const auto pids = r.ready(3);
    send_from_outside(::getpid(), SIGUSR1);
    send_from_outside(::getpid(), SIGUSR2);
    REQUIRE(r.all_got(pids, "SIGUSR2"));
    for (pid_t p : pids) CHECK(r.count("SIGUSR1", p) == 1);
    send_from_outside(::getpid(), SIGTERM);
    int ended = 0;
    for (const auto& e : sup) {
      CHECK(e.pid != single.pid());
      CHECK(e.status.signal() == sigkit::terminate);
      ++ended;
    }
    CHECK(ended == 2);
    // The forwarder's child is still its own to wait for.
    CHECK(single.wait().signal() == sigkit::terminate);
  });
}

TEST_CASE(
    "a user-sent SIGSEGV reaches every group of two supervisors and a forwarder, and destroying one leaves "
    "the others working" *
    doctest::skip(skip_sent_faults)) {
  in_child(
      [] {
        isolate();
        report_pipe r;
        // The probes do not catch SIGSEGV: each member that gets it dies of it.
        const auto segv = sigkit::signal{SIGSEGV};
        // Every end `sup` reports within the deadline, until `n` are in.
        const auto ends = [](sigkit::supervisor& sup, int n) {
          std::vector<sigkit::child_end> out;
          while (static_cast<int>(out.size()) < n) {
            auto e = sup.next_for(10s);
            if (!e) break;
            out.push_back(*e);
          }
          return out;
        };
        sigkit::supervisor a;
        std::optional<sigkit::supervisor> b;
        b.emplace();
        std::optional<sigkit::forwarder> fwd;
        fwd.emplace(sigkit::forward_options{.to_group = true, .job_control = false});
        a.spawn(r.probe({"--members", "2"}));
        a.spawn(r.probe());
        b->spawn(r.probe());
        b->spawn(r.probe({"--members", "2"}));
        auto single = sigkit::child_process::spawn(r.probe({"--members", "2"}), {.new_process_group = true});
        fwd->attach(single);
        std::vector<pid_t> pids = r.ready(8);
        send_from_outside(::getpid(), SIGSEGV);
        for (auto* sup : {&a, &*b}) {
          const auto got = ends(*sup, 2);
          REQUIRE(got.size() == 2);
          for (const auto& e : got) CHECK_MESSAGE(e.status.signal() == segv, e.status.describe());
        }
        const auto st = single.wait_for(10s);
        REQUIRE(st.has_value());
        CHECK(st->signal() == segv);
        // Every member of every group got it, not just the leaders.
        CHECK_MESSAGE(all_dead(pids), states(pids));
        reap_orphans();

        // b and the forwarder gone: a still forwards the next one.
        b.reset();
        fwd.reset();
        a.spawn(r.probe({"--members", "2"}));
        a.spawn(r.probe());
        pids = r.ready(3);
        send_from_outside(::getpid(), SIGSEGV);
        const auto got = ends(a, 2);
        REQUIRE(got.size() == 2);
        for (const auto& e : got) CHECK_MESSAGE(e.status.signal() == segv, e.status.describe());
        CHECK_MESSAGE(all_dead(pids), states(pids));
        reap_orphans();
        // And this process, which caught both for them, is alive to say so.
      },
      60s);
}

TEST_CASE("an exception from a callback does not stop the supervisor") {
  in_child([] {
    isolate();
    sigkit::supervisor sup({.log = [](const std::string&) { throw std::runtime_error("log"); },
                            .on_shutdown = [](sigkit::signal) { throw std::runtime_error("on_shutdown"); }});
    const auto id = sup.spawn({"sh", "-c", "exit 5"});
    const auto e = sup.next();
    REQUIRE(e.has_value());
    CHECK(e->id == id);
    CHECK(e->status.code() == 5);
    sup.spawn({"sleep", "30"});
    sup.shutdown();
    const auto last = sup.next();
    REQUIRE(last.has_value());
    CHECK(last->status.signal() == sigkit::terminate);
  });
}

TEST_CASE("the forwarding rules: terminal-typed, self, child and group senders") {
  const pid_t self = 100, self_pgrp = 100;
  const sigkit::detail::forward_target own{200, 200, true};
  const sigkit::detail::forward_target same{300, 100, false};
  auto ev = [](int signo, int code, pid_t from) {
    sigkit::event e;
    e.signal = sigkit::signal{signo};
    e.from.code = code;
    e.from.pid = from;
    return e;
  };
  using sigkit::detail::forward_skip_reason;
  const auto typed = ev(SIGINT, SI_KERNEL, 0);
  CHECK(forward_skip_reason(typed, own, self, self_pgrp, -1) == nullptr);
  CHECK(forward_skip_reason(typed, same, self, self_pgrp, -1) != nullptr);
  CHECK(forward_skip_reason(ev(SIGINT, SI_USER, 999), own, self, self_pgrp, 999) == nullptr);
  CHECK(forward_skip_reason(ev(SIGINT, SI_USER, self), own, self, self_pgrp, self_pgrp) != nullptr);
  CHECK(forward_skip_reason(ev(SIGINT, SI_USER, 200), own, self, self_pgrp, 200) != nullptr);
  CHECK(forward_skip_reason(ev(SIGINT, SI_QUEUE, 201), own, self, self_pgrp, 200) != nullptr);  // group member
  CHECK(forward_skip_reason(ev(SIGINT, SI_USER, 301), same, self, self_pgrp, 100) == nullptr);  // not a group target
  CHECK(forward_skip_reason(ev(SIGINT, SI_USER, 300), same, self, self_pgrp, 100) != nullptr);
  CHECK(sigkit::detail::job_stop_to_send(SIGTSTP, true) == SIGSTOP);
  CHECK(sigkit::detail::job_stop_to_send(SIGTTIN, false) == SIGTTIN);
}

TEST_CASE("a pausable deadline saturates: a huge duration never fires, and pausing or resuming it does not wrap") {
  using clock = std::chrono::steady_clock;
  const auto now = clock::now();
  const auto far = now + std::chrono::hours(24 * 365 * 100);
  for (const auto after : {clock::duration::max(), clock::duration::max() / 2, clock::duration::max() - 1s}) {
    CAPTURE(after.count());
    sigkit::detail::pausable_deadline d;
    d.arm(after, false, now);
    CHECK(d.armed());
    CHECK_FALSE(d.expired(now));
    CHECK_FALSE(d.expired(far));
    d.pause(now + 1s);
    d.resume(now + 10s);
    CHECK_FALSE(d.expired(far));
    d.arm(after, true, now);  // armed paused, then resumed
    d.resume(now + 5s);
    CHECK_FALSE(d.expired(far));
  }
  sigkit::detail::pausable_deadline never;
  never.arm(clock::duration::max(), false, now);
  REQUIRE(never.due().has_value());
  CHECK(*never.due() == clock::time_point::max());
  never.pause(now + 1s);
  never.resume(now + 2s);
  REQUIRE(never.due().has_value());
  CHECK(*never.due() == clock::time_point::max());
  for (const auto before : {clock::duration::min(), clock::duration(-1), clock::duration::zero()}) {
    CAPTURE(before.count());
    sigkit::detail::pausable_deadline d;
    d.arm(before, false, now);
    CHECK(d.expired(now));  // zero or less: due at once
    d.arm(before, true, now);
    d.resume(now);
    CHECK(d.expired(now));
  }
}

TEST_CASE("every supervisor duration, from nanoseconds::min() to max(), means what it says") {
  using ns = std::chrono::nanoseconds;
  in_child(
      [] {
        isolate();
        // A child timeout of zero or less is no timeout; a huge one never
        // fires. The child ends by itself, not timed out.
        for (const ns t : {ns::min(), ns{-1}, ns::zero(), ns::max(), ns::max() - ns{1}}) {
          CAPTURE(t.count());
          sigkit::supervisor sup({.timeout = t});
          const auto id = sup.spawn({"sleep", "0.2"});
          const auto own = sup.spawn({"sleep", "0.2"}, {.timeout = t});
          std::map<std::uint64_t, sigkit::child_end> ends;
          for (const auto& e : sup) ends[e.id] = e;
          REQUIRE(ends.size() == 2);
          for (const auto k : {id, own}) {
            CHECK_FALSE(ends[k].timed_out);
            CHECK(ends[k].status.exited());
            CHECK(ends[k].status.code() == 0);
          }
        }
        // A huge grace after a timeout's SIGTERM: no SIGKILL from the
        // supervisor (the test kills the child itself once it is sure).
        for (const ns g : {ns::max(), ns::max() - ns{1}}) {
          CAPTURE(g.count());
          report_pipe r;
          std::atomic<bool> termed{false};
          sigkit::supervisor sup({.timeout_grace = g, .log = [&](const std::string& line) {
                                    if (line.find("timed out") != std::string::npos) termed = true;
                                  }});
          auto child = spawn_probe(r, {"--ignore", "TERM"});
          const auto members = r.ready(1);
          sup.adopt(std::move(child), {.timeout = 50ms});
          REQUIRE(sigkit_test::wait_until([&] { return termed.load(); }, 10s));
          CHECK_FALSE(sup.next_for(500ms).has_value());  // not killed: still running
          ::kill(members.front(), SIGKILL);
          const auto e = sup.next();
          REQUIRE(e.has_value());
          CHECK(e->timed_out);
          CHECK_FALSE(e->killed);
        }
        // A grace of zero or less after a timeout: SIGKILL at once.
        for (const ns g : {ns::min(), ns{-1}, ns::zero()}) {
          CAPTURE(g.count());
          report_pipe r;
          sigkit::supervisor sup({.timeout_grace = g});
          auto child = spawn_probe(r, {"--ignore", "TERM"});
          r.ready(1);
          sup.adopt(std::move(child), {.timeout = 50ms});
          const auto e = sup.next_for(20s);
          REQUIRE(e.has_value());
          CHECK(e->timed_out);
          CHECK(e->killed);
        }
        // A huge shutdown grace: no SIGKILL on a timer; a second SIGINT
        // still kills at once.
        {
          report_pipe r;
          sigkit::supervisor sup({.shutdown_grace = ns::max()});
          sup.spawn(r.probe({"--ignore", "INT"}));
          const auto members = r.ready(1);
          send_from_outside(::getpid(), SIGINT);
          REQUIRE(sigkit_test::wait_until([&] { return sup.shutting_down(); }, 10s));
          CHECK_FALSE(sup.next_for(500ms).has_value());
          CHECK(sup.running() == 1);
          send_from_outside(::getpid(), SIGINT);
          const auto e = sup.next();
          REQUIRE(e.has_value());
          CHECK(e->killed);
          reap_orphans();
        }
        // next_for: zero or less looks once (the child runs until this test
        // ends it); huge waits for the end.
        for (const ns huge : {ns::max(), ns::max() - ns{1}}) {
          CAPTURE(huge.count());
          report_pipe r;
          sigkit::supervisor sup;
          sup.spawn(r.probe());
          const auto members = r.ready(1);
          for (const ns t : {ns::min(), ns{-1}, ns::zero()}) {
            CAPTURE(t.count());
            const auto t0 = std::chrono::steady_clock::now();
            CHECK_FALSE(sup.next_for(t).has_value());
            CHECK(std::chrono::steady_clock::now() - t0 < 5s);  // did not wait for the child
          }
          std::thread ender([&] {
            std::this_thread::sleep_for(200ms);  // next_for(huge) is waiting by then, or returns at once if broken
            ::kill(members.front(), SIGKILL);
          });
          const auto e = sup.next_for(huge);
          ender.join();
          REQUIRE(e.has_value());
          CHECK(e->status.signal() == sigkit::signal{SIGKILL});
        }
      },
      60s);
}

TEST_CASE("a pausable deadline does not run while paused") {
  using clock = std::chrono::steady_clock;
  sigkit::detail::pausable_deadline d;
  const clock::time_point t0{};
  CHECK_FALSE(d.armed());
  d.arm(10s, false, t0);
  CHECK(d.due() == t0 + 10s);
  d.pause(t0 + 4s);
  CHECK(d.paused());
  CHECK_FALSE(d.expired(t0 + 100s));
  d.resume(t0 + 50s);
  CHECK(d.due() == t0 + 56s);
  CHECK_FALSE(d.expired(t0 + 55s));
  CHECK(d.expired(t0 + 56s));
  d.arm(3s, true, t0);
  CHECK(d.paused());
  d.resume(t0 + 1s);
  CHECK(d.due() == t0 + 4s);
  d.disarm();
  CHECK_FALSE(d.armed());
}
