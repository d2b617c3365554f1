// term_probe - the child of the forwarding benchmark. Pins itself to a CPU
// (--cpu N), writes its pid to stdout when it is ready, then for every
// SIGTERM writes the CLOCK_MONOTONIC time it observed it (8 bytes,
// nanoseconds) to stdout. Exits 0 on SIGUSR1.
//   term_probe [--cpu N]
#include <sched.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "--cpu") == 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(std::atoi(argv[2]), &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) return 3;
  }
  // Dequeue TERM and USR1 ourselves: the fastest observation there is, the
  // same for every forwarder.
  sigset_t wanted;
  sigemptyset(&wanted);
  sigaddset(&wanted, SIGTERM);
  sigaddset(&wanted, SIGUSR1);
  sigprocmask(SIG_BLOCK, &wanted, nullptr);
  const std::int64_t pid = getpid();
  if (write(1, &pid, sizeof pid) != static_cast<ssize_t>(sizeof pid)) return 4;
  for (;;) {
    siginfo_t info;
    const int signo = sigwaitinfo(&wanted, &info);
    if (signo == SIGUSR1) return 0;
    if (signo != SIGTERM) continue;
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    const std::int64_t ns = static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
    if (write(1, &ns, sizeof ns) != static_cast<ssize_t>(sizeof ns)) return 5;
  }
}
