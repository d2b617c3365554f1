// shaped_forwarder - the floor forwarder's loop taken apart, for
// forward_latency's decomposition of sigkit-run's cost (forward_latency
// --decompose): every signal blocked, then wait + kill, where the wait is
// sigwaitinfo() (as floor_forwarder) or, with --signalfd, sigkit-run's way:
// poll() + read() on a signalfd.
//   shaped_forwarder [--signalfd] [--sigkit-shape] -- command [args...]
// --sigkit-shape adds the rest of sigkit-run's system-call shape: the loop
// runs on a second thread while the main thread waits for the child, sends
// with pidfd_send_signal(), and reads the child's stop state with waitid()
// after each send. No sigkit code: what is left between this and sigkit-run
// is sigkit-run's own work.
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <thread>

namespace {

pid_t child = -1;
int child_pidfd = -1;
bool sigkit_shape = false;
bool from_signalfd = false;

int exit_code(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

void send(int signo) {
  if (!sigkit_shape) {
    ::kill(child, signo);
    return;
  }
  ::syscall(SYS_pidfd_send_signal, child_pidfd, signo, nullptr, 0);
  siginfo_t stop_state{};
  ::waitid(P_PID, static_cast<id_t>(child), &stop_state, WSTOPPED | WCONTINUED | WNOHANG);
}

void on_signal(int signo) {
  if (signo != SIGCHLD) {
    send(signo);
    return;
  }
  int status = 0;
  if (!sigkit_shape && ::waitpid(child, &status, WNOHANG) == child) ::_exit(exit_code(status));
}

[[noreturn]] void forward_loop(const sigset_t* all) {
  if (!from_signalfd) {
    for (;;) {
      siginfo_t info;
      const int signo = ::sigwaitinfo(all, &info);
      if (signo > 0) on_signal(signo);  // else EINTR
    }
  }
  const int fd = ::signalfd(-1, all, SFD_CLOEXEC | SFD_NONBLOCK);
  if (fd < 0) ::_exit(125);
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, -1) < 0) continue;  // EINTR
    signalfd_siginfo batch[16];
    const ssize_t n = ::read(fd, batch, sizeof batch);
    for (ssize_t i = 0; i < n / static_cast<ssize_t>(sizeof batch[0]); ++i)
      on_signal(static_cast<int>(batch[i].ssi_signo));
  }
}

}  // namespace

int main(int argc, char** argv) {
  int at = 1;
  for (; at < argc; ++at) {
    if (std::strcmp(argv[at], "--sigkit-shape") == 0)
      sigkit_shape = true;
    else if (std::strcmp(argv[at], "--signalfd") == 0)
      from_signalfd = true;
    else
      break;
  }
  if (at < argc && std::strcmp(argv[at], "--") == 0) ++at;
  if (at >= argc) return 125;
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, &old);
  child = ::fork();
  if (child < 0) return 125;
  if (child == 0) {
    sigprocmask(SIG_SETMASK, &old, nullptr);  // the child starts with the caller's mask
    ::execvp(argv[at], argv + at);
    ::_exit(127);
  }
  if (!sigkit_shape) forward_loop(&all);
  child_pidfd = static_cast<int>(::syscall(SYS_pidfd_open, child, 0));
  if (child_pidfd < 0) return 125;
  std::thread forwarder(forward_loop, &all);
  forwarder.detach();
  int status = 0;
  while (::waitpid(child, &status, 0) < 0) {
  }
  ::_exit(exit_code(status));
}
