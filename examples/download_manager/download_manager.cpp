// download_manager: worker threads that stop together on Ctrl-C.
//
//   download_manager [--workers N] [--chunks N] [--chunk-ms MS] [--save-ms MS]
//
// N std::jthreads each "download" a file in chunks (a short sleep per
// chunk). They all share the std::stop_token of one sigkit::shutdown:
//
// - all downloads finish: "all N downloads complete", exit 0;
// - Ctrl-C (SIGINT) or SIGTERM: every worker stops after its current chunk
//   and reports "interrupted at X%"; the program saves resume state and
//   exits 1 (interrupted, state kept: run it again to resume);
// - a second Ctrl-C while it is still saving: the user really wants out.
//   sigkit::shutdown makes the process die of SIGINT at once, as if nothing
//   had caught it (a shell then shows the usual 130).
#include <sigkit/sigkit.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stop_token>
#include <thread>
#include <vector>

namespace {

using std::chrono::milliseconds;

// Sleeps for `d`, returning early (false) if stop is requested meanwhile.
// condition_variable_any::wait_for with a stop_token wakes on request_stop().
bool sleep_unless_stopped(const std::stop_token& stop, milliseconds d) {
  std::mutex m;
  std::condition_variable_any cv;
  std::unique_lock lock(m);
  cv.wait_for(lock, stop, d, [] { return false; });
  return !stop.stop_requested();
}

struct settings {
  int workers = 3;
  int chunks = 200;             // per download
  milliseconds chunk_time{20};  // 200 x 20 ms: about 4 s per download
  milliseconds save_time{200};  // "writing the resume file"
};

settings parse(int argc, char** argv) {
  settings s;
  for (int i = 1; i + 1 < argc; i += 2) {
    const int v = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--workers") == 0 && v > 0)
      s.workers = v;
    else if (std::strcmp(argv[i], "--chunks") == 0 && v > 0)
      s.chunks = v;
    else if (std::strcmp(argv[i], "--chunk-ms") == 0 && v >= 0)
      s.chunk_time = milliseconds(v);
    else if (std::strcmp(argv[i], "--save-ms") == 0 && v >= 0)
      s.save_time = milliseconds(v);
    else {
      std::fprintf(stderr, "usage: download_manager [--workers N] [--chunks N] [--chunk-ms MS] [--save-ms MS]\n");
      std::exit(2);
    }
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const settings cfg = parse(argc, argv);

  // The first SIGINT/SIGTERM requests stop on stop.token(); the second one
  // kills the process with that signal. Made before the threads start, so
  // no worker can ever be killed by an unhandled Ctrl-C half-way through.
  sigkit::shutdown stop;

  std::vector<int> progress(static_cast<std::size_t>(cfg.workers), 0);  // percent, one slot per worker
  {
    std::vector<std::jthread> workers;
    workers.reserve(static_cast<std::size_t>(cfg.workers));
    for (int id = 0; id < cfg.workers; ++id) {
      // Each worker gets shutdown's token (not the jthread's own one): one
      // Ctrl-C stops them all.
      workers.emplace_back([&cfg, &progress, id, token = stop.token()] {
        int done = 0;
        while (done < cfg.chunks && sleep_unless_stopped(token, cfg.chunk_time)) ++done;
        const int percent = done * 100 / cfg.chunks;
        progress[static_cast<std::size_t>(id)] = percent;  // each thread writes only its own slot
        if (done == cfg.chunks)
          std::printf("download %d complete\n", id);
        else
          std::printf("download %d interrupted at %d%%\n", id, percent);
      });
    }
    std::printf("ready: %d downloads running, pid %d (Ctrl-C to stop, twice to quit at once)\n", cfg.workers,
                static_cast<int>(::getpid()));
  }  // the jthreads are joined here: every worker has finished or stopped

  const auto why = stop.which();
  if (!why) {
    std::printf("all %d downloads complete\n", cfg.workers);
    return 0;
  }
  int complete = 0;
  for (int p : progress) complete += p == 100 ? 1 : 0;
  std::printf("%s: saving resume state (a second %s quits at once)\n", why->signal.name().data(),
              why->signal.name().data());
  std::this_thread::sleep_for(cfg.save_time);  // stands in for writing a resume file
  std::printf("interrupted by %s: %d of %d downloads complete, resume state saved\n", why->signal.name().data(),
              complete, cfg.workers);
  return 1;
}
