// Helper for ignored_at_start_test: a program that uses sigkit::shutdown or
// sigkit::trap the way a server does, to be started with signals ignored
// (under nohup, say).
//
//   ignored_target shutdown|shutdown-take|shutdown-hup|trap|trap-take|trap-hup
//
// Prints "ignored_at_start <set>", "watching <set>", "SIGHUP <dfl|ign|handler>",
// "SIGUSR2 <...>", then "ready". Each line read from stdin is answered with
// "running" (shutdown: "stopped by SIG..." once stop was requested). At EOF
// it exits 0 (a trap runs its cleanup first, printing "cleanup"). A signal
// that stops a shutdown prints "stopped by <name>" and exits 0; one that
// ends a trap prints "cleanup" and the process dies of it.
//
//   ignored_target spawn|spawn-reset-all PROGRAM
//
// Starts PROGRAM with sigkit::child_process::spawn (reset_signals, and
// keep_ignored_at_start true or, for spawn-reset-all, false) sharing this
// stdout, waits for it, and prints "spawned <exit code>".
//
// A static initialiser of the program ignores SIGUSR2 before main(): it is
// not "ignored at start", which sigkit records before such initialisers.
#include <sigkit/action.hpp>
#include <sigkit/child_process.hpp>
#include <sigkit/shutdown.hpp>
#include <sigkit/trap.hpp>

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

namespace {

struct ignores_usr2_early {
  ignores_usr2_early() { ::signal(SIGUSR2, SIG_IGN); }
} early;

const char* kind(int signo) {
  const sigkit::disposition d = sigkit::disposition_of(sigkit::signal{signo});
  return d.kind == sigkit::disposition::dfl ? "dfl" : d.kind == sigkit::disposition::ign ? "ign" : "handler";
}

void say(const std::string& s) {
  std::fputs((s + "\n").c_str(), stdout);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "shutdown";
  if (mode.rfind("spawn", 0) == 0 && argc > 2) {
    const std::string program[] = {argv[2]};
    auto c = sigkit::child_process::spawn(program, {.keep_ignored_at_start = mode == "spawn"});
    say("spawned " + std::to_string(c.wait().code()));
    return 0;
  }
  const bool take = mode.find("-take") != std::string::npos;
  const sigkit::signal_set wanted = mode.find("-hup") != std::string::npos ? sigkit::signal_set{sigkit::hangup}
                                    : mode.rfind("trap", 0) == 0
                                        ? sigkit::trap::default_signals()
                                        : sigkit::signal_set{sigkit::hangup, sigkit::interrupt, sigkit::terminate};
  std::unique_ptr<sigkit::shutdown> stop;
  std::unique_ptr<sigkit::trap> cleanup;
  if (mode.rfind("shutdown", 0) == 0)
    stop = std::make_unique<sigkit::shutdown>(wanted, sigkit::shutdown_options{.take_over_ignored = take});
  else
    cleanup = std::make_unique<sigkit::trap>(
        wanted, [] { say("cleanup"); }, sigkit::trap_options{take});
  say("ignored_at_start " + sigkit::ignored_at_start().to_string());
  say("watching " + (stop ? stop->signals() : cleanup->signals()).to_string());
  say(std::string("SIGHUP ") + kind(SIGHUP));
  say(std::string("SIGUSR2 ") + kind(SIGUSR2));
  say("ready");
  for (;;) {
    pollfd p{0, POLLIN, 0};
    ::poll(&p, 1, 10);
    if (stop && stop->stop_requested()) {
      const auto e = stop->which();
      say(std::string("stopped by ") + (e ? std::string(e->signal.name()) : std::string("request")));
      return 0;
    }
    if ((p.revents & (POLLIN | POLLHUP)) == 0) continue;
    char buf[256];
    const ssize_t n = ::read(0, buf, sizeof buf);
    if (n <= 0) return 0;  // EOF: a trap runs its cleanup as it goes
    say("running");
  }
}
