// Helper for the child/forwarding tests: records every signal it receives.
//
// Prints "ready <pid> pgid=<pgid> sid=<sid>" once it listens, then one line
// per signal: "sig <NAME> from=<si_pid> code=<si_code> t=<CLOCK_MONOTONIC ns>".
// Commands on stdin, one per line:
//   kill0 <signo>   kill(0, signo): signal its own process group
//   exit <code>     exit with that code
//   ping            prints "pong" (everything before it has been printed)
// EOF on stdin: exit 0. Catchable signals are caught with a stream, the
// synchronous ones with a plain handler (a user-sent SIGSEGV is recorded).
#include <sigkit/stream.hpp>

#include <poll.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

int fault_pipe[2];

extern "C" void on_fault(int signo, siginfo_t* info, void*) {
  const int saved = errno;
  int rec[3] = {signo, info->si_pid, info->si_code};
  (void)!::write(fault_pipe[1], rec, sizeof rec);
  errno = saved;
}

long long now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<long long>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

void print(int signo, int pid, int code) {
  std::printf("sig %s from=%d code=%d t=%lld\n", std::string(sigkit::signal{signo}.name()).c_str(), pid, code,
              now_ns());
  // Nobody reads any more (the test closed our stdout): exit. Going on would
  // loop for ever, since each failed write raises a SIGPIPE that this
  // recorder catches and tries to print.
  if (std::fflush(stdout) != 0) ::_exit(0);
}

}  // namespace

int main() {
  if (::pipe2(fault_pipe, O_CLOEXEC) != 0) return 3;
  for (int n : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS}) {
    struct sigaction sa {};
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    ::sigaction(n, &sa, nullptr);
  }
  sigkit::stream s{sigkit::all_forwardable(), {.capacity = 1024}};
  std::printf("ready %d pgid=%d sid=%d\n", ::getpid(), ::getpgrp(), ::getsid(0));
  std::fflush(stdout);
  std::string line;
  for (;;) {
    pollfd fds[3] = {{s.fd(), POLLIN, 0}, {fault_pipe[0], POLLIN, 0}, {0, POLLIN, 0}};
    if (::poll(fds, 3, -1) < 0) continue;
    while (auto e = s.try_recv()) print(e->signal.number(), e->from.pid, e->from.code);
    if (fds[1].revents & POLLIN) {
      int rec[3];
      if (::read(fault_pipe[0], rec, sizeof rec) == sizeof rec) print(rec[0], rec[1], rec[2]);
    }
    if (fds[2].revents & (POLLNVAL | POLLERR)) return 0;  // no stdin: nothing will ever stop us
    if (fds[2].revents & (POLLIN | POLLHUP)) {
      char buf[256];
      const ssize_t n = ::read(0, buf, sizeof buf);
      if (n <= 0) return 0;
      line.append(buf, static_cast<std::size_t>(n));
      std::size_t nl;
      while ((nl = line.find('\n')) != std::string::npos) {
        const std::string cmd = line.substr(0, nl);
        line.erase(0, nl + 1);
        if (cmd.rfind("kill0 ", 0) == 0) {
          ::kill(0, std::atoi(cmd.c_str() + 6));
        } else if (cmd.rfind("exit ", 0) == 0) {
          std::exit(std::atoi(cmd.c_str() + 5));
        } else if (cmd == "ping") {
          while (auto e = s.try_recv()) print(e->signal.number(), e->from.pid, e->from.code);
          std::puts("pong");
          if (std::fflush(stdout) != 0) ::_exit(0);
        }
      }
    }
  }
}
