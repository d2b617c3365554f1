#define DOCTEST_CONFIG_IMPLEMENT
#ifndef DOCTEST_CONFIG_NO_POSIX_SIGNALS
#define DOCTEST_CONFIG_NO_POSIX_SIGNALS  // doctest must not install handlers of its own
#endif
#include "support.hpp"

#include <dirent.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <iostream>
#include <sigkit/detail/sys.hpp>
#include <sigkit/signal.hpp>

#include <doctest/doctest.h>

namespace {

std::atomic<int> g_failed_asserts{0};
std::atomic<int> g_cases_started{0};

// Counts failed assertions so that a forked child can report them through
// its exit status.
struct failure_counter : doctest::IReporter {
  explicit failure_counter(const doctest::ContextOptions&) {}
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats&) override {}
  void test_case_start(const doctest::TestCaseData&) override { g_cases_started.fetch_add(1); }
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats&) override {}
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  // A failed WARN is reported here too, and does not count.
  void log_assert(const doctest::AssertData& data) override {
    if (data.m_failed && (data.m_at & doctest::assertType::is_warn) == 0) g_failed_asserts.fetch_add(1);
  }
  // FAIL_CHECK and FAIL arrive here, not in log_assert; WARN does not count.
  void log_message(const doctest::MessageData& data) override {
    if ((data.m_severity & doctest::assertType::is_warn) == 0) g_failed_asserts.fetch_add(1);
  }
  // Cases skipped by a decorator (e.g. under TSan) count as matched: doctest
  // reports them here, like the filtered-out ones, but only they have m_skip.
  void test_case_skipped(const doctest::TestCaseData& data) override {
    if (data.m_skip) g_cases_started.fetch_add(1);
  }
};
DOCTEST_REGISTER_LISTENER("sigkit_failure_counter", 1, failure_counter);

}  // namespace

namespace sigkit_test {

std::string child_result::describe() const {
  if (timed_out) return "timed out (killed by the watchdog)";
  if (exited) return "exited with code " + std::to_string(code);
  if (signaled) return std::string("killed by ") + std::string(sigkit::signal{signo}.name());
  return "unknown";
}

int wait_pid_for(pid_t pid, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      if (pidfd >= 0) ::close(pidfd);
      return status;
    }
    if (r < 0 && errno != EINTR) {
      if (pidfd >= 0) ::close(pidfd);
      return -1;
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      if (pidfd >= 0) ::close(pidfd);
      return -1;
    }
    if (pidfd >= 0) {
      pollfd p{pidfd, POLLIN, 0};
      ::poll(&p, 1, static_cast<int>(left.count()));  // readable when the child exits
    } else {
      ::usleep(1000);  // no pidfd (old kernel): poll the status
    }
  }
}

child_result run_child(const std::function<void()>& body, std::chrono::milliseconds limit) {
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  REQUIRE_MESSAGE(pid >= 0, "fork failed: " << std::string(std::strerror(errno)));
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test runner
    g_failed_asserts.store(0);
    int code = 0;
    try {
      body();
      code = g_failed_asserts.load() == 0 ? 0 : 1;
    } catch (const std::exception& e) {
      std::cout << "child: uncaught exception: " << e.what() << std::endl;
      code = 2;
    } catch (...) {
      code = g_failed_asserts.load() == 0 ? 2 : 1;  // a failed REQUIRE throws
    }
    std::cout.flush();
    std::fflush(nullptr);
    ::_exit(code);
  }
  const int status = wait_pid_for(pid, limit);
  child_result r;
  if (status == -1) {
    r.timed_out = true;
    return r;
  }
  if (WIFEXITED(status)) {
    r.exited = true;
    r.code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    r.signaled = true;
    r.signo = WTERMSIG(status);
  }
  return r;
}

void in_child(const std::function<void()>& body, std::chrono::milliseconds limit) {
  const child_result r = run_child(body, limit);
  CHECK_MESSAGE((r.exited && r.code == 0), "forked test body " << r.describe());
}

void in_subreaper_child(const std::function<void()>& body, std::chrono::milliseconds limit) {
  in_child(
      [&] {
        REQUIRE(sigkit::detail::become_subreaper() == 0);
        body();
        int st = 0;
        while (::waitpid(-1, &st, WNOHANG) > 0) {
        }
      },
      limit);
}

int open_fd_count() {
  int n = 0;
  DIR* d = ::opendir("/proc/self/fd");
  if (d == nullptr) return -1;
  while (dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') ++n;
  ::closedir(d);
  return n - 1;  // the directory stream's own descriptor
}

bool same_disposition(const struct sigaction& a, const struct sigaction& b) {
  const bool ai = (a.sa_flags & SA_SIGINFO) != 0;
  if (ai != ((b.sa_flags & SA_SIGINFO) != 0)) return false;
  if (ai ? a.sa_sigaction != b.sa_sigaction : a.sa_handler != b.sa_handler) return false;
  // Every flag except SA_RESTORER, which glibc's sigaction() adds to every
  // call it makes (and the kernel reports back): a never-touched SIG_DFL has
  // flags 0, the same SIG_DFL set through the C library has SA_RESTORER.
  constexpr int restorer = 0x04000000;
  if ((a.sa_flags & ~restorer) != (b.sa_flags & ~restorer)) return false;
  // TSan's sigaction interceptor reports a rewritten mask for SIG_DFL and
  // SIG_IGN (plain C code shows the same); there the mask has no effect.
  if (under_tsan && !ai && (a.sa_handler == SIG_DFL || a.sa_handler == SIG_IGN)) return true;
  for (int n = 1; n < NSIG; ++n)
    if (sigismember(&a.sa_mask, n) != sigismember(&b.sa_mask, n)) return false;
  return true;
}

all_dispositions all_dispositions::capture() {
  all_dispositions d{};
  for (int n = 1; n < NSIG; ++n) ::sigaction(n, nullptr, &d.act[n]);
  return d;
}

std::string all_dispositions::diff(const all_dispositions& other) const {
  std::string out;
  for (int n = 1; n < NSIG; ++n)
    if (!same_disposition(act[n], other.act[n])) out += std::string(sigkit::signal{n}.name()) + " ";
  return out;
}

std::string helper_path(const std::string& name) { return std::string(SIGKIT_TEST_HELPER_DIR) + "/" + name; }

}  // namespace sigkit_test

namespace sigkit_test::variant {
extern const bool checked;  // tests/variant_check.cpp, compiled into each test program
}

int main(int argc, char** argv) {
  if (!sigkit_test::variant::checked) return 1;
  doctest::Context ctx;
  ctx.applyCommandLine(argc, argv);
  const int rc = ctx.run();
  if (rc == 0 && g_cases_started.load() == 0 && !ctx.shouldExit()) {
    // A ctest entry whose filter matches no test case must not pass
    // vacuously (e.g. a case name that ctest split at a ';').
    std::fputs("sigkit tests: no test case matched the filter\n", stderr);
    return 1;
  }
  return rc;
}
