// Helper for the supervisor tests: a process group that reports every signal
// each of its members receives.
//
//   group_probe FD [--members N] [--ignore LIST] [--send-parent SIG] [--stop-self SIG]
//
// The leader forks N-1 more members into its own process group (N = 1 by
// default). Each member writes "ready <pid> <pgid>" to descriptor FD once it
// listens, then "sig <NAME> <pid> from=<sender>" for each signal it gets
// (lines are shorter than PIPE_BUF, so members never interleave). A
// terminating signal (INT, TERM, HUP, QUIT, USR1 and USR2 are recorded and go
// on) is recorded and then kills the member by its default action, so the
// parent sees it die of it. SIGTSTP/SIGTTIN/SIGTTOU/SIGCONT keep their
// default actions (the member stops and continues as any program does).
//   --ignore LIST       SIG_IGN these (comma-separated, e.g. INT,TERM)
//   --send-parent SIG   the leader sends SIG to its parent once it is ready
//                       (after its ready line; other members may not be)
//   --stop-self SIG     the leader sends SIG to itself once ready (TSTP: stops)
#include <sigkit/action.hpp>
#include <sigkit/stream.hpp>

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace {

void say(int fd, const std::string& line) {
  const std::string l = line + "\n";
  (void)!::write(fd, l.data(), l.size());
}

sigkit::signal parse_or_die(std::string_view text) {
  const auto s = sigkit::signal::parse(text);
  if (!s) {
    std::fprintf(stderr, "group_probe: unknown signal '%.*s'\n", static_cast<int>(text.size()), text.data());
    std::exit(2);
  }
  return *s;
}

sigkit::signal_set parse_list(std::string_view text) {
  sigkit::signal_set out;
  while (!text.empty()) {
    const auto comma = text.find(',');
    out.insert(parse_or_die(text.substr(0, comma)));
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

bool terminating(int signo) { return signo == SIGINT || signo == SIGTERM || signo == SIGHUP || signo == SIGQUIT; }

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: group_probe FD [--members N] [--ignore LIST] [--send-parent SIG] [--stop-self SIG]\n");
    return 2;
  }
  const int fd = std::atoi(argv[1]);
  int members = 1;
  sigkit::signal_set ignored;
  std::optional<sigkit::signal> send_parent, stop_self;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string_view opt = argv[i];
    if (opt == "--members")
      members = std::atoi(argv[i + 1]);
    else if (opt == "--ignore")
      ignored = parse_list(argv[i + 1]);
    else if (opt == "--send-parent")
      send_parent = parse_or_die(argv[i + 1]);
    else if (opt == "--stop-self")
      stop_self = parse_or_die(argv[i + 1]);
  }
  // A sanitizer's SIGSEGV/SIGBUS/... handler reports and exits 1; a test
  // that sends a fault wants the probe to die of it, as it does unsanitized.
  for (int n = 1; n < sigkit::detail::signal_limit; ++n) {
    if (!sigkit::signal{n}.synchronous()) continue;
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    ::sigaction(n, &dfl, nullptr);
  }
  for (const sigkit::signal s : ignored) {
    struct sigaction ign {};
    ign.sa_handler = SIG_IGN;
    ::sigaction(s.number(), &ign, nullptr);
  }
  const pid_t parent = ::getppid();
  // The leader dies with its parent (the supervisor under test), so that a
  // test killed by its watchdog leaves no probe behind; members do not, so
  // that a test still sees whether a group signal reached each of them.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) return 1;
  bool leader = true;
  for (int i = 1; i < members; ++i) {
    if (::fork() == 0) {
      leader = false;
      break;
    }
  }
  sigkit::signal_set watched = sigkit::all_forwardable() - ignored;
  for (int n : {SIGTSTP, SIGTTIN, SIGTTOU, SIGCONT}) watched.erase(sigkit::signal{n});
  sigkit::stream s{watched, {.capacity = 256}};
  say(fd, "ready " + std::to_string(::getpid()) + " " + std::to_string(::getpgrp()));
  if (leader && send_parent) ::kill(parent, send_parent->number());
  if (leader && stop_self) ::kill(::getpid(), stop_self->number());
  for (;;) {
    const sigkit::event e = s.recv();
    say(fd, "sig " + std::string(e.signal.name()) + " " + std::to_string(::getpid()) +
                " from=" + std::to_string(e.from.pid));
    if (terminating(e.signal.number())) {
      s.close();  // back to SIG_DFL
      sigkit::raise_default(e.signal);
      return 1;
    }
  }
}
