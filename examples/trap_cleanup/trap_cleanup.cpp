// trap_cleanup: temporary files that never outlive the program, like the
// shell's `trap 'rm -f "$tmp"' EXIT`, but done on an ordinary thread.
//
//   trap_cleanup [--work-ms MS]      (default: work until a signal)
//
// It creates two temporary files (under $TMPDIR, else /tmp), prints
// "tempfile: PATH" for each, and appends to them every 20 ms. A sigkit::trap
// removes them:
//   - at normal exit (after --work-ms): exit status 0;
//   - on SIGTERM, SIGINT, SIGHUP (or SIGQUIT): the files are removed and
//     then the process dies of that signal, so its parent (a shell, a
//     supervisor) sees "killed by SIGTERM", exactly as without the trap.
#include <sigkit/sigkit.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

// Makes a unique file from a mkstemp() template; returns its path.
std::string make_temp_file(const char* stem) {
  const char* dir = std::getenv("TMPDIR");
  std::string path = std::string(dir && *dir ? dir : "/tmp") + "/" + stem + ".XXXXXX";
  const int fd = ::mkstemp(path.data());  // fills in the XXXXXX
  if (fd < 0) {
    std::fprintf(stderr, "trap_cleanup: mkstemp(%s): %s\n", path.c_str(), std::strerror(errno));
    std::exit(2);
  }
  ::close(fd);
  return path;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  long work_ms = -1;  // -1: until a signal
  if (argc == 3 && std::strcmp(argv[1], "--work-ms") == 0) {
    work_ms = std::atol(argv[2]);
  } else if (argc != 1) {
    std::fprintf(stderr, "usage: trap_cleanup [--work-ms MS]\n");
    return 2;
  }

  // The trap first, then the files: a signal that arrives at any point
  // after this line runs every cleanup pushed so far.
  sigkit::trap cleanup;  // SIGHUP, SIGINT, SIGQUIT, SIGTERM and normal exit

  std::vector<std::string> files;
  for (const char* stem : {"trap_cleanup-data", "trap_cleanup-log"}) {
    const std::string path = make_temp_file(stem);
    // Register the removal right after creating the file. Cleanups run in
    // reverse order of push(), on the trap's own thread (not in a signal
    // handler), so they may allocate, lock and print.
    cleanup.push([path, &cleanup] {
      if (::unlink(path.c_str()) != 0) std::fprintf(stderr, "unlink(%s): %s\n", path.c_str(), std::strerror(errno));
      const auto why = cleanup.which();  // the signal, if one triggered the cleanups
      std::printf("removed %s (%s)\n", path.c_str(), why ? why->signal.name().data() : "normal exit");
    });
    files.push_back(path);
    std::printf("tempfile: %s\n", path.c_str());
  }
  std::printf("ready: pid %d working (kill -TERM, -INT or -HUP it; the files go either way)\n",
              static_cast<int>(::getpid()));

  // The "work": append a line to each file every 20 ms.
  const auto start = std::chrono::steady_clock::now();
  while (work_ms < 0 || std::chrono::steady_clock::now() - start < std::chrono::milliseconds(work_ms)) {
    for (const std::string& path : files) {
      const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
      if (fd < 0) continue;  // a signal's cleanup may just have removed it
      if (::write(fd, "working\n", 8) < 0) std::fprintf(stderr, "write(%s): %s\n", path.c_str(), std::strerror(errno));
      ::close(fd);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::printf("work done\n");
  return 0;  // `cleanup` goes out of scope: the files are removed, exit status 0
}
