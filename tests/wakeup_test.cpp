// Tests for sigkit/wakeup.hpp (eventfd, or the self-pipe in the *_selfpipe
// build): readiness, at most one notification outstanding, descriptor
// hygiene, notify() from a signal handler.
#include <sigkit/action.hpp>
#include <sigkit/mask.hpp>
#include <sigkit/wakeup.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <thread>

#include "support.hpp"

#include <doctest/doctest.h>

namespace {
bool readable(int fd, int ms = 0) {
  return sigkit::detail::wait_readable(fd, sigkit::detail::deadline::after(std::chrono::milliseconds(ms))) == 1;
}
sigkit::wakeup* g_wake = nullptr;
}  // namespace

TEST_CASE("notify makes the descriptor readable until it is drained") {
  sigkit::wakeup w;
  REQUIRE(w.valid());
  CHECK_FALSE(w.pending());
  CHECK_FALSE(readable(w.fd()));
  CHECK_FALSE(w.drain());
  w.notify();
  CHECK(w.pending());
  CHECK(readable(w.fd()));
  CHECK(w.drain());
  CHECK_FALSE(w.pending());
  CHECK_FALSE(readable(w.fd()));
}

TEST_CASE("repeated notifies leave exactly one notification outstanding") {
  sigkit::wakeup w;
  for (int i = 0; i < 1000; ++i) w.notify();
#if SIGKIT_HAVE_EVENTFD
  std::uint64_t counter = 0;
  REQUIRE(::read(w.fd(), &counter, sizeof counter) == 8);
  CHECK(counter == 1);  // one write(2) for 1000 notifies
#else
  int bytes = -1;
  REQUIRE(::ioctl(w.fd(), FIONREAD, &bytes) == 0);
  CHECK(bytes == 1);
#endif
}

TEST_CASE("the descriptor is non-blocking and close-on-exec") {
  sigkit::wakeup w;
  CHECK((::fcntl(w.fd(), F_GETFD) & FD_CLOEXEC) != 0);
  CHECK((::fcntl(w.fd(), F_GETFL) & O_NONBLOCK) != 0);
}

TEST_CASE("a wakeup closes its descriptors") {
  const int before = sigkit_test::open_fd_count();
  {
    sigkit::wakeup w;
    CHECK(sigkit_test::open_fd_count() > before);
  }
  CHECK(sigkit_test::open_fd_count() == before);
}

TEST_CASE("notify keeps errno and works from a signal handler") {
  sigkit_test::in_child([] {
    sigkit::wakeup w;
    g_wake = &w;
    struct sigaction a {};
    a.sa_handler = [](int) { g_wake->notify(); };
    sigemptyset(&a.sa_mask);
    sigkit::scoped_action act(sigkit::user1, a);
    // Taken by this thread, asleep in poll().
    const std::jthread t = sigkit_test::send_to_self_from_thread(sigkit::user1);
    CHECK(readable(w.fd(), 5000));
    errno = 1234;
    w.notify();
    CHECK(errno == 1234);
    CHECK(w.drain());
  });
}

TEST_CASE("failure to open the descriptor is reported with errno") {
  auto& sys = sigkit::detail::sys();
  const auto real_e = sys.eventfd;
  const auto real_p = sys.pipe;
  sys.eventfd = [](unsigned, int) noexcept -> int {
    errno = EMFILE;
    return -1;
  };
  sys.pipe = [](int*) noexcept -> int {
    errno = EMFILE;
    return -1;
  };
  std::error_code ec;
  sigkit::wakeup w(ec);
  CHECK(ec == std::errc::too_many_files_open);
  CHECK_FALSE(w.valid());
  CHECK_THROWS_AS(sigkit::wakeup{}, std::system_error);
  sys.eventfd = real_e;
  sys.pipe = real_p;
}
