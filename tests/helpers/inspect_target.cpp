// Helper for the sigkit-inspect smoke tests: a process with a known signal
// state that runs a command about itself.
//
//   inspect_target COMMAND [ARGS...]
//
// State, set up before COMMAND runs:
//   - a sigkit::stream on SIGUSR1, SIGUSR2 and SIGWINCH (caught);
//   - SIGHUP ignored (sigkit::ignore);
//   - a second thread named "blocker" that blocks SIGUSR1 and SIGWINCH;
//   - the main thread blocks SIGWINCH; a kill(getpid(), SIGWINCH) is
//     therefore pending for the process;
//   - a child process named "target-child" that ignores SIGINT and waits.
// Prints "target pid <pid>", "target thread <blocker tid>" and
// "target child <child pid>", then runs COMMAND (fork + execvp, released
// once this process is past fork()) with
// "@PID@", "@THREAD@" and "@CHILD@" in its arguments replaced by those
// numbers, waits for it, ends the thread and the child, and exits with
// COMMAND's exit code (128 + N if a signal N killed it).
#include <sigkit/action.hpp>
#include <sigkit/mask.hpp>
#include <sigkit/stream.hpp>

#include <fcntl.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
  return s;
}

/// Runs `command` and returns its shell-style exit code (2 if it cannot be
/// started). The command starts only once this process's state is final:
/// the forked child waits on a pipe until the parent has returned from
/// fork(). (sigkit's spawn() blocks every signal in the calling thread
/// around its fork(), so a command it starts can run before the caller's
/// mask is back: a sigkit-inspect started that way once read this thread
/// as "blocked all but SIGKILL SIGSTOP SIG32 SIG33" on a loaded machine.)
int run_when_ready(const std::vector<std::string>& command) {
  std::vector<char*> args;
  for (const auto& a : command) args.push_back(const_cast<char*>(a.c_str()));  // NOLINT: execvp's signature
  args.push_back(nullptr);
  int gate[2];
  if (::pipe2(gate, O_CLOEXEC) != 0) return 2;
  const pid_t pid = ::fork();
  if (pid < 0) return 2;
  if (pid == 0) {
    ::close(gate[1]);
    char go = 0;
    while (::read(gate[0], &go, 1) < 0 && errno == EINTR) {
    }
    ::execvp(args[0], args.data());
    std::fprintf(stderr, "inspect_target: cannot run %s: %s\n", args[0], std::strerror(errno));
    ::_exit(127);
  }
  ::close(gate[0]);
  (void)!::write(gate[1], "g", 1);  // the parent is past fork(): its state is final
  ::close(gate[1]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return 2;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  if (argc < 2) {
    std::fprintf(stderr, "usage: inspect_target COMMAND [ARGS...]\n");
    return 2;
  }

  // The child first, so that it inherits none of the state below.
  int ready[2], hold[2];
  if (::pipe2(ready, O_CLOEXEC) != 0 || ::pipe2(hold, O_CLOEXEC) != 0) return 2;
  const pid_t child = ::fork();
  if (child < 0) return 2;
  if (child == 0) {
    ::close(ready[0]);
    ::close(hold[1]);
    ::prctl(PR_SET_NAME, "target-child");
    auto ignored = sigkit::ignore(sigkit::interrupt);
    (void)!::write(ready[1], "r", 1);
    char c;
    while (::read(hold[0], &c, 1) < 0 && errno == EINTR) {  // EOF when the parent closes its end
    }
    ::_exit(0);
  }
  ::close(ready[1]);
  ::close(hold[0]);
  char c = 0;
  if (::read(ready[0], &c, 1) != 1) return 2;
  ::close(ready[0]);

  sigkit::stream caught{{sigkit::user1, sigkit::user2, sigkit::window_change}};
  auto ignored = sigkit::ignore(sigkit::hangup);

  std::mutex m;
  std::condition_variable cv;
  pid_t blocker_tid = 0;
  bool done = false;
  std::thread blocker([&] {
    sigkit::scoped_block block{{sigkit::user1, sigkit::window_change}};
    ::pthread_setname_np(::pthread_self(), "blocker");
    std::unique_lock lock(m);
    blocker_tid = static_cast<pid_t>(::syscall(SYS_gettid));
    cv.notify_all();
    cv.wait(lock, [&] { return done; });
  });
  {
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return blocker_tid != 0; });
  }
  sigkit::scoped_block block{{sigkit::window_change}};
  ::kill(::getpid(), SIGWINCH);  // every thread blocks it: it stays pending

  const std::string pid = std::to_string(::getpid()), tid = std::to_string(blocker_tid), kid = std::to_string(child);
  std::printf("target pid %s\ntarget thread %s\ntarget child %s\n", pid.c_str(), tid.c_str(), kid.c_str());
  std::vector<std::string> command;
  for (int i = 1; i < argc; ++i)
    command.push_back(replace_all(replace_all(replace_all(argv[i], "@PID@", pid), "@THREAD@", tid), "@CHILD@", kid));
  const int code = run_when_ready(command);

  {
    std::lock_guard lock(m);
    done = true;
  }
  cv.notify_all();
  blocker.join();
  ::close(hold[1]);  // the child sees EOF and exits
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  return code;
}
