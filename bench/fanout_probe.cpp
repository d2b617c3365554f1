// fanout_probe - one of the N children of supervisor_fanout: blocks SIGINT,
// says it is ready (one byte on READY_FD), waits for SIGINT with
// sigwaitinfo(), writes the CLOCK_MONOTONIC time it got it (8 bytes) to
// TIME_FD and exits 0. No sigkit, no allocation after start: the same probe
// for every contender.
//
//   fanout_probe READY_FD TIME_FD
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  const int ready = std::atoi(argv[1]);
  const int times = std::atoi(argv[2]);
  sigset_t interrupt;
  sigemptyset(&interrupt);
  sigaddset(&interrupt, SIGINT);
  sigprocmask(SIG_BLOCK, &interrupt, nullptr);
  const char byte = 'r';
  if (::write(ready, &byte, 1) != 1) return 3;
  siginfo_t info;
  while (::sigwaitinfo(&interrupt, &info) < 0) {
  }
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  const std::int64_t ns = static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
  if (::write(times, &ns, sizeof ns) != static_cast<ssize_t>(sizeof ns)) return 4;
  return 0;
}
