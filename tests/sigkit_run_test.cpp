// Tests for forwarding through the sigkit-run tool (tools/sigkit-run, on
// sigkit/run.hpp and sigkit/forward.hpp): every signal forwarded once and
// fast, no loops, faults survived, kill_after, job control, exit mirroring,
// exec failures, reaping. The library-level cases, where a test acts
// between two steps of the forwarder, are in forward_test.cpp.
#include <sigkit/inspect.hpp>
#include <sigkit/run.hpp>
#include <sigkit/signal.hpp>

#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "process.hpp"
#include "support.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using sigkit_test::in_child;
using sigkit_test::process;

namespace {

// Forwarded promptly: not left behind a timeout or another signal. Generous,
// because ctest runs other tests beside it on a loaded machine (5 ms, the
// former limit, failed once so); the latency itself is measured in bench/.
constexpr auto latency_limit = 50ms;
#if defined(SIGKIT_TEST_SANITIZED)
constexpr int spawn_rounds = 200;
#else
constexpr int spawn_rounds = 1000;
#endif

// sigkit_run_test_via_handler: the same cases against sigkit-run built with
// the handler path (forward_options::dequeue_directly off).
#if defined(SIGKIT_TEST_VIA_HANDLER)
std::string tool() { return sigkit_test::helper_path("sigkit_run_via_handler"); }
#else
std::string tool() { return sigkit_test::helper_path("sigkit_run"); }
#endif
std::string recorder() { return sigkit_test::helper_path("recorder"); }

long long now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<long long>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

long long field_ll(const std::string& line, const std::string& key) {
  const auto p = line.find(key + "=");
  return p == std::string::npos ? -1 : std::stoll(line.substr(p + key.size() + 1));
}

/// sigkit-run [opts] -- recorder, with the recorder's pid once it is ready.
struct wrapped {
  process p;
  pid_t child = -1;
  explicit wrapped(std::vector<std::string> opts = {}) : p(make(std::move(opts))) {
    const auto ready = p.line_starting("ready ");
    REQUIRE_MESSAGE(ready.has_value(), "the recorder did not start under sigkit-run");
    child = std::stoi(ready->substr(6));
    child_fd = static_cast<int>(::syscall(SYS_pidfd_open, child, 0));
  }
  // The recorder is sigkit-run's child, not ours: killing sigkit-run (as
  // ~process does) leaves it running when it has a group of its own. Kill it
  // through a pidfd, which cannot reach a recycled pid.
  ~wrapped() {
    if (child_fd < 0) return;
    (void)::syscall(SYS_pidfd_send_signal, child_fd, SIGKILL, nullptr, 0);
    ::close(child_fd);
  }
  wrapped(const wrapped&) = delete;
  wrapped& operator=(const wrapped&) = delete;
  int child_fd = -1;
  static std::vector<std::string> make(std::vector<std::string> opts) {
    std::vector<std::string> argv{tool()};
    argv.insert(argv.end(), opts.begin(), opts.end());
    argv.push_back("--");
    argv.push_back(recorder());
    return argv;
  }
  /// Lines "sig <name> ..." printed before a ping answered.
  std::vector<std::string> flush() {
    const std::size_t before = p.lines().size();
    p.write("ping\n");
    REQUIRE(p.line_starting("pong").has_value());
    std::vector<std::string> out;
    for (std::size_t i = before; i < p.lines().size(); ++i)
      if (p.lines()[i].rfind("sig ", 0) == 0) out.push_back(p.lines()[i]);
    return out;
  }
};

/// Every test body starts in a process group of its own, so that whatever
/// the children send to their group (kill(0, ...)) never reaches ctest or
/// the shell that runs it; and ignores SIGINT, which the child sends there.
void own_group() {
  REQUIRE(::setpgid(0, 0) == 0);
  struct sigaction ign {};
  ign.sa_handler = SIG_IGN;
  ::sigaction(SIGINT, &ign, nullptr);
}

int count_of(const std::vector<std::string>& lines, const std::string& name) {
  int n = 0;
  for (const auto& l : lines)
    if (l.rfind("sig " + name + " ", 0) == 0) ++n;
  return n;
}

}  // namespace

TEST_CASE("every forwardable signal reaches the child once, within the latency limit") {
  in_child(
      [] {
        own_group();
        wrapped w;
        std::vector<std::string> seen_all;
        for (const sigkit::signal s : sigkit::all_forwardable()) {
          CAPTURE(s.name());
          long long best = -1;
          for (int attempt = 0; attempt < 3 && (best < 0 || best > std::chrono::nanoseconds(latency_limit).count());
               ++attempt) {
            const long long sent = now_ns();
            REQUIRE(::kill(w.p.pid(), s.number()) == 0);
            const auto got = w.p.line_starting("sig " + std::string(s.name()) + " ");
            REQUIRE_MESSAGE(got.has_value(), "not forwarded: " << s.name());
            CHECK(field_ll(*got, "from") == w.p.pid());  // the forwarder sent it
            const long long took = field_ll(*got, "t") - sent;
            if (best < 0 || took < best) best = took;
          }
          CHECK_MESSAGE(best <= std::chrono::nanoseconds(latency_limit).count(),
                        s.name() << " took " << best / 1000 << " us");
        }
        const auto extra = w.flush();
        CHECK_MESSAGE(extra.empty(), "unexpected deliveries: " << (extra.empty() ? "" : extra.front()));
        w.p.close_stdin();
        const int st = w.p.wait();
        CHECK(WIFEXITED(st));
        CHECK(WEXITSTATUS(st) == 0);
      },
      60s);
}

// sigkit-run forwards on its one thread (run() with dequeue_directly:
// forwarder::forward_until_exit()), which sleeps in sigtimedwait(); the
// handler build forwards on a thread of the forwarder's own, in poll().
TEST_CASE(
    "sigkit-run forwards on its main thread in sigtimedwait() with no thread of sigkit's, the handler build on its own "
    "thread in poll()") {
  in_child([] {
    own_group();
    wrapped w;
    const pid_t pid = w.p.pid();
#if defined(SIGKIT_TEST_VIA_HANDLER)
    constexpr bool via_handler = true;
#else
    constexpr bool via_handler = false;
#endif
    long main_call = -1;      // the main thread's wait
    bool other_wait = false;  // another thread (not a sanitizer's: those sleep otherwise) in poll() or sigtimedwait()
    REQUIRE(sigkit_test::wait_until(
        [&] {
          main_call = -1;
          other_wait = false;
          for (const auto& [tid, nr] : sigkit_test::thread_syscalls(pid)) {
            if (tid == pid && sigkit_test::is_signal_wait(nr)) main_call = nr;
            if (tid != pid && sigkit_test::is_signal_wait(nr)) other_wait = true;
          }
          return via_handler ? other_wait : main_call == SYS_rt_sigtimedwait;
        },
        5s));
    if (!via_handler) CHECK_FALSE(other_wait);
    // Either way it forwards.
    REQUIRE(::kill(pid, SIGUSR1) == 0);
    CHECK(w.p.line_starting("sig SIGUSR1 ").has_value());
  });
}

// Issue 15, fixes 1 and 2: `kill -IO` killed sigkit-run (SIGIO was left out
// of all_forwardable() and kept its default action), leaving the command
// running; `kill -CONT` reached a running command only through the
// kernel's group delivery, never with --group or --session; and 32, glibc's
// SIGCANCEL, which no sigaction() call of glibc can set, killed it too.
TEST_CASE("no signal kills sigkit-run while its command runs: SIGIO and SIGCONT are forwarded in every mode") {
  in_child([] {
    own_group();
    for (const auto& mode : std::vector<std::vector<std::string>>{{}, {"--group"}, {"--session"}}) {
      CAPTURE(mode.empty() ? std::string("plain") : mode.front());
      wrapped w(mode);
      for (const int signo : {SIGIO, SIGCONT}) {
        const std::string name(sigkit::signal{signo}.name());
        REQUIRE(::kill(w.p.pid(), signo) == 0);
        const auto got = w.p.line_starting("sig " + name + " ");
        CHECK_MESSAGE(got.has_value(), name << " did not reach the command");
        if (got) CHECK(field_ll(*got, "from") == w.p.pid());
        CHECK(count_of(w.flush(), name) == 0);  // once
      }
      // The C library's reserved signals (32 and 33 with glibc) and every
      // other signal number: sigkit-run survives each.
      for (int signo = 1; signo < NSIG; ++signo) {
        if (signo == SIGKILL || signo == SIGSTOP || signo == SIGTSTP || signo == SIGTTIN || signo == SIGTTOU) continue;
        if (sigkit::signal{signo}.synchronous() && sigkit_test::under_tsan) continue;  // see the faults case below
        CAPTURE(signo);
        REQUIRE(::kill(w.p.pid(), signo) == 0);
        // Wait for the forwarded copy (all but SIGCHLD and the C library's
        // reserved ones): the ping goes to the command directly and may
        // overtake it, and a copy still on its way when stdin closes below
        // found the command exiting, its handlers gone, and killed it.
        if (sigkit::signal{signo}.catchable() && signo != SIGCHLD)
          CHECK_MESSAGE(w.p.line_starting("sig " + std::string(sigkit::signal{signo}.name()) + " ").has_value(),
                        "not forwarded");
        (void)w.flush();
        const int state = sigkit_test::proc_state(w.p.pid());
        REQUIRE_MESSAGE((state != 'Z' && state != 0), "sigkit-run died of signal " << signo);
      }
      w.p.close_stdin();
      const int st = w.p.wait();
      CHECK(WIFEXITED(st));
      CHECK(WEXITSTATUS(st) == 0);
    }
  });
}

TEST_CASE("--rewrite FROM:TO forwards FROM as TO, TO 0 drops FROM, and a bad rule is refused with 125") {
  in_child([] {
    own_group();
    {
      wrapped w({"--rewrite", "TERM:QUIT", "--rewrite", "USR1:0", "--rewrite", std::to_string(SIGUSR1) + ":USR2",
                 "--rewrite", "HUP:INT", "--rewrite", "1:2"});
      REQUIRE(::kill(w.p.pid(), SIGTERM) == 0);
      CHECK(w.p.line_starting("sig SIGQUIT ").has_value());
      REQUIRE(::kill(w.p.pid(), SIGUSR1) == 0);  // by number: the later rule for SIGUSR1 wins
      CHECK(w.p.line_starting("sig SIGUSR2 ").has_value());
      REQUIRE(::kill(w.p.pid(), SIGHUP) == 0);
      CHECK(w.p.line_starting("sig SIGINT ").has_value());
      const auto extra = w.flush();
      CHECK(count_of(extra, "SIGTERM") + count_of(extra, "SIGUSR1") + count_of(extra, "SIGHUP") == 0);
    }
    {
      wrapped w({"--rewrite", "USR1:0", "--signals", "INT"});  // received although not in --signals
      REQUIRE(::kill(w.p.pid(), SIGUSR1) == 0);
      REQUIRE(::kill(w.p.pid(), SIGINT) == 0);
      CHECK(w.p.line_starting("sig SIGINT ").has_value());
      CHECK(count_of(w.flush(), "SIGUSR1") == 0);
      CHECK(sigkit_test::proc_state(w.p.pid()) != 'Z');
    }
    if (!sigkit_test::under_tsan) {  // a user-sent fault: see the faults case below
      wrapped w({"--rewrite", "SYS:HUP"});
      REQUIRE(::kill(w.p.pid(), SIGSYS) == 0);
      CHECK(w.p.line_starting("sig SIGHUP ").has_value());
      CHECK(count_of(w.flush(), "SIGSYS") == 0);
    }
    const auto refused = [](const std::string& rule, const std::string& message) {
      process p({"/bin/sh", "-c", tool() + " --rewrite '" + rule + "' -- true 2>&1"});
      const auto line = p.line_starting("");
      CHECK_MESSAGE(WEXITSTATUS(p.wait()) == 125, rule);
      CHECK_MESSAGE(line.value_or("").find(message) != std::string::npos, rule << ": " << line.value_or(""));
    };
    refused("TERM", "bad --rewrite 'TERM' (use FROM:TO");
    refused("15::12", "bad --rewrite");
    refused("herp:derp", "unknown signal 'herp'");
    refused("15:derp", "unknown signal 'derp'");
    refused("KILL:HUP", "cannot rewrite SIGKILL as SIGHUP: it cannot be caught");
    refused("CHLD:HUP", "SIGCHLD is never forwarded");
    refused("1:32", "reserved by the C library");
  });
}

TEST_CASE("a kill() of the forwarder is forwarded exactly once") {
  in_child([] {
    own_group();
    wrapped w;
    for (const int signo : {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGRTMIN + 3}) {
      REQUIRE(::kill(w.p.pid(), signo) == 0);
      REQUIRE(w.p.line_starting("sig " + std::string(sigkit::signal{signo}.name()) + " ").has_value());
      CHECK(w.flush().empty());
    }
  });
}

TEST_CASE("a child that signals its own process group sees the signal once and causes no loop") {
  in_child([] {
    own_group();
    wrapped w;
    w.p.write("kill0 2\n");  // kill(0, SIGINT): reaches the forwarder too
    REQUIRE(w.p.line_starting("sig SIGINT ").has_value());
    // Anything the forwarder would bounce back is sent before a later
    // forwarded signal, and pending standard signals are delivered lowest first.
    REQUIRE(::kill(w.p.pid(), SIGUSR2) == 0);
    REQUIRE(w.p.line_starting("sig SIGUSR2 ").has_value());
    CHECK(count_of(w.flush(), "SIGINT") == 0);
  });
}

// A fault sent before the forwarder knew its child's pid used to kill the
// forwarder (one run in three); now it is kept and forwarded on attach().
// Under ThreadSanitizer a user-sent synchronous signal can hit a known TSan
// runtime bug: "CHECK failed: tsan_interceptors_posix.cpp:1983
// ((thr->slot)) != (0)" in CallUserSignalHandler, when the signal lands on a
// thread waiting in the runtime's SlotAttachAndLock
// (github.com/google/sanitizers/issues/1541, open; clang 14 here). It killed
// sigkit-run in one CI run of five; this case runs in every other build.
#if defined(SIGKIT_TEST_TSAN)
#define SIGKIT_FAULTS_DECORATOR *doctest::skip()
#else
#define SIGKIT_FAULTS_DECORATOR
#endif
TEST_CASE("user-sent SIGSEGV, SIGABRT and SIGSYS are forwarded and the forwarder survives" SIGKIT_FAULTS_DECORATOR) {
  in_child([] {
    own_group();
    wrapped w;
    for (const int signo : {SIGSEGV, SIGABRT, SIGSYS, SIGBUS, SIGFPE, SIGILL, SIGTRAP}) {
      REQUIRE(::kill(w.p.pid(), signo) == 0);
      CHECK_MESSAGE(w.p.line_starting("sig " + std::string(sigkit::signal{signo}.name()) + " ").has_value(),
                    sigkit::signal{signo}.name() << " not forwarded");
    }
    CHECK(sigkit_test::proc_state(w.p.pid()) != 'Z');
    w.p.close_stdin();
    CHECK(WIFEXITED(w.p.wait()));
  });
}

// Exit mirroring and reaping do not depend on how signals are dequeued:
// not repeated in the _via_handler build.
#if !defined(SIGKIT_TEST_VIA_HANDLER)
// Every exit code in the g++ and clang builds. In the sanitizer builds, where
// each start of sigkit-run pays the runtime's start-up (256 took 60 to 80 s
// on a 2-core machine), the boundaries and a few between: the code path is
// the same for every value.
namespace {
std::vector<int> exit_codes_to_check() {
  std::vector<int> codes;
#if defined(SIGKIT_TEST_SANITIZED)
  codes = {0, 1, 2, 42, 124, 125, 126, 127, 128, 129, 137, 143, 200, 254, 255};
#else
  for (int code = 0; code < 256; ++code) codes.push_back(code);
#endif
  return codes;
}
}  // namespace

TEST_CASE("exit codes 0..255 and fatal signals are mirrored, exec failures are 127, 126, 125") {
  in_child(
      [] {
        own_group();
        for (const int code : exit_codes_to_check()) {
          CAPTURE(code);
          process p({tool(), "--", "/bin/sh", "-c", "exit " + std::to_string(code)});
          const int st = p.wait();
          REQUIRE(WIFEXITED(st));
          CHECK(WEXITSTATUS(st) == code);
        }
        for (const int signo : {SIGTERM, SIGINT, SIGQUIT, SIGKILL, SIGUSR1}) {
          CAPTURE(signo);
          const std::string cmd = "kill -" + std::to_string(signo) + " $$";
          process p({tool(), "--", "/bin/sh", "-c", cmd});
          const int st = p.wait();
          REQUIRE(WIFSIGNALED(st));
          CHECK(WTERMSIG(st) == signo);
          CHECK_FALSE(WCOREDUMP(st));  // core dumps disabled when mirroring
          process q({tool(), "--shell-code", "--", "/bin/sh", "-c", cmd});
          const int st2 = q.wait();
          REQUIRE(WIFEXITED(st2));
          CHECK(WEXITSTATUS(st2) == 128 + signo);
        }
        const auto run_sh = [](const std::string& line) {
          process p({"/bin/sh", "-c", line + " 2>&1"});
          auto out = p.line_starting("");
          return std::make_pair(WEXITSTATUS(p.wait()), out.value_or(""));
        };
        auto [c127, m127] = run_sh(tool() + " -- no-such-command-sigkit");
        CHECK(c127 == 127);
        CHECK(m127 == "sigkit-run: no-such-command-sigkit: command not found");
        // An empty command name is not found (ENOENT), as for execvp; it
        // used to be tried as "<dir>/" in every PATH directory (EACCES, 126).
        auto [e127, n127] = run_sh(tool() + " -- ''");
        CHECK(e127 == 127);
        CHECK(n127 == "sigkit-run: : command not found");
        auto [c126, m126] = run_sh(tool() + " -- /etc/passwd");
        CHECK(c126 == 126);
        CHECK(m126 == "sigkit-run: /etc/passwd: cannot execute: Permission denied");
        auto [c125, m125] = run_sh(tool() + " --bogus -- true");
        CHECK(c125 == 125);
        CHECK(m125 == "sigkit-run: unknown option '--bogus' (see --help)");
        auto [d125, n125] = run_sh(tool() + " --kill-after 5x -- true");
        CHECK(d125 == 125);
        CHECK(n125.find("bad duration unit") != std::string::npos);
      },
      240s);  // 266 runs of sigkit-run: 7 s in the dev build, 80 s under TSan, 90+ s with TSan on a loaded machine
}

#endif  // !SIGKIT_TEST_VIA_HANDLER

// `nohup sigkit-run cmd`: cmd starts with SIGHUP ignored, as under tini, and
// survives one (issue 13, defect 3: it died of it, exit 129).
TEST_CASE("under nohup the command starts with SIGHUP ignored and survives it") {
  in_child([] {
    own_group();
    process p({"nohup", tool(), "--", "/bin/sh", "-c", "kill -HUP $$; echo alive"});
    CHECK(p.line_starting("alive") == std::optional<std::string>("alive"));
    const int st = p.wait();
    CHECK((WIFEXITED(st) && WEXITSTATUS(st) == 0));
  });
}

TEST_CASE("kill_after kills a child that ignores the request, and a second request kills at once") {
  in_child([] {
    own_group();
    {
      const auto t0 = std::chrono::steady_clock::now();
      wrapped w({"--kill-after", "200ms"});
      REQUIRE(::kill(w.p.pid(), SIGTERM) == 0);
      REQUIRE(w.p.line_starting("sig SIGTERM ").has_value());  // caught, ignored
      const int st = w.p.wait();
      const auto took = std::chrono::steady_clock::now() - t0;
      REQUIRE(WIFSIGNALED(st));
      CHECK(WTERMSIG(st) == SIGKILL);
      CHECK(took >= 200ms);
    }
    {
      wrapped w({"--kill-after", "60s"});
      const auto t0 = std::chrono::steady_clock::now();
      REQUIRE(::kill(w.p.pid(), SIGINT) == 0);
      REQUIRE(w.p.line_starting("sig SIGINT ").has_value());
      REQUIRE(::kill(w.p.pid(), SIGTERM) == 0);
      const int st = w.p.wait(10s);
      REQUIRE(WIFSIGNALED(st));
      CHECK(WTERMSIG(st) == SIGKILL);
      CHECK(std::chrono::steady_clock::now() - t0 < 10s);
    }
  });
}

TEST_CASE("time the child spends stopped does not count toward kill_after") {
  in_child([] {
    own_group();
    wrapped w({"--kill-after", "300ms", "--no-job-control"});
    REQUIRE(::kill(w.p.pid(), SIGTERM) == 0);
    REQUIRE(w.p.line_starting("sig SIGTERM ").has_value());
    REQUIRE(::kill(w.child, SIGSTOP) == 0);
    REQUIRE(sigkit_test::wait_state(w.child, 'T'));
    std::this_thread::sleep_for(700ms);  // far beyond the 300 ms: must not fire while stopped
    CHECK_MESSAGE(sigkit_test::proc_state(w.child) == 'T', "killed while stopped");
    REQUIRE(::kill(w.child, SIGCONT) == 0);
    const int st = w.p.wait();
    REQUIRE(WIFSIGNALED(st));
    CHECK(WTERMSIG(st) == SIGKILL);
  });
}

TEST_CASE("a terminating request for a stopped child is followed by SIGCONT so it can act") {
  in_child([] {
    own_group();
    wrapped w({"--no-job-control"});
    REQUIRE(::kill(w.child, SIGSTOP) == 0);
    REQUIRE(sigkit_test::wait_state(w.child, 'T'));
    REQUIRE(::kill(w.p.pid(), SIGTERM) == 0);
    CHECK(w.p.line_starting("sig SIGTERM ").has_value());
    CHECK(sigkit_test::wait_state(w.child, 'T', true));
  });
}

TEST_CASE("job control: a child stopped from outside stops the forwarder, and continuing it continues the child") {
  in_child([] {
    own_group();
    wrapped w;
    REQUIRE(::kill(w.child, SIGSTOP) == 0);
    CHECK_MESSAGE(sigkit_test::wait_state(w.p.pid(), 'T'), "the forwarder did not stop with its child");
    REQUIRE(::kill(w.p.pid(), SIGCONT) == 0);
    CHECK_MESSAGE(sigkit_test::wait_state(w.child, 'T', true), "SIGCONT did not reach the stopped child");
    CHECK(sigkit_test::wait_state(w.p.pid(), 'T', true));
    // Once: the SIGCONT that continued the forwarder is not forwarded again.
    CHECK(w.p.line_starting("sig SIGCONT ").has_value());
    CHECK(count_of(w.flush(), "SIGCONT") == 0);
    // A forwarded SIGTSTP stops the child, and so the forwarder.
    REQUIRE(::kill(w.p.pid(), SIGTSTP) == 0);
    REQUIRE(w.p.line_starting("sig SIGTSTP ").has_value());  // the recorder catches it: nobody stops
    CHECK(sigkit_test::proc_state(w.p.pid()) != 'T');
  });
}

TEST_CASE("in its own group a child is stopped with SIGSTOP, and the group is signalled") {
  in_child([] {
    own_group();
    wrapped w({"--group"});
    REQUIRE(::getpgid(w.child) == w.child);
    REQUIRE(::kill(w.p.pid(), SIGTSTP) == 0);  // forwarded as SIGSTOP: an own group may be orphaned
    // Both stay stopped. (The forwarder used to stop itself with
    // kill(getpid()), which another of its threads could take, and then
    // continued the child before its own stop had happened.)
    CHECK(sigkit_test::wait_state(w.p.pid(), 'T'));
    CHECK(sigkit_test::wait_state(w.child, 'T'));
    CHECK(sigkit_test::proc_state(w.p.pid()) == 'T');
    CHECK(sigkit_test::proc_state(w.child) == 'T');
    REQUIRE(::kill(w.p.pid(), SIGCONT) == 0);
    CHECK(sigkit_test::wait_state(w.child, 'T', true));
    // The child runs again before its recorder has reported the SIGCONT:
    // wait for that line, and only then send SIGUSR1 (pending together,
    // the lower-numbered SIGUSR1 would be reported first).
    CHECK(w.p.line_starting("sig SIGCONT ").has_value());
    REQUIRE(::kill(w.p.pid(), SIGUSR1) == 0);
    CHECK(w.p.line_starting("sig SIGUSR1 ").has_value());
    CHECK(count_of(w.p.lines(), "SIGCONT") == 1);  // the forwarder's continue, not a second one
  });
}

#if !defined(SIGKIT_TEST_VIA_HANDLER)
TEST_CASE("--reap --wait-descendants reaps orphans and waits for them") {
  in_child([] {
    own_group();
    // This process is a subreaper too: an orphan that sigkit-run did not
    // take would be reparented here and stay as our zombie, instead of
    // being reaped out of sight by init.
    REQUIRE(::prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
    const auto t0 = std::chrono::steady_clock::now();
    process p({tool(), "--reap", "--wait-descendants", "--", "/bin/sh", "-c", "sleep 0.5 & echo orphan $!; exit 0"});
    const auto line = p.line_starting("orphan ");
    REQUIRE(line.has_value());
    const pid_t orphan = std::stoi(line->substr(7));
    // Once the shell is gone, the orphan's parent is sigkit-run, not us. (On
    // a loaded machine the orphan may be gone before we look; the zombie
    // check below still tells.)
    pid_t parent = -1;
    const bool settled = sigkit_test::wait_until(
        [&] {
          const pid_t pp = sigkit_test::proc_ppid(orphan);
          parent = pp == 0 ? -1 : pp;
          return parent == -1 || parent == p.pid() || parent == ::getpid();
        },
        5s);
    CHECK(settled);
    if (parent != -1) CHECK(parent == p.pid());
    const int st = p.wait();
    CHECK(WIFEXITED(st));
    CHECK(WEXITSTATUS(st) == 0);
    CHECK(std::chrono::steady_clock::now() - t0 >= 500ms);
    errno = 0;
    CHECK(::kill(orphan, 0) == -1);  // reaped: not even a zombie (it would be ours)
    CHECK(errno == ESRCH);
    int ignored = 0;
    CHECK(::waitpid(-1, &ignored, WNOHANG) == -1);  // no child of ours left, zombie or not
  });
}

// Issue 15, fix 7: with --session, the rest of the command's session (here a
// job in a process group of its own, made by bash's job control) got
// nothing when the command exited, and the grace period could not be set.
TEST_CASE("--session --reap --wait-descendants --grace: the rest of the session gets SIGTERM, stragglers SIGKILL") {
  in_child([] {
    own_group();
    const std::string job1 =
        "sh -c 'trap \"echo job1 got TERM; exit 0\" TERM; echo job1 ready; while :; do sleep 0.05; done'";
    const std::string job2 =
        "sh -c 'trap \"echo job2 ignores TERM\" TERM; echo job2 ready $$; while :; do sleep 0.05; done'";
    process p({tool(), "--session", "--reap", "--wait-descendants", "--grace", "500ms", "--", "bash", "-c",
               "set -m; " + job1 + " & " + job2 + " & read x; exit 0"});
    // The two jobs start in either order: look for each among every line.
    const auto seen = [&](const std::string& prefix) -> std::optional<std::string> {
      for (const auto& l : p.lines())
        if (l.rfind(prefix, 0) == 0) return l;
      return std::nullopt;
    };
    for (int n = 0; n < 2; ++n) REQUIRE(p.line_starting("job", 20s).has_value());
    REQUIRE(seen("job1 ready").has_value());
    const auto ready2 = seen("job2 ready ");
    REQUIRE(ready2.has_value());
    const pid_t job2_pid = std::stoi(ready2->substr(11));
    CHECK(::getpgid(job2_pid) == job2_pid);  // its own group: only the session reaches it
    const auto go = std::chrono::steady_clock::now();
    p.write("go\n");  // the command exits now
    p.close_stdin();
    CHECK_FALSE(p.line_starting("\n", 10s).has_value());  // reads every line, until the last writer is gone
    const int st = p.wait();
    const auto took = std::chrono::steady_clock::now() - go;
    CHECK(WIFEXITED(st));
    CHECK(WEXITSTATUS(st) == 0);
    CHECK(seen("job1 got TERM").has_value());
    CHECK(seen("job2 ignores TERM").has_value());
    CHECK(took >= 500ms);  // the grace period, then SIGKILL
    errno = 0;
    CHECK(::kill(job2_pid, 0) == -1);  // killed and reaped
    CHECK(errno == ESRCH);
  });
}

TEST_CASE("--term-rest signals the rest of the command's group when it exits and does not wait") {
  in_child([] {
    own_group();
    for (const std::string signal : {"TERM", "USR1"}) {
      CAPTURE(signal);
      std::vector<std::string> argv{tool(), "--group", "--term-rest"};
      if (signal != "TERM") argv.insert(argv.end(), {"--rewrite", "TERM:" + signal});  // what is sent is rewritten too
      argv.insert(argv.end(), {"--", "sh", "-c",
                               "sh -c 'trap \"echo bg got " + signal + "; exit 0\" " + signal +
                                   "; echo bg ready $$; while :; do sleep 0.05; done' & read x; exit 0"});
      process p(argv);
      const auto ready = p.line_starting("bg ready ");
      REQUIRE(ready.has_value());
      p.write("go\n");
      const int st = p.wait();
      CHECK(WIFEXITED(st));
      CHECK(WEXITSTATUS(st) == 0);
      CHECK(p.line_starting("bg got " + signal).has_value());
      const pid_t bg = std::stoi(ready->substr(9));
      (void)sigkit_test::wait_until([&] { return ::kill(bg, 0) != 0; }, 5s);  // it exits by itself (reaped by init)
    }
    process bad({"/bin/sh", "-c", tool() + " --term-rest -- true 2>&1"});
    CHECK(bad.line_starting("").value_or("") == "sigkit-run: --term-rest needs --group or --session");
    CHECK(WEXITSTATUS(bad.wait()) == 125);
  });
}

// A shell script for the orphan cases: makes an orphan (a `sleep 0.2`
// whose parent shell exits at once; it is re-parented to the nearest
// subreaper, or to PID 1), waits until it has exited, then prints
// "reaped" if it is gone within 5 s, "zombie" if it stays a zombie.
const char* const orphan_script =
    "o=$(sh -c 'sleep 0.2 >/dev/null 2>&1 & echo $!'); i=0; "
    "while [ $i -lt 100 ] && [ -e /proc/$o ]; do sleep 0.05; i=$((i+1)); done; "
    "if [ -e /proc/$o ]; then echo zombie $(grep State /proc/$o/status); else echo reaped; fi";

/// True if this test can make a pid namespace (root, util-linux's unshare).
bool can_unshare() {
  return ::geteuid() == 0 && ::access("/usr/bin/unshare", X_OK) == 0 &&
         std::system("/usr/bin/unshare --pid --fork --mount-proc true >/dev/null 2>&1") == 0;  // NOLINT(cert-env33-c)
}

// Issue 15, fix 5: as PID 1 sigkit-run reaped only with --reap, so an
// orphan's zombie stayed in a container for ever (dumb-init's test-zombies).
TEST_CASE("as PID 1 of a pid namespace sigkit-run reaps orphans without --reap and forwards a SIGTERM from outside" *
          doctest::skip(!can_unshare())) {
  in_child([] {
    own_group();
    {
      process p({"/usr/bin/unshare", "--pid", "--fork", "--mount-proc", tool(), "--", "/bin/sh", "-c", orphan_script});
      const auto line = p.line_starting("", 10000ms);
      CHECK_MESSAGE(line.value_or("") == "reaped", "the orphan as PID 1's child: " << line.value_or("(nothing)"));
      const int st = p.wait();
      CHECK(WIFEXITED(st));
      CHECK(WEXITSTATUS(st) == 0);
    }
    {
      // A SIGTERM sent from outside the namespace (sender pid 0 inside)
      // reaches PID 1 only because it catches it; it is forwarded, the
      // command dies of it, and PID 1, which cannot die of a signal it
      // sends itself, exits 128 + 15 at once.
      process p({"/usr/bin/unshare", "--pid", "--fork", "--mount-proc", tool(), "--", "/bin/sh", "-c",
                 "trap 'echo got TERM; exit 3' TERM; echo ready; while :; do sleep 0.05; done"});
      REQUIRE(p.line_starting("ready", 10000ms).has_value());
      std::error_code ec;
      const auto kids = sigkit::inspect_children(p.pid(), ec);  // unshare's child: sigkit-run, PID 1 inside
      REQUIRE(kids.size() == 1);
      REQUIRE(::kill(kids.front(), SIGTERM) == 0);
      CHECK(p.line_starting("got TERM").has_value());
      const int st = p.wait();
      CHECK(WIFEXITED(st));
      CHECK(WEXITSTATUS(st) == 3);
    }
    {
      process p(
          {"/usr/bin/unshare", "--pid", "--fork", "--mount-proc", tool(), "--", "/bin/sh", "-c", "kill -TERM $$"});
      const auto t0 = std::chrono::steady_clock::now();
      const int st = p.wait();
      CHECK(((WIFEXITED(st) && WEXITSTATUS(st) == 128 + SIGTERM) || (WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM)));
      CHECK(std::chrono::steady_clock::now() - t0 < 5s);
    }
  });
}

// The same for a subreaper attribute sigkit-run was started with (tini's
// test/subreaper-proxy.py): orphans came to it and stayed zombies.
TEST_CASE("started as a child subreaper, sigkit-run reaps orphans without --reap") {
  in_child([] {
    own_group();
    process p({sigkit_test::helper_path("subreaper_exec"), tool(), "--", "/bin/sh", "-c", orphan_script});
    const auto line = p.line_starting("", 10000ms);
    CHECK_MESSAGE(line.value_or("") == "reaped", "the orphan: " << line.value_or("(nothing)"));
    const int st = p.wait();
    CHECK(WIFEXITED(st));
    CHECK(WEXITSTATUS(st) == 0);
  });
}

// Issue 15, fix 4: sigkit-run started the command with every signal at its
// default and an empty mask, whatever it inherited: `nohup sigkit-run cmd`
// died of SIGHUP (129), where it lives under tini and without a shim.
TEST_CASE("signals ignored and blocked when sigkit-run started are ignored and blocked in the command") {
  in_child([] {
    own_group();
    // sigkit-run [opts] -- cmd, started with SIGHUP ignored and SIGUSR1
    // blocked, as nohup and a parent's mask would leave it.
    const auto start = [](std::vector<std::string> argv) {
      argv.insert(argv.begin(), tool());
      int out[2];
      REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      const pid_t pid = ::fork();
      REQUIRE(pid >= 0);
      if (pid == 0) {
        ::dup2(out[1], 1);
        sigkit_test::reset_signal_state();
        ::signal(SIGHUP, SIG_IGN);
        sigset_t m;
        sigemptyset(&m);
        sigaddset(&m, SIGUSR1);
        ::sigprocmask(SIG_SETMASK, &m, nullptr);
        ::execv(args[0], args.data());
        ::_exit(127);
      }
      ::close(out[1]);
      return std::pair{pid, out[0]};
    };
    const auto read_line = [](int fd) {
      std::string line;
      char c = 0;
      for (;;) {
        const ssize_t n = ::read(fd, &c, 1);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0 || c == '\n') return line;
        line += c;
      }
    };
    const std::string status_lines = "grep -E '^Sig(Ign|Blk)' /proc/$$/status | tr '\\n' ' '; echo";
    for (const bool reset : {false, true}) {
      CAPTURE(reset);
      std::vector<std::string> argv;
      if (reset) argv.push_back("--reset-signals");
      argv.insert(argv.end(), {"--", "/bin/sh", "-c", status_lines});  // the shell's own state
      auto [pid, fd] = start(argv);
      const std::string line = read_line(fd);
      ::close(fd);
      const int st = sigkit_test::wait_pid_for(pid, 10000ms);
      CHECK(WIFEXITED(st));
      CHECK(WEXITSTATUS(st) == 0);
      // SIGHUP is bit 0, SIGUSR1 bit 9; glibc's reserved 32 and 33 are not
      // passed on (sigkit-run ignores them itself).
      if (reset)
        CHECK(line == "SigBlk:\t0000000000000000 SigIgn:\t0000000000000000 ");
      else
        CHECK(line == "SigBlk:\t0000000000000200 SigIgn:\t0000000000000001 ");
    }
    // nohup sigkit-run: the forwarded SIGHUP does not kill the command, a
    // SIGTERM does.
    const auto started = start({"--", "/bin/sh", "-c", "echo ready; while :; do sleep 0.05; done"});
    const pid_t pid = started.first;  // not a structured binding: clang 14 cannot capture one
    const int fd = started.second;
    REQUIRE(read_line(fd) == "ready");
    REQUIRE(::kill(pid, SIGHUP) == 0);
    CHECK_FALSE(sigkit_test::wait_until([&] { return sigkit_test::proc_state(pid) == 'Z'; }, 300ms));
    REQUIRE(::kill(pid, SIGTERM) == 0);
    const int st = sigkit_test::wait_pid_for(pid, 10000ms);
    ::close(fd);
    CHECK(WIFSIGNALED(st));
    CHECK(WTERMSIG(st) == SIGTERM);
  });
}

#endif  // !SIGKIT_TEST_VIA_HANDLER

// Under ThreadSanitizer, the handler path (the _via_handler build) hangs
// here in about 3 runs of 4, at this commit and at 7697749 before any of
// the forwarder changes: /proc shows every thread of the hung sigkit-run
// with all signals blocked and SIGCHLD and SIGCONT pending for the process,
// a mask sigkit never leaves behind (spawn() blocks all only around fork()
// and restores it). Native (dev, clang: 1000 rounds) and ASan (200 rounds)
// builds never hang, and the signalfd path passes under TSan too (it reads
// process-pending signals whatever the mask), so the TSan runtime's signal
// deferral is the suspect; the case is skipped in that one combination.
// (That deferral demonstrably loses signals: a 20-line TSan program with an
// SA_SIGINFO handler writing to an eventfd it polls missed 30 of 400 SIGINTs
// sent right after it started; see tests/CMakeLists.txt, helper_recorder.)
#if defined(SIGKIT_TEST_VIA_HANDLER) && defined(SIGKIT_TEST_TSAN)
#define SIGKIT_HAMMER_DECORATOR *doctest::skip()
#else
#define SIGKIT_HAMMER_DECORATOR
#endif
TEST_CASE("spawning many times while SIGTSTP and SIGCONT hammer the group never hangs" SIGKIT_HAMMER_DECORATOR) {
  in_child(
      [] {
        own_group();  // so the hammer spares the test runner
#if defined(SIGKIT_TEST_SANITIZED)
        // LeakSanitizer's exit-time check stops every thread of the exiting
        // sigkit-run through a ptrace()ing tracer task; under this
        // TSTP/CONT storm tracer and process deadlock (seen in the ASan
        // build: tracer asleep, process spinning for ever). Leaks are
        // checked by every other test; not by this one.
        {
          const char* asan = std::getenv("ASAN_OPTIONS");  // NOLINT(concurrency-mt-unsafe): before any thread
          const std::string opts = std::string(asan != nullptr ? asan : "") + ":detect_leaks=0";
          ::setenv("ASAN_OPTIONS", opts.c_str(), 1);  // NOLINT(concurrency-mt-unsafe)
        }
#endif
        std::atomic<bool> stop{false};
        sigset_t stops;
        sigemptyset(&stops);
        sigaddset(&stops, SIGTSTP);
        sigaddset(&stops, SIGCONT);
        REQUIRE(::pthread_sigmask(SIG_BLOCK, &stops, nullptr) == 0);  // the test itself ignores the hammer
        struct sigaction ign {};
        ign.sa_handler = SIG_IGN;
        ::sigaction(SIGTSTP, &ign, nullptr);
        std::atomic<pid_t> current{0};
        std::jthread hammer([&] {
          while (!stop) {
            const pid_t p = current.load();
            if (p > 0) {
              // The forwarder itself, then its whole group (the forwarder,
              // its child, and this process, which ignores them).
              ::kill(p, SIGTSTP);
              ::kill(p, SIGCONT);
              ::kill(0, SIGTSTP);
              ::kill(0, SIGCONT);
            }
            // A short pause: without it the child is stopped again before it
            // can run, and each round takes seconds on a loaded machine.
            std::this_thread::sleep_for(20us);
          }
        });
        int hung = 0, rounds = 0, slow = 0;
        std::string hung_state;
        auto slowest = std::chrono::steady_clock::duration::zero();
        const auto t0 = std::chrono::steady_clock::now();
        for (; rounds < spawn_rounds && hung == 0; ++rounds) {
          const auto r0 = std::chrono::steady_clock::now();
          // Every other round in --group mode, where the hammer's group
          // signals miss the child and only the forwarder can continue it.
          process p(rounds % 2 == 0 ? std::vector<std::string>{tool(), "--", "true"}
                                    : std::vector<std::string>{tool(), "--group", "--", "true"});
          const pid_t forwarder = p.pid();
          current = forwarder;
          if (!sigkit_test::wait_gone_or(forwarder, 10s)) {
            // Still there after 10 s of hammering: stop hammering and
            // continue the forwarder, as a shell's fg would. A forwarder
            // that works continues its child, which then exits.
            ++slow;
            current = 0;
            ::kill(forwarder, SIGCONT);
            if (!sigkit_test::wait_gone_or(forwarder, 10s)) {
              hung_state = sigkit_test::thread_states(forwarder) + sigkit_test::backtraces(forwarder);
              ++hung;
            }
          }
          current = 0;
          (void)p.wait(10s);
          slowest = std::max(slowest, std::chrono::steady_clock::now() - r0);
        }
        stop = true;
        const auto ms = [](auto d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); };
        MESSAGE(rounds << " rounds in " << ms(std::chrono::steady_clock::now() - t0) << " ms, slowest " << ms(slowest)
                       << " ms, " << slow << " needed the hammer to stop");
        CHECK_MESSAGE(hung == 0, "a sigkit-run was still there 10 s after the hammer stopped and it was continued: "
                                     << hung_state);
      },
      300s);
}
