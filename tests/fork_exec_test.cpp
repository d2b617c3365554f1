// The fork/exec disposition matrix (docs/fork-and-exec.md): for every
// disposition SIGHUP had before sigkit (SIG_DFL, SIG_IGN, a foreign handler
// with and without SA_SIGINFO), every sigkit object alive at the fork
// (stream, flag, registry, shutdown, trap, scoped_action, ignore,
// use_default), and every way of making a child (plain fork, fork + exec,
// child_process::spawn with and without reset_signals), the child sees
// exactly what the table in docs/fork-and-exec.md says. The expected values
// below are that table, row for row.
#include <sigkit/action.hpp>
#include <sigkit/child_process.hpp>
#include <sigkit/flag.hpp>
#include <sigkit/registry.hpp>
#include <sigkit/shutdown.hpp>
#include <sigkit/stream.hpp>
#include <sigkit/trap.hpp>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "support.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using sigkit_test::in_child;

namespace {

enum class before { dfl, ign, handler, siginfo_handler };
enum class object { stream, flag, registry, shutdown, trap, scoped_action, ignore, use_default };
enum class path { fork_only, fork_exec, spawn_reset, spawn_keep };

const char* name(before b) {
  switch (b) {
    case before::dfl:
      return "SIG_DFL";
    case before::ign:
      return "SIG_IGN";
    case before::handler:
      return "a handler";
    default:
      return "an SA_SIGINFO handler";
  }
}
const char* name(object o) {
  switch (o) {
    case object::stream:
      return "stream";
    case object::flag:
      return "flag";
    case object::registry:
      return "registry (stream + flag)";
    case object::shutdown:
      return "shutdown";
    case object::trap:
      return "trap";
    case object::scoped_action:
      return "scoped_action (a handler)";
    case object::ignore:
      return "ignore()";
    default:
      return "use_default()";
  }
}

constexpr before all_before[] = {before::dfl, before::ign, before::handler, before::siginfo_handler};
constexpr object all_objects[] = {object::stream, object::flag,          object::registry, object::shutdown,
                                  object::trap,   object::scoped_action, object::ignore,   object::use_default};

std::atomic<int> g_foreign_runs{0};
std::atomic<int> g_scoped_runs{0};
void foreign(int) { g_foreign_runs.fetch_add(1); }
void foreign_info(int, siginfo_t*, void*) { g_foreign_runs.fetch_add(1); }
void scoped(int) { g_scoped_runs.fetch_add(1); }

// Sets SIGHUP's disposition "before sigkit", with sigaction itself.
void set_before(before b) {
  struct sigaction act {};
  sigemptyset(&act.sa_mask);
  switch (b) {
    case before::dfl:
      act.sa_handler = SIG_DFL;
      break;
    case before::ign:
      act.sa_handler = SIG_IGN;
      break;
    case before::handler:
      act.sa_handler = foreign;
      break;
    case before::siginfo_handler:
      act.sa_sigaction = foreign_info;
      act.sa_flags = SA_SIGINFO;
      break;
  }
  REQUIRE(::sigaction(SIGHUP, &act, nullptr) == 0);
}

// The sigkit object, alive while this holder is.
struct holder {
  std::optional<sigkit::stream> stream;
  std::optional<sigkit::flag> flag;
  std::optional<sigkit::registry> registry;
  std::unique_ptr<sigkit::shutdown> shutdown;
  std::unique_ptr<sigkit::trap> trap;
  std::optional<sigkit::scoped_action> action;
};

void make(holder& h, object o) {
  const sigkit::signal_set hup{sigkit::hangup};
  switch (o) {
    case object::stream:
      h.stream.emplace(hup);
      break;
    case object::flag:
      h.flag.emplace(hup);
      break;
    case object::registry:
      h.registry.emplace();
      h.registry->stream(hup);
      h.registry->flag(hup);
      break;
    // Taken over even if the test runs with SIGHUP ignored since its start.
    case object::shutdown:
      h.shutdown = std::make_unique<sigkit::shutdown>(hup, sigkit::shutdown_options{.take_over_ignored = true});
      break;
    case object::trap:
      h.trap = std::make_unique<sigkit::trap>(
          hup, [] {}, sigkit::trap_options{true});
      break;
    case object::scoped_action: {
      struct sigaction act {};
      act.sa_handler = scoped;
      sigemptyset(&act.sa_mask);
      h.action.emplace(sigkit::hangup, act);
      break;
    }
    case object::ignore:
      h.action.emplace(sigkit::ignore(sigkit::hangup));
      break;
    case object::use_default:
      h.action.emplace(sigkit::use_default(sigkit::hangup));
      break;
  }
  if (h.trap) h.trap->dismiss();
}

bool is_sigkit_handler(object o) {
  return o == object::stream || o == object::flag || o == object::registry || o == object::shutdown ||
         o == object::trap;
}

// ---- The table of docs/fork-and-exec.md.

// After fork() (no exec): what the child's kernel disposition is, and what a
// SIGHUP does to it.
struct after_fork {
  std::string kind;     // "dfl", "ign", "sigkit" (sigkit's handler, inert), "scoped"
  std::string behaves;  // "dies", "ignored", "runs the previous handler", "runs the scoped handler"
};
after_fork expected_after_fork(before b, object o) {
  if (is_sigkit_handler(o)) {
    switch (b) {
      case before::dfl:
        return {"sigkit", "dies"};
      case before::ign:
        return {"ign", "ignored"};
      default:
        return {"sigkit", "runs the previous handler"};
    }
  }
  if (o == object::scoped_action) return {"scoped", "runs the scoped handler"};
  if (o == object::ignore) return {"ign", "ignored"};
  return {"dfl", "dies"};
}

// After exec (fork + exec, or spawn with reset_signals = false).
std::string expected_after_exec(before b, object o) {
  if (is_sigkit_handler(o)) return b == before::ign ? "ign" : "dfl";
  return o == object::ignore ? "ign" : "dfl";
}
// spawn with reset_signals = true: SIG_DFL for every signal, an empty mask.

// ---- Observing a child.

std::string kind_now() {
  struct sigaction cur {};
  ::sigaction(SIGHUP, nullptr, &cur);
  if (sigkit::detail::is_ours(cur)) return "sigkit";
  if (sigkit::detail::is_ignore(cur)) return "ign";
  if (!sigkit::detail::is_function(cur)) return "dfl";
  return (cur.sa_flags & SA_SIGINFO) == 0 && cur.sa_handler == scoped ? "scoped" : "foreign";
}

after_fork observe_fork() {
  int p[2];
  REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
  REQUIRE(sigkit_test::wait_other_threads_asleep());  // no sanitizer allocator lock copied held
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const std::string k = kind_now() + "\n";
    (void)!::write(p[1], k.data(), k.size());
    g_foreign_runs = 0;
    g_scoped_runs = 0;
    ::raise(SIGHUP);
    ::_exit(g_foreign_runs.load() > 0 ? 2 : g_scoped_runs.load() > 0 ? 3 : 1);
  }
  ::close(p[1]);
  std::string k;
  char c;
  while (::read(p[0], &c, 1) == 1 && c != '\n') k += c;
  ::close(p[0]);
  const int st = sigkit_test::wait_pid_for(pid, 10s);
  after_fork out{k, "?"};
  if (st == -1)
    out.behaves = "hung";
  else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGHUP)
    out.behaves = "dies";
  else if (WIFEXITED(st))
    out.behaves = WEXITSTATUS(st) == 1   ? "ignored"
                  : WEXITSTATUS(st) == 2 ? "runs the previous handler"
                  : WEXITSTATUS(st) == 3 ? "runs the scoped handler"
                                         : "exit " + std::to_string(WEXITSTATUS(st));
  return out;
}

// What the exec'd helper reported: kind per signal number, and the mask.
struct report {
  std::map<int, std::string> kind;
  std::string blocked;
};

report parse(const std::string& text) {
  report r;
  std::size_t pos = 0, nl;
  while ((nl = text.find('\n', pos)) != std::string::npos) {
    const std::string line = text.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.rfind("blocked", 0) == 0) {
      r.blocked = line.substr(7);
    } else {
      const auto sp = line.find(' ');
      if (sp != std::string::npos) r.kind[std::stoi(line.substr(0, sp))] = line.substr(sp + 1);
    }
  }
  return r;
}

std::string read_all(int fd) {
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) text.append(buf, static_cast<std::size_t>(n));
  return text;
}

report observe_exec(path how) {
  const std::string helper = sigkit_test::helper_path("disposition_report");
  int out[2];
  REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
  REQUIRE(sigkit_test::wait_other_threads_asleep());
  if (how == path::fork_exec) {
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::dup2(out[1], 1);
      char* const argv[] = {const_cast<char*>(helper.c_str()), nullptr};
      ::execv(helper.c_str(), argv);
      ::_exit(127);
    }
    ::close(out[1]);
    const std::string text = read_all(out[0]);
    ::close(out[0]);
    const int st = sigkit_test::wait_pid_for(pid, 10s);
    CHECK((st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0));
    return parse(text);
  }
  // spawn: its stdout is this process's, for the moment of the call.
  const int saved = ::fcntl(1, F_DUPFD_CLOEXEC, 3);
  ::dup2(out[1], 1);
  ::close(out[1]);
  auto c = sigkit::child_process::spawn({helper}, {.reset_signals = how == path::spawn_reset});
  ::dup2(saved, 1);
  ::close(saved);
  CHECK(c.wait().code() == 0);
  const std::string text = read_all(out[0]);
  ::close(out[0]);
  return parse(text);
}

// The kernel disposition kind of every signal here, as an exec'd program
// would see it if nothing sigkit did mattered: SIG_IGN stays, the rest
// becomes SIG_DFL.
std::map<int, std::string> exec_view_of_here() {
  std::map<int, std::string> m;
  for (int n = 1; n < NSIG; ++n) {
    struct sigaction cur {};
    if (::sigaction(n, nullptr, &cur) != 0) {
      m[n] = "invalid";
      continue;
    }
    m[n] = sigkit::detail::is_ignore(cur) ? "ign" : "dfl";
  }
  return m;
}

std::string blocked_here() {
  sigset_t mask;
  sigemptyset(&mask);
  ::pthread_sigmask(SIG_BLOCK, nullptr, &mask);
  std::string out;
  for (int n = 1; n < NSIG; ++n)
    if (sigismember(&mask, n) == 1) out += " " + std::to_string(n);
  return out;
}

// "SIGHUP: ign, wanted dfl; ..." for every signal whose kind differs; empty
// if none does.
std::string differences(const std::map<int, std::string>& got, const std::map<int, std::string>& want) {
  std::string out;
  for (int n = 1; n < NSIG; ++n) {
    const auto g = got.find(n), w = want.find(n);
    const std::string gs = g == got.end() ? "missing" : g->second, ws = w == want.end() ? "missing" : w->second;
    if (gs != ws) out += std::string(sigkit::signal{n}.name()) + ": " + gs + ", wanted " + ws + "; ";
  }
  return out;
}

// Runs `check` for every (before, object) pair, each in a forked test child
// with SIGHUP set to `before` and the object alive.
template <class F>
void for_every_pair(F check) {
  for (const before b : all_before)
    for (const object o : all_objects) {
      const std::string previous = name(b), alive = name(o);
      CAPTURE(previous);
      CAPTURE(alive);
      in_child([&] {
        set_before(b);
        holder h;
        make(h, o);
        check(b, o);
      });
    }
}

}  // namespace

TEST_CASE("after fork, the child's SIGHUP disposition and behaviour are those of docs/fork-and-exec.md") {
  for_every_pair([](before b, object o) {
    const after_fork want = expected_after_fork(b, o);
    const after_fork got = observe_fork();
    CHECK(got.kind == want.kind);
    CHECK(got.behaves == want.behaves);
  });
}

namespace {

// Blocks SIGUSR2 in this thread, so that the mask is seen to come across
// exec (or to be cleared by spawn).
void block_usr2() {
  sigset_t usr2;
  sigemptyset(&usr2);
  sigaddset(&usr2, SIGUSR2);
  REQUIRE(::pthread_sigmask(SIG_BLOCK, &usr2, nullptr) == 0);
}

// The program started `how` sees SIGHUP as the table says, every other
// signal as here (SIG_IGN stays, the rest is SIG_DFL), and this thread's mask.
void check_exec_view(path how, before b, object o) {
  block_usr2();
  auto want = exec_view_of_here();
  want[SIGHUP] = expected_after_exec(b, o);
  const report got = observe_exec(how);
  CHECK(differences(got.kind, want) == "");
  CHECK(got.blocked == blocked_here());
  CHECK(got.blocked == " " + std::to_string(SIGUSR2));
}

}  // namespace

TEST_CASE("after fork and exec, the program's dispositions and mask are those of docs/fork-and-exec.md") {
  for_every_pair([](before b, object o) { check_exec_view(path::fork_exec, b, o); });
}

TEST_CASE("spawn with reset_signals = false gives the program what fork and exec give it") {
  for_every_pair([](before b, object o) { check_exec_view(path::spawn_keep, b, o); });
}

TEST_CASE("spawn with reset_signals = true gives the program SIG_DFL everywhere and an empty mask") {
  for_every_pair([](before, object) {
    block_usr2();
    auto ign_pipe = sigkit::ignore(sigkit::pipe);  // an ignored signal too
    const report got = observe_exec(path::spawn_reset);
    for (const auto& entry : got.kind) {  // no structured binding: clang 14 cannot capture one in CAPTURE
      const int n = entry.first;
      CAPTURE(n);
      if (entry.second != "invalid") CHECK(entry.second == "dfl");
    }
    CHECK(got.blocked.empty());
  });
}

namespace {

// SIGHUP's kind as a program exec'd from here sees it.
std::string hup_after_exec() { return observe_exec(path::fork_exec).kind[SIGHUP]; }

}  // namespace

TEST_CASE("in a forked child, sigkit's layer over SIG_IGN is re-armed by a stream made there and withdrawn again") {
  in_child([] {
    set_before(before::ign);
    sigkit::stream parent_stream{{sigkit::hangup}};
    in_child([&] {
      CHECK(kind_now() == "ign");
      {
        sigkit::stream mine{{sigkit::hangup}};
        CHECK(kind_now() == "sigkit");
        ::raise(SIGHUP);
        auto e = mine.recv_for(5s);
        REQUIRE(e.has_value());
        CHECK(e->from.pid == ::getpid());
        CHECK(hup_after_exec() == "ign");  // from here too, exec keeps what was there before sigkit
        // A grandchild gets SIG_IGN back, as this child did.
        in_child([] { CHECK(kind_now() == "ign"); });
      }
      // Only the inherited (inert) subscriber is left: SIG_IGN again.
      CHECK(kind_now() == "ign");
      CHECK(hup_after_exec() == "ign");
      parent_stream.close();  // the inherited one goes too: nothing changes
      CHECK(kind_now() == "ign");
      sigkit::flag again{{sigkit::hangup}};
      ::raise(SIGHUP);
      CHECK(again.count() == 1);
    });
    // The parent is untouched.
    CHECK(kind_now() == "sigkit");
  });
}

TEST_CASE("in a forked child, scoped actions above the withdrawn layer restore it in any order") {
  in_child([] {
    set_before(before::ign);
    sigkit::stream parent_stream{{sigkit::hangup}};
    // A scoped action made in the child sits above the withdrawn layer; a
    // stream made under it re-arms the layer, and the action restores it.
    in_child([] {
      auto dfl = sigkit::use_default(sigkit::hangup);
      CHECK(kind_now() == "dfl");
      sigkit::stream mine{{sigkit::hangup}};
      CHECK(kind_now() == "dfl");
      dfl.reset();
      CHECK(kind_now() == "sigkit");
      ::raise(SIGHUP);
      CHECK(mine.recv_for(5s).has_value());
      mine.close();
      CHECK(kind_now() == "ign");
    });
    // The other order: the stream goes while the action is on top; the
    // action then puts SIG_IGN back.
    in_child([] {
      sigkit::stream mine{{sigkit::hangup}};
      auto dfl = sigkit::use_default(sigkit::hangup);
      mine.close();
      CHECK(kind_now() == "dfl");
      dfl.reset();
      CHECK(kind_now() == "ign");
      CHECK(hup_after_exec() == "ign");
    });
  });
}

TEST_CASE("a layer below sigkit's that goes changes what a forked child and an exec'd program see") {
  in_child([] {
    set_before(before::dfl);
    auto ign = sigkit::ignore(sigkit::hangup);  // sigkit's layer goes over this SIG_IGN
    sigkit::stream s{{sigkit::hangup}};
    CHECK(hup_after_exec() == "ign");
    in_child([&] {
      CHECK(kind_now() == "ign");
      ign.reset();  // the inherited scoped ignore goes: the layer now stands for SIG_DFL
      CHECK(kind_now() == "dfl");
      CHECK(hup_after_exec() == "dfl");
    });
    ign.reset();  // in the parent: sigkit's handler now chains to SIG_DFL
    CHECK(kind_now() == "sigkit");
    CHECK(hup_after_exec() == "dfl");
    in_child([] { CHECK(kind_now() == "sigkit"); });
    s.close();
    CHECK(kind_now() == "dfl");
  });
}

// Regression (issue 13, defect 4): with SIGCHLD ignored before sigkit (the
// kernel reaps exited children), a stream or flag on SIGCHLD replaced
// SIG_IGN by a handler and exited children stayed zombies. sigkit's handler
// now carries SA_NOCLDWAIT then; Linux still sends SIGCHLD to it.
TEST_CASE("with SIGCHLD ignored before sigkit, children are still reaped by the kernel and the exits still heard") {
  in_child([] {
    struct sigaction ign {};
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    REQUIRE(::sigaction(SIGCHLD, &ign, nullptr) == 0);
    for (int round = 0; round < 2; ++round) {
      CAPTURE(round);
      std::optional<sigkit::stream> s;
      std::optional<sigkit::flag> f;
      if (round == 0)
        s.emplace(sigkit::signal_set{sigkit::child});
      else
        f.emplace(sigkit::signal_set{sigkit::child});
      CHECK((sigkit::disposition_of(sigkit::child).flags & SA_NOCLDWAIT) != 0);
      const pid_t kid = ::fork();
      REQUIRE(kid >= 0);
      if (kid == 0) ::_exit(3);
      if (s) {
        auto e = s->recv_for(5s);
        REQUIRE(e.has_value());
        CHECK(e->from.pid == kid);
        CHECK(e->from.code == CLD_EXITED);
        CHECK(e->child_status == 3);
      } else {
        CHECK(sigkit_test::wait_until([&] { return f->count() == 1; }, 5s));
      }
      // Reaped by the kernel, as with SIG_IGN: never a zombie to wait for.
      int st = 0;
      errno = 0;
      CHECK(::waitpid(kid, &st, WNOHANG) == -1);
      CHECK(errno == ECHILD);
    }
    // Everything gone: SIG_IGN as before.
    CHECK(sigkit::disposition_of(sigkit::child).kind == sigkit::disposition::ign);
  });
}

TEST_CASE("with SIGCHLD at SIG_DFL before sigkit, exited children stay to be waited for") {
  in_child([] {
    sigkit::stream s{{sigkit::child}};
    CHECK((sigkit::disposition_of(sigkit::child).flags & SA_NOCLDWAIT) == 0);
    const pid_t kid = ::fork();
    REQUIRE(kid >= 0);
    if (kid == 0) ::_exit(4);
    REQUIRE(s.recv_for(5s).has_value());
    int st = 0;
    CHECK(::waitpid(kid, &st, 0) == kid);
    CHECK((WIFEXITED(st) && WEXITSTATUS(st) == 4));
  });
}

TEST_CASE("a scoped ignore of SIGCHLD under a stream: reaping follows it when it goes") {
  in_child([] {
    auto ign = sigkit::ignore(sigkit::child);
    sigkit::stream s{{sigkit::child}};
    CHECK((sigkit::disposition_of(sigkit::child).flags & SA_NOCLDWAIT) != 0);
    ign.reset();  // the layer below sigkit's goes: SIG_DFL under it now
    CHECK((sigkit::disposition_of(sigkit::child).flags & SA_NOCLDWAIT) == 0);
    CHECK(sigkit::disposition_of(sigkit::child).ours);
    const pid_t kid = ::fork();
    REQUIRE(kid >= 0);
    if (kid == 0) ::_exit(5);
    REQUIRE(s.recv_for(5s).has_value());
    int st = 0;
    CHECK(::waitpid(kid, &st, 0) == kid);
  });
}
