// The headline example: a typed signal stream.
//
// It subscribes to SIGINT, SIGTERM and SIGUSR1, has a helper thread send it
// SIGUSR1 twice and then SIGTERM, and prints every delivery with who sent
// it. Press Ctrl-C while it runs to see a terminal-typed SIGINT too.
#include <sigkit/sigkit.hpp>

#include <chrono>
#include <cstdio>
#include <thread>

int main() {
  sigkit::stream signals{{sigkit::interrupt, sigkit::terminate, sigkit::user1}};

  std::jthread sender([] {  // stands in for `kill -USR1 <pid>` from a shell
    for (int sig : {SIGUSR1, SIGUSR1, SIGTERM}) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      ::kill(::getpid(), sig);
    }
  });

  std::printf("pid %d waiting for SIGINT, SIGTERM or SIGUSR1\n", static_cast<int>(::getpid()));
  for (const sigkit::event& e : signals) {
    std::printf("got %s (%s) from pid %d%s\n", e.signal.name().data(), e.signal.description().data(),
                static_cast<int>(e.from.pid), e.from_terminal() ? ", typed at the terminal" : "");
    if (e.signal == sigkit::terminate) break;
  }
  std::printf("bye: the stream is gone and SIGINT/SIGTERM/SIGUSR1 are back to what they were\n");
}
