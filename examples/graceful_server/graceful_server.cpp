// graceful_server: a TCP echo server that shuts down the way servers should.
//
//   graceful_server [PORT]        (default 0: the kernel picks a free port)
//
// - SIGHUP: prints "reloading configuration" and keeps serving.
// - SIGTERM or SIGINT: stops accepting (closes the listening socket), keeps
//   echoing on the open connections until their clients hang up, then
//   prints a summary and exits 0.
// - A second SIGTERM/SIGINT while draining (an impatient operator, or a
//   supervisor's second try): the process dies of that signal at once, so
//   whoever waits for it sees "killed by SIGTERM", not a made-up exit code.
//
// Everything happens on one thread, in one poll() loop. Signals reach it as
// readable file descriptors; no code of ours runs in a signal handler.
#include <sigkit/sigkit.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stop_token>
#include <vector>

namespace {
[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "graceful_server: %s: %s\n", what, std::strerror(errno));
  std::exit(2);
}
}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // one line at a time, also into a pipe

  // SIGINT + SIGTERM: the first one requests stop on stop.token(); a second
  // one kills the process with that signal. As a last resort, draining may
  // take at most 30 s: then the process dies of the first signal.
  sigkit::shutdown stop{{sigkit::interrupt, sigkit::terminate},
                        {.second_signal_kills = true, .force_after = std::chrono::seconds(30)}};
  // A stop_token is not a file descriptor; this wakeup turns "stop requested"
  // into a readable fd for poll(). notify() is safe to call from anywhere.
  sigkit::wakeup stop_fd;
  std::stop_callback on_stop(stop.token(), [&stop_fd] { stop_fd.notify(); });
  // SIGHUP is an ordinary event: a stream hands it to the loop with its sender.
  sigkit::stream reload{{sigkit::hangup}};

  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0) die("socket");
  const int yes = 1;
  ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(argc > 1 ? std::atoi(argv[1]) : 0));
  socklen_t len = sizeof addr;
  if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) die("bind");
  if (::listen(listener, 16) != 0) die("listen");
  if (::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) die("getsockname");
  std::printf("ready: echo server on 127.0.0.1:%d, pid %d\n", ntohs(addr.sin_port), static_cast<int>(::getpid()));

  std::vector<int> clients;
  int listening = listener;  // -1 once we stop accepting
  unsigned long served = 0, echoed = 0;

  // Serve until stop is requested and the last client has gone.
  while (listening >= 0 || !clients.empty()) {
    // poll() set: [0] stop, [1] SIGHUP, [2] listener (or -1: ignored), then clients.
    std::vector<pollfd> fds = {{stop_fd.fd(), POLLIN, 0}, {reload.fd(), POLLIN, 0}, {listening, POLLIN, 0}};
    for (int c : clients) fds.push_back({c, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      die("poll");
    }

    if (fds[0].revents & POLLIN) {
      stop_fd.drain();
      if (listening >= 0) {  // the first (and only) stop: stop accepting
        ::close(listening);
        listening = -1;
        const auto why = stop.which();  // which signal, and who sent it
        std::printf("%s from pid %d: stopped accepting, draining %zu connection(s)\n",
                    why ? why->signal.name().data() : "stop", why ? static_cast<int>(why->from.pid) : 0,
                    clients.size());
      }
    }
    if (fds[1].revents & POLLIN) {
      // Drain, then act: take every pending SIGHUP before polling again.
      while (auto hup = reload.try_recv())
        std::printf("SIGHUP from pid %d: reloading configuration\n", static_cast<int>(hup->from.pid));
    }
    if (listening >= 0 && (fds[2].revents & POLLIN)) {
      const int c = ::accept4(listening, nullptr, nullptr, SOCK_CLOEXEC);
      if (c >= 0) {
        clients.push_back(c);
        ++served;
        std::printf("accepted connection %lu\n", served);
      } else if (errno != EINTR && errno != ECONNABORTED) {
        die("accept4");
      }
    }
    // Echo what each readable client sent; close the ones that hung up.
    // (fds[3 + i] is clients[i] as it was when fds was built.)
    std::vector<int> still_open;
    std::size_t closed = 0;
    for (std::size_t i = 0; i < clients.size(); ++i) {
      const int c = clients[i];
      bool open = true;
      if (i + 3 < fds.size() && fds[i + 3].revents != 0) {
        char buf[4096];
        const ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n > 0) {
          // MSG_NOSIGNAL: a vanished client is an error code, not a SIGPIPE.
          if (::send(c, buf, static_cast<std::size_t>(n), MSG_NOSIGNAL) == n)
            echoed += static_cast<unsigned long>(n);
          else
            open = false;
        } else if (n == 0 || errno != EINTR) {
          open = false;  // EOF or a connection error
        }
      }
      if (open) {
        still_open.push_back(c);
      } else {
        ::close(c);
        ++closed;
      }
    }
    clients = std::move(still_open);
    if (closed > 0) std::printf("%zu connection(s) closed, %zu open\n", closed, clients.size());
  }

  std::printf("bye: served %lu connection(s), echoed %lu bytes\n", served, echoed);
  return 0;
}  // `stop` and `reload` go: SIGINT, SIGTERM and SIGHUP are back to what they were
