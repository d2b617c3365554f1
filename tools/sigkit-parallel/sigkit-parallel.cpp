// sigkit-parallel: run shell commands in parallel, each in its own process
// group, the way a test runner should: Ctrl-C stops them all (a second one
// kills them) and then sigkit-parallel dies of SIGINT, so a shell loop around
// it stops too; Ctrl-Z suspends them all and `fg` resumes them, with their
// timeouts paused meanwhile.
//
//   sigkit-parallel [-j N] [--timeout DUR] [--grace DUR] [-v] [--] [CMD...]
//
// Each CMD is one command line for /bin/sh -c; with none, one per line from
// standard input. A thin front end to sigkit::supervisor
// (include/sigkit/supervisor.hpp).
#include <sigkit/supervisor.hpp>
#include <sigkit/version.hpp>

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <deque>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <vector>

#include "../common/duration.hpp"

namespace {

constexpr int exit_ok = 0;
constexpr int exit_failed = 1;  // a command failed, timed out or could not start
constexpr int exit_usage = 2;   // sigkit-parallel's own error

const char* const usage = R"(usage: sigkit-parallel [options] [--] [command...]

Runs each command (one shell command line each, through /bin/sh -c; with
none given, one per line from standard input), at most N at once, each in a
process group of its own, with standard input from /dev/null.

  Ctrl-C   forwarded to every command; no new command starts; a second
           Ctrl-C (or the grace period) kills them all; then sigkit-parallel
           dies of SIGINT, so a shell loop around it stops too
  Ctrl-Z   stops every command and sigkit-parallel; fg resumes them all;
           time spent stopped does not count toward --timeout

options:
  -j, --jobs N        run at most N commands at once (default: the number of
                      CPUs)
  -t, --timeout DUR   SIGTERM a command's process group once it has run DUR
                      (e.g. 30s, 500ms, 2m); SIGKILL after the grace period
  -g, --grace DUR     between SIGTERM and SIGKILL, for --timeout and after
                      the first Ctrl-C or SIGTERM (default 5s; 0: SIGKILL at
                      once)
  -v, --verbose       log every start, end and signal decision to stderr
  -h, --help          this text
      --version       sigkit's version

exit status: 0 if every command exited 0; 1 otherwise (one line per failed
or timed-out command on stderr); 2 for a usage error. Interrupted: dies of
the signal (SIGINT, SIGTERM, SIGHUP or SIGQUIT).
)";

[[noreturn]] void usage_error(const std::string& message) {
  std::cerr << "sigkit-parallel: " << message << " (see --help)\n";
  std::exit(exit_usage);  // NOLINT(concurrency-mt-unsafe): before any thread
}

std::string seconds(std::chrono::nanoseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", std::chrono::duration<double>(d).count());
  return buf;
}

/// Commands given as arguments, or read line by line from a descriptor as
/// they are needed (a generator on the other end of a pipe may be slow).
class command_source {
 public:
  explicit command_source(std::deque<std::string> given) : queued_(std::move(given)) {}
  explicit command_source(int fd) : fd_(fd) {}

  /// The next command if one is at hand.
  std::optional<std::string> next() {
    while (queued_.empty() && split_line()) {
    }
    if (queued_.empty()) return std::nullopt;
    std::string c = std::move(queued_.front());
    queued_.pop_front();
    return c;
  }
  /// Puts a command back (it could not start yet).
  void unget(std::string c) { queued_.push_front(std::move(c)); }
  /// Nothing at hand and nothing more will come.
  bool done() const { return queued_.empty() && fd_ < 0 && partial_.empty(); }
  /// The descriptor to poll for more, or -1.
  int fd() const { return queued_.empty() ? fd_ : -1; }
  /// Reads what the descriptor has (call when it polled readable).
  void fill() {
    char buf[4096];
    const ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n <= 0) {
      ::close(fd_);
      fd_ = -1;
      if (!partial_.empty()) partial_ += '\n';  // a last line without a newline
      return;
    }
    partial_.append(buf, static_cast<std::size_t>(n));
  }
  /// Commands at hand that were never started.
  std::size_t left() {
    while (split_line()) {
    }
    return queued_.size() + (partial_.find_first_not_of(" \t\r") == std::string::npos ? 0 : 1);
  }

 private:
  bool split_line() {
    const auto nl = partial_.find('\n');
    if (nl == std::string::npos) return false;
    std::string line = partial_.substr(0, nl);
    partial_.erase(0, nl + 1);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") != std::string::npos) queued_.push_back(std::move(line));
    return true;
  }

  std::deque<std::string> queued_;
  std::string partial_;
  int fd_ = -1;
};

struct settings {
  std::size_t jobs = 1;
  sigkit::supervisor_options supervise;
  bool verbose = false;
  std::deque<std::string> commands;
  bool from_stdin = true;
};

settings parse(int argc, char** argv) {
  settings s;
  const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  s.jobs = cpus > 0 ? static_cast<std::size_t>(cpus) : 1;
  s.supervise.shutdown_grace = s.supervise.timeout_grace = std::chrono::seconds(5);
  int i = 1;
  for (; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&]() -> std::string_view {
      if (i + 1 >= argc) usage_error("option " + std::string(arg) + " needs a value");
      return argv[++i];
    };
    auto duration = [&]() {
      const std::string_view text = value();
      std::string why;
      const auto d = sigkit_tools::parse_duration(text, why);
      if (!d) usage_error(why);
      return *d;
    };
    if (arg == "--") {
      ++i;
      break;
    }
    if (arg.empty() || arg[0] != '-') break;
    if (arg == "-h" || arg == "--help") {
      std::cout << usage;
      std::exit(exit_ok);  // NOLINT(concurrency-mt-unsafe): before any thread
    }
    if (arg == "--version") {
      std::cout << "sigkit-parallel " << sigkit::version_string << "\n";
      std::exit(exit_ok);  // NOLINT(concurrency-mt-unsafe): before any thread
    }
    if (arg == "-j" || arg == "--jobs") {
      const std::string_view text = value();
      std::size_t n = 0;
      const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
      if (ec != std::errc() || p != text.data() + text.size() || n == 0)
        usage_error("bad job count '" + std::string(text) + "' (a whole number, at least 1)");
      s.jobs = n;
    } else if (arg == "-t" || arg == "--timeout") {
      s.supervise.timeout = duration();
    } else if (arg == "-g" || arg == "--grace") {
      s.supervise.timeout_grace = duration();
      // The supervisor reads a shutdown grace of zero as "no SIGKILL timer";
      // for this tool zero means what it means after a timeout: at once.
      s.supervise.shutdown_grace = std::max(s.supervise.timeout_grace, std::chrono::nanoseconds(1));
    } else if (arg == "-v" || arg == "--verbose") {
      s.verbose = true;
    } else {
      usage_error("unknown option '" + std::string(arg) + "'");
    }
  }
  for (; i < argc; ++i) s.commands.emplace_back(argv[i]);
  s.from_stdin = s.commands.empty();
  return s;
}

/// The runner: starts commands as slots free up, reports each end.
class runner {
 public:
  runner(settings& s, command_source& commands) : s_(s), commands_(commands) {
    s_.supervise.on_shutdown = [this](sigkit::signal sig) { on_shutdown(sig); };
    if (s_.verbose)
      s_.supervise.log = [](const std::string& line) { std::fprintf(stderr, "sigkit-parallel: %s\n", line.c_str()); };
    sup_.emplace(s_.supervise);
  }

  /// Runs everything; returns the exit status, or the signal to die of.
  std::pair<int, std::optional<sigkit::exit_status>> run() {
    for (;;) {
      start_what_fits();
      while (auto e = sup_->try_next()) report(*e);
      const bool stopping = sup_->shutting_down();
      if (sup_->running() == 0 && (stopping || commands_.done())) break;
      pollfd fds[3] = {{sup_->fd(), POLLIN, 0},
                       {shutdown_wake_.fd(), POLLIN, 0},
                       {stopping || sup_->running() >= s_.jobs ? -1 : commands_.fd(), POLLIN, 0}};
      if (::poll(fds, 3, -1) > 0 && fds[2].revents != 0) commands_.fill();
      shutdown_wake_.drain();
    }
    while (auto e = sup_->try_next()) report(*e);
    const auto interrupted = sup_->shutdown_status();
    if (interrupted) {
      std::fprintf(stderr, "sigkit-parallel: interrupted by %s: %zu command%s stopped, %zu not started\n",
                   std::string(interrupted->signal().name()).c_str(), stopped_, stopped_ == 1 ? "" : "s",
                   commands_.left());
    }
    sup_.reset();  // every disposition back before dying of the signal
    return {failed_ == 0 ? exit_ok : exit_failed, interrupted};
  }

 private:
  void start_what_fits() {
    while (!sup_->shutting_down() && sup_->running() < s_.jobs) {
      auto command = commands_.next();
      if (!command) return;
      std::error_code ec;
      const std::vector<std::string> argv{"/bin/sh", "-c", *command};
      const std::uint64_t id = sup_->spawn(argv, {}, ec);
      if (ec == std::errc::operation_canceled) {
        commands_.unget(std::move(*command));
        return;
      }
      if (ec) {
        ++failed_;
        std::fprintf(stderr, "sigkit-parallel: '%s' could not start: %s\n", command->c_str(), ec.message().c_str());
        continue;
      }
      if (s_.verbose)
        std::fprintf(stderr, "sigkit-parallel: started [%llu] %s\n", static_cast<unsigned long long>(id),
                     command->c_str());
      running_.emplace(id, std::move(*command));
    }
  }

  void report(const sigkit::child_end& e) {
    const auto it = running_.find(e.id);
    const std::string command = it != running_.end() ? it->second : std::string("?");
    if (it != running_.end()) running_.erase(it);
    if (e.shutdown && !e.timed_out) {
      ++stopped_;  // ended by the shutdown: counted in one line at the end
      if (e.status.code() != 0) ++failed_;
      return;
    }
    if (e.status.code() == 0 && !e.timed_out) return;
    ++failed_;
    std::string what = e.timed_out ? "timed out after " + seconds(e.wall - e.stopped) + ": " + e.status.describe()
                                   : e.status.describe() + " after " + seconds(e.wall - e.stopped);
    if (e.stopped.count() > 0) what += " (and " + seconds(e.stopped) + " stopped)";
    std::fprintf(stderr, "sigkit-parallel: '%s' %s\n", command.c_str(), what.c_str());
  }

  // On the supervisor's thread.
  void on_shutdown(sigkit::signal sig) {
    std::fprintf(stderr, "sigkit-parallel: %s: no new commands; stopping the running ones (%s again kills them)\n",
                 std::string(sig.name()).c_str(), std::string(sig.name()).c_str());
    shutdown_wake_.notify();
  }

  settings& s_;
  command_source& commands_;
  sigkit::wakeup shutdown_wake_;
  std::optional<sigkit::supervisor> sup_;
  std::unordered_map<std::uint64_t, std::string> running_;
  std::size_t failed_ = 0;
  std::size_t stopped_ = 0;
};

/// Everything but the exit: the status, or the signal to die of.
std::pair<int, std::optional<sigkit::exit_status>> run_all(settings& s) {
  // Commands from standard input are read from a copy of it; every command
  // gets /dev/null instead (in a background group, reading the terminal
  // would stop it).
  int commands_fd = -1;
  if (s.from_stdin) commands_fd = ::fcntl(0, F_DUPFD_CLOEXEC, 3);
  const int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null < 0 || ::dup2(null, 0) < 0)
    throw std::system_error(std::error_code(errno, std::generic_category()), "/dev/null");
  ::close(null);
  command_source commands = s.from_stdin ? command_source(commands_fd) : command_source(std::move(s.commands));
  runner r(s, commands);
  return r.run();
}

}  // namespace

int main(int argc, char** argv) {
  std::pair<int, std::optional<sigkit::exit_status>> result;
  try {
    settings s = parse(argc, argv);
    result = run_all(s);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sigkit-parallel: %s\n", e.what());
    return exit_usage;
  } catch (...) {
    return exit_usage;
  }
  if (result.second) result.second->mirror();
  return result.first;
}
