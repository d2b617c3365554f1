// Helper for fork_exec_test: reports the signal state a freshly exec'd
// program starts with. Prints one line per signal 1..NSIG-1,
// "<number> dfl|ign|handler", then "blocked <numbers...>" (the mask).
#include <signal.h>

#include <cstdio>

int main() {
  for (int n = 1; n < NSIG; ++n) {
    struct sigaction cur {};
    const char* kind = "invalid";
    if (::sigaction(n, nullptr, &cur) == 0) {
      const bool info = (cur.sa_flags & SA_SIGINFO) != 0;
      if (!info && cur.sa_handler == SIG_DFL)
        kind = "dfl";
      else if (!info && cur.sa_handler == SIG_IGN)
        kind = "ign";
      else
        kind = "handler";
    }
    std::printf("%d %s\n", n, kind);
  }
  sigset_t mask;
  sigemptyset(&mask);
  ::sigprocmask(SIG_BLOCK, nullptr, &mask);
  std::printf("blocked");
  for (int n = 1; n < NSIG; ++n)
    if (sigismember(&mask, n) == 1) std::printf(" %d", n);
  std::printf("\n");
  return 0;
}
