// Tests for sigkit/action.hpp and sigkit/mask.hpp: scoped dispositions with
// exact restore, queries, default-action emulation, scoped blocking.
#include <sigkit/action.hpp>
#include <sigkit/mask.hpp>
#include <sigkit/stream.hpp>

#include <pthread.h>
#include <unistd.h>

#include <thread>

#include "support.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using sigkit_test::in_child;

namespace {
std::atomic<int> g_hits{0};
void count_hit(int) { g_hits.fetch_add(1); }
}  // namespace

TEST_CASE("ignore and use_default restore the previous disposition exactly") {
  in_child([] {
    const auto before = sigkit_test::all_dispositions::capture();
    {
      auto ign = sigkit::ignore(sigkit::user1);
      CHECK(ign.active());
      CHECK(ign.target() == sigkit::user1);
      CHECK(sigkit::disposition_of(sigkit::user1).kind == sigkit::disposition::ign);
      ::raise(SIGUSR1);  // ignored: survives
      {
        auto dfl = sigkit::use_default(sigkit::user1);
        CHECK(sigkit::disposition_of(sigkit::user1).kind == sigkit::disposition::dfl);
      }
      CHECK(sigkit::disposition_of(sigkit::user1).kind == sigkit::disposition::ign);
    }
    CHECK(sigkit_test::all_dispositions::capture().diff(before) == "");
  });
}

TEST_CASE("a scoped action with a handler, flags and mask is installed and undone exactly") {
  in_child([] {
    const auto before = sigkit_test::all_dispositions::capture();
    struct sigaction a {};
    a.sa_handler = count_hit;
    a.sa_flags = SA_RESTART;
    sigemptyset(&a.sa_mask);
    sigaddset(&a.sa_mask, SIGTERM);
    {
      sigkit::scoped_action act(sigkit::hangup, a);
      const auto d = sigkit::disposition_of(sigkit::hangup);
      CHECK(d.kind == sigkit::disposition::handler);
      CHECK_FALSE(d.ours);
      CHECK((d.flags & SA_RESTART) != 0);
      CHECK(d.mask == sigkit::signal_set{sigkit::terminate});
      const bool was_default = act.previous().sa_handler == SIG_DFL;
      CHECK(was_default);
      g_hits = 0;
      ::raise(SIGHUP);
      CHECK(g_hits.load() == 1);
      sigkit::scoped_action moved = std::move(act);
      CHECK_FALSE(act.active());  // NOLINT(bugprone-use-after-move)
      CHECK(moved.active());
    }
    CHECK(sigkit_test::all_dispositions::capture().diff(before) == "");
  });
}

TEST_CASE("scoped actions on one signal can be undone in any order") {
  in_child([] {
    const auto before = sigkit_test::all_dispositions::capture();
    for (int order = 0; order < 6; ++order) {
      auto a = std::make_unique<sigkit::scoped_action>(sigkit::ignore(sigkit::pipe));
      auto b = std::make_unique<sigkit::scoped_action>(sigkit::use_default(sigkit::pipe));
      auto c = std::make_unique<sigkit::scoped_action>(sigkit::ignore(sigkit::pipe));
      std::unique_ptr<sigkit::scoped_action>* all[] = {&a, &b, &c};
      const int perms[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
      for (int i : perms[order]) all[i]->reset();
      CAPTURE(order);
      CHECK(sigkit_test::all_dispositions::capture().diff(before) == "");
    }
  });
}

TEST_CASE("release keeps the installed action") {
  in_child([] {
    {
      auto ign = sigkit::ignore(sigkit::user2);
      ign.release();
      CHECK_FALSE(ign.active());
    }
    CHECK(sigkit::disposition_of(sigkit::user2).kind == sigkit::disposition::ign);
  });
}

TEST_CASE("bad signals are refused with a message naming them, and nothing changes") {
  in_child([] {
    const auto before = sigkit_test::all_dispositions::capture();
    CHECK_THROWS_WITH_AS(sigkit::ignore(sigkit::signal{SIGKILL}), doctest::Contains("SIGKILL cannot be caught"),
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS(sigkit::use_default(sigkit::signal{SIGSTOP}), doctest::Contains("SIGSTOP"),
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS(sigkit::ignore(sigkit::signal{0}), doctest::Contains("signal 0 is not a valid"),
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS(sigkit::ignore(sigkit::signal{NSIG}), doctest::Contains("is not a valid"),
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS(sigkit::ignore(sigkit::signal{33}), doctest::Contains("reserved by the C library"),
                         std::invalid_argument);
    CHECK_THROWS_AS(sigkit::disposition_of(sigkit::signal{-3}), std::invalid_argument);
    std::error_code ec;
    auto bad = sigkit::ignore(sigkit::signal{SIGKILL}, ec);
    CHECK(ec == std::errc::invalid_argument);
    CHECK_FALSE(bad.active());
    CHECK(sigkit_test::all_dispositions::capture().diff(before) == "");
  });
}

TEST_CASE("a failing sigaction is reported as system_error and changes nothing") {
  in_child([] {
    const auto before = sigkit_test::all_dispositions::capture();
    auto& sys = sigkit::detail::sys();
    const auto real = sys.sigaction;
    sys.sigaction = [](int, const struct sigaction*, struct sigaction*) noexcept -> int {
      errno = EPERM;
      return -1;
    };
    CHECK_THROWS_WITH_AS(sigkit::ignore(sigkit::user1), doctest::Contains("sigaction(SIGUSR1) failed"),
                         std::system_error);
    CHECK_THROWS_AS(sigkit::stream{{sigkit::user1}}, std::system_error);
    std::error_code ec;
    sigkit::stream s({sigkit::user1, sigkit::user2}, {}, ec);
    CHECK(ec == std::errc::operation_not_permitted);
    sys.sigaction = real;
    CHECK(sigkit_test::all_dispositions::capture().diff(before) == "");
  });
}

TEST_CASE("a stream over several signals is all or nothing when one sigaction fails") {
  in_child([] {
    const auto before = sigkit_test::all_dispositions::capture();
    auto& sys = sigkit::detail::sys();
    const auto real = sys.sigaction;
    static decltype(sys.sigaction) s_real;
    s_real = real;
    sys.sigaction = [](int n, const struct sigaction* a, struct sigaction* o) noexcept -> int {
      if (n == SIGUSR2 && a != nullptr) {
        errno = EINVAL;
        return -1;
      }
      return s_real(n, a, o);
    };
    CHECK_THROWS_WITH_AS((sigkit::stream{{sigkit::user1, sigkit::user2, sigkit::hangup}}),
                         doctest::Contains("sigaction(SIGUSR2) failed"), std::system_error);
    sys.sigaction = real;
    CHECK(sigkit_test::all_dispositions::capture().diff(before) == "");
    sigkit::stream ok{{sigkit::user1, sigkit::user2}};  // and the table is still usable
    ::raise(SIGUSR2);
    CHECK(ok.recv_for(5s).has_value());
  });
}

TEST_CASE("raise_default dies of the signal, stops for stop signals, and ignores what is ignored") {
  auto r = sigkit_test::run_child([] {
    sigkit::stream s{{sigkit::terminate}};  // even with sigkit's handler installed
    sigkit::raise_default(sigkit::terminate);
    ::_exit(0);
  });
  CHECK(r.signaled);
  CHECK(r.signo == SIGTERM);

  sigkit_test::in_child([] {
    sigkit::raise_default(sigkit::child);  // default: ignore
    sigkit::raise_default(sigkit::window_change);
    sigkit::raise_default(sigkit::signal{SIGKILL});  // not catchable: refused quietly
  });
}

TEST_CASE("scoped_block blocks for the scope and unblocks only what it added") {
  in_child([] {
    const sigkit::signal_set start = sigkit::blocked_signals();
    {
      sigkit::scoped_block outer{{sigkit::user1, sigkit::user2}};
      CHECK(outer.added() == (sigkit::signal_set{sigkit::user1, sigkit::user2} - start));
      {
        sigkit::scoped_block inner{{sigkit::user2, sigkit::hangup}};
        CHECK(inner.added() == sigkit::signal_set{sigkit::hangup});
        CHECK(sigkit::blocked_signals().contains(sigkit::hangup));
      }
      CHECK(sigkit::blocked_signals().contains(sigkit::user2));  // still held by outer
      CHECK_FALSE(sigkit::blocked_signals().contains(sigkit::hangup));
      // A blocked signal stays pending until the scope ends.
      sigkit::stream s{{sigkit::user1}};
      ::raise(SIGUSR1);
      CHECK_FALSE(s.try_recv().has_value());
      outer.reset();
      CHECK(s.recv_for(5s).has_value());
    }
    CHECK(sigkit::blocked_signals() == start);
  });
}
