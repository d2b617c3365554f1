// floor_forwarder - the least a forwarder can do, the reference for the
// forwarding benchmark: block every signal, spawn the command, then
// sigwaitinfo() + kill() until it exits, and exit with its status.
//   floor_forwarder command [args...]
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 2) return 125;
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, &old);
  const pid_t child = fork();
  if (child < 0) return 125;
  if (child == 0) {
    sigprocmask(SIG_SETMASK, &old, nullptr);  // the child starts with the caller's mask
    execvp(argv[1], argv + 1);
    _exit(127);
  }
  for (;;) {
    siginfo_t info;
    const int signo = sigwaitinfo(&all, &info);
    if (signo < 0) continue;  // EINTR
    if (signo != SIGCHLD) {
      kill(child, signo);
      continue;
    }
    int status = 0;
    if (waitpid(child, &status, WNOHANG) == child)
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
}
