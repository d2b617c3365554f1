// handler_probe - delivers a signal to itself a given number of times so that
// bench/handler_cost.sh can count, under callgrind, the instructions spent in
// the handler, and, under strace, the write() calls it makes.
//
//   handler_probe sigkit <subscribers> <deliveries> drained|pending [--check-writes]
//   handler_probe sigkit-shared <subscribers> <deliveries> drained|pending [--check-writes]
//   handler_probe sigkit-distinct <signals> <deliveries>
//   handler_probe hand <deliveries>
//
// sigkit: <subscribers> streams on SIGUSR1 (sigkit-shared: sharing one
// wakeup_group, so every check is per group instead of per stream). drained: after every delivery
// each stream is consumed until try_recv() says nullopt (so the wakeup is
// drained and the next delivery must write it again); pending: nothing is
// consumed until the end (the wakeup stays pending, so the handler must not
// write). sigkit-distinct: one stream on each of <signals> distinct signals
// (SIGUSR1, then SIGRTMIN, SIGRTMIN+1, ...), SIGUSR1 delivered, drained
// (does the handler's cost grow with the signals subscribed elsewhere?).
// hand: the hand-written handler of hand_written.hpp.
//
// Before delivering it prints the wakeup descriptors (for strace), after it
// prints how many wakeup writes each descriptor received (an eventfd's
// counter is exactly the number of write()s of 1 made to it). With
// --check-writes it exits 1 unless a pending run saw exactly one write per
// stream and every delivery reached every stream.
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sigkit/stream.hpp>
#include <sigkit/wakeup_group.hpp>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "hand_written.hpp"

namespace {

void deliver() { ::syscall(SYS_tgkill, ::getpid(), ::syscall(SYS_gettid), SIGUSR1); }

int usage() {
  std::fprintf(stderr,
               "usage: handler_probe sigkit|sigkit-shared <subscribers> <deliveries> drained|pending "
               "[--check-writes]\n"
               "       handler_probe sigkit-distinct <signals> <deliveries>\n"
               "       handler_probe hand <deliveries>\n");
  return 2;
}

std::uint64_t eventfd_counter(int fd) {
  std::uint64_t n = 0;
  if (::read(fd, &n, sizeof n) != static_cast<ssize_t>(sizeof n)) return 0;  // non-blocking: 0 if none
  return n;
}

int run_sigkit(int subscribers, int deliveries, bool drained, bool shared, bool check) {
  std::vector<sigkit::stream> streams;
  sigkit::wakeup_group group;
  sigkit::stream_options options;
  options.capacity = static_cast<std::size_t>(deliveries < 64 ? 64 : deliveries);
  if (shared) options.shared_wakeup = &group;
  for (int i = 0; i < subscribers; ++i) streams.emplace_back(sigkit::signal_set{sigkit::signal{SIGUSR1}}, options);
  std::fprintf(stderr, "wakeup fds:");
  if (shared)
    std::fprintf(stderr, " %d", group.fd());
  else
    for (auto& s : streams) std::fprintf(stderr, " %d", s.fd());
  std::fprintf(stderr, "\n");
  std::uint64_t received = 0;
  for (int i = 0; i < deliveries; ++i) {
    deliver();
    if (drained)
      for (auto& s : streams)
        while (s.try_recv()) ++received;
  }
  std::vector<std::uint64_t> writes;
  if (shared)
    writes.push_back(eventfd_counter(group.fd()));
  else
    for (auto& s : streams) writes.push_back(eventfd_counter(s.fd()));
  if (!drained)
    for (auto& s : streams)
      while (s.try_recv()) ++received;
  std::uint64_t dropped = 0;
  for (auto& s : streams) dropped += s.dropped();
  std::printf("sigkit%s subscribers=%d deliveries=%d mode=%s received=%llu dropped=%llu wakeup_writes_per_%s=",
              shared ? "-shared" : "", subscribers, deliveries, drained ? "drained" : "pending",
              static_cast<unsigned long long>(received), static_cast<unsigned long long>(dropped),
              shared ? "group" : "stream");
  bool ok = received == static_cast<std::uint64_t>(deliveries) * static_cast<std::uint64_t>(subscribers);
  for (std::size_t i = 0; i < writes.size(); ++i) {
    std::printf("%s%llu", i ? "," : "", static_cast<unsigned long long>(writes[i]));
    if (!drained && writes[i] != 1) ok = false;
  }
  std::printf("\n");
  if (check && !ok) {
    std::fprintf(stderr, "handler_probe: expected every delivery received and exactly 1 wakeup write per %s\n",
                 shared ? "group" : "stream");
    return 1;
  }
  return 0;
}

int run_distinct(int signals, int deliveries) {
  const std::vector<int> list = bench::distinct_signals(signals < 1 ? 0 : static_cast<std::size_t>(signals));
  if (signals < 1 || list.size() != static_cast<std::size_t>(signals)) {
    std::fprintf(stderr, "handler_probe: 1 to %zu distinct signals\n", bench::distinct_signals(SIZE_MAX).size());
    return 2;
  }
  std::vector<sigkit::stream> streams;
  for (int s : list) streams.emplace_back(sigkit::signal_set{sigkit::signal{s}});
  std::fprintf(stderr, "wakeup fds: %d\n", streams.front().fd());
  std::uint64_t received = 0;
  for (int i = 0; i < deliveries; ++i) {
    deliver();
    while (streams.front().try_recv()) ++received;
  }
  std::printf("sigkit-distinct signals=%d deliveries=%d received=%llu\n", signals, deliveries,
              static_cast<unsigned long long>(received));
  return received == static_cast<std::uint64_t>(deliveries) ? 0 : 1;
}

int run_hand(int deliveries) {
  const bench::hand_written_install h(SIGUSR1);
  std::fprintf(stderr, "wakeup fds: %d\n", h.fd());
  bench::hand_written_record r{};
  std::uint64_t received = 0;
  for (int i = 0; i < deliveries; ++i) {
    deliver();
    received += h.take(r);
  }
  std::printf("hand deliveries=%d received=%llu\n", deliveries, static_cast<unsigned long long>(received));
  return received == static_cast<std::uint64_t>(deliveries) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return usage();
  const std::string what = argv[1];
  if (what == "hand") return run_hand(std::atoi(argv[2]));
  if (what == "sigkit-distinct") return argc < 4 ? usage() : run_distinct(std::atoi(argv[2]), std::atoi(argv[3]));
  if ((what != "sigkit" && what != "sigkit-shared") || argc < 5) return usage();
  const std::string mode = argv[4];
  if (mode != "drained" && mode != "pending") return usage();
  const bool check = argc > 5 && std::strcmp(argv[5], "--check-writes") == 0;
  return run_sigkit(std::atoi(argv[2]), std::atoi(argv[3]), mode == "drained", what == "sigkit-shared", check);
}
