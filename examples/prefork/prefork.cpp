// prefork: a leader process and N forked workers, each with its own signals.
//
//   prefork [N]          (default 3 workers)
//
// - Each worker, after fork(), makes its OWN sigkit::stream and prints
//   "worker <pid> ready". Streams made before fork() are inert in a child
//   (using one throws std::logic_error): their wakeups belong to the parent.
// - Once every worker is ready, the leader proves it with sigkit::inspect
//   (the kernel's /proc/PID/status): "worker <pid> catches SIGUSR2: yes"
//   for each worker, and "leader <pid> catches SIGUSR2: no" for itself.
// - `kill -USR2 <worker pid>`: that worker prints who sent it.
// - `kill -TERM <leader pid>`: the leader forwards SIGTERM to every worker,
//   reaps them all (no zombies left behind) and exits 0.
// - A worker that dies on its own is reaped by the leader (SIGCHLD).
#include <sigkit/sigkit.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <system_error>
#include <vector>

namespace {

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "prefork: %s: %s\n", what, std::strerror(errno));
  std::exit(2);
}

// A worker's whole life, in the child process. Never returns.
[[noreturn]] void worker(int ready_fd) {
  const int me = static_cast<int>(::getpid());
  // The worker's own subscription, made after fork(). Until this line, a
  // SIGTERM would simply kill the worker (its default action), which is fine.
  sigkit::stream signals{{sigkit::user2, sigkit::terminate, sigkit::interrupt}};
  std::printf("worker %d ready\n", me);
  if (::write(ready_fd, "r", 1) != 1) die("write(ready pipe)");  // tell the leader
  ::close(ready_fd);

  for (const sigkit::event& e : signals) {
    if (e.signal == sigkit::user2) {
      std::printf("worker %d got SIGUSR2 from %d\n", me, static_cast<int>(e.from.pid));
      continue;
    }
    std::printf("worker %d: %s from %d, exiting\n", me, e.signal.name().data(), static_cast<int>(e.from.pid));
    break;
  }
  std::exit(0);  // never return into the leader's code
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const int count = argc > 1 ? std::atoi(argv[1]) : 3;
  if (count < 1) {
    std::fprintf(stderr, "usage: prefork [N]\n");
    return 2;
  }

  // The leader subscribes before forking, so that no SIGTERM or SIGCHLD can
  // slip by while it starts workers. The children inherit this object but
  // must not use it.
  sigkit::stream leader{{sigkit::terminate, sigkit::interrupt, sigkit::child}};

  int ready[2];  // workers write one byte each once their stream exists
  if (::pipe(ready) != 0) die("pipe");
  std::vector<pid_t> workers;
  for (int i = 0; i < count; ++i) {
    std::fflush(stdout);  // nothing buffered may be printed twice
    const pid_t pid = ::fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
      ::close(ready[0]);
      worker(ready[1]);
    }
    workers.push_back(pid);
  }
  ::close(ready[1]);
  for (int i = 0; i < count; ++i) {  // wait until every worker can take signals
    char c;
    const ssize_t n = ::read(ready[0], &c, 1);
    if (n < 0 && errno == EINTR)
      --i;
    else if (n != 1)
      die("a worker died before it was ready");
  }
  ::close(ready[0]);

  // Proof, from the kernel's point of view: each worker has a handler for
  // SIGUSR2 (its own stream's), while the leader has none.
  auto catches_user2 = [](pid_t pid) -> const char* {
    std::error_code ec;
    const sigkit::process_signals s = sigkit::inspect(pid, ec);
    if (ec) return ec == std::errc::no_such_process ? "gone" : "unknown";
    return s.caught.contains(sigkit::user2) ? "yes" : "no";
  };
  for (pid_t pid : workers) std::printf("worker %d catches SIGUSR2: %s\n", static_cast<int>(pid), catches_user2(pid));
  std::printf("leader %d catches SIGUSR2: %s\n", static_cast<int>(::getpid()), catches_user2(::getpid()));
  std::printf("leader %d ready with %d workers\n", static_cast<int>(::getpid()), count);

  for (;;) {
    const sigkit::event e = leader.recv();
    if (e.signal == sigkit::child) {
      // Reap every worker that has ended (SIGCHLDs can merge: loop).
      int status;
      for (pid_t pid; (pid = ::waitpid(-1, &status, WNOHANG)) > 0;) {
        std::printf("worker %d ended on its own\n", static_cast<int>(pid));
        std::erase(workers, pid);
      }
      continue;
    }
    std::printf("leader: %s from %d, stopping %zu workers\n", e.signal.name().data(), static_cast<int>(e.from.pid),
                workers.size());
    break;
  }

  // Forward SIGTERM, then reap each worker: a reaped child leaves no zombie.
  for (pid_t pid : workers)
    if (::kill(pid, SIGTERM) != 0)
      std::fprintf(stderr, "prefork: kill(%d): %s\n", static_cast<int>(pid), std::strerror(errno));
  for (pid_t pid : workers) {
    int status;
    while (::waitpid(pid, &status, 0) < 0)
      if (errno != EINTR) die("waitpid");
    if (WIFEXITED(status))
      std::printf("worker %d exited with code %d\n", static_cast<int>(pid), WEXITSTATUS(status));
    else
      std::printf("worker %d was killed by signal %d\n", static_cast<int>(pid), WTERMSIG(status));
  }
  std::printf("leader: all %zu workers reaped, bye\n", workers.size());
  return 0;
}
