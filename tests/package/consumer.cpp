// The program every packaging test builds against sigkit, however it got
// sigkit (find_package, add_subdirectory, FetchContent, vcpkg, pkg-config):
// it subscribes to SIGUSR1, raises it and checks the stream got it. Exit 0
// on success; 1 if the signal did not arrive as expected (if sigkit's
// handler were missing, the raise would kill the process instead).
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <optional>
#include <sigkit/sigkit.hpp>
#include <string_view>

#if defined(ASIO_VERSION) || defined(BOOST_ASIO_VERSION)
#error "sigkit/sigkit.hpp must not include Asio: sigkit/asio.hpp is opt-in"
#endif

int main() {
  sigkit::stream signals{{sigkit::user1}};
  if (::raise(SIGUSR1) != 0) {
    std::perror("consumer: raise");
    return 1;
  }
  const std::optional<sigkit::event> e = signals.recv_for(std::chrono::seconds(10));
  if (!e) {
    std::fprintf(stderr, "consumer: FAIL: no SIGUSR1 within 10 s\n");
    return 1;
  }
  if (e->signal != sigkit::user1 || e->from.pid != ::getpid()) {
    std::fprintf(stderr, "consumer: FAIL: got %s from pid %d\n", e->signal.name().data(),
                 static_cast<int>(e->from.pid));
    return 1;
  }
#if defined(SIGKIT_EXPECTED_VERSION)
  // The version the build system found (sigkit_VERSION, pkg-config
  // --modversion) must be the version of the headers it compiled against.
  if (sigkit::version_string != std::string_view(SIGKIT_EXPECTED_VERSION)) {
    std::fprintf(stderr, "consumer: FAIL: headers say %s, the build system found %s\n", SIGKIT_VERSION_STRING,
                 SIGKIT_EXPECTED_VERSION);
    return 1;
  }
#endif
  std::printf("consumer: got %s from pid %d (sigkit %s)\n", e->signal.name().data(), static_cast<int>(e->from.pid),
              SIGKIT_VERSION_STRING);
  return 0;
}
