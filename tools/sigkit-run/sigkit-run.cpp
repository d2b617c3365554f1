// sigkit-run: run a command with signals forwarded to it, the way an init
// shim (tini, dumb-init) or `uv run` does, and exit the way it exited.
//
//   sigkit-run [options] [--] command [args...]
//
// Usable as a container entrypoint (`ENTRYPOINT ["sigkit-run", "--reap",
// "--"]`) or as a wrapper in scripts: Ctrl-C, Ctrl-Z and `fg` behave as if
// the command had been run directly.
#include <sigkit/run.hpp>
#if __has_include(<sigkit/version.hpp>)
#include <sigkit/version.hpp>
#define SIGKIT_RUN_VERSION sigkit::version_string
#else
#define SIGKIT_RUN_VERSION "(version unknown)"
#endif

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace {

constexpr int exit_own_error = 125;       // sigkit-run itself failed
constexpr int exit_not_executable = 126;  // found but could not be executed
constexpr int exit_not_found = 127;       // no such command

const char* const usage = R"(usage: sigkit-run [options] [--] command [args...]

Runs command, forwards every catchable signal to it (except SIGCHLD, and
SIGIO) and exits the way it exited: same exit code, or death by the same
signal (core dumps disabled).

options:
  -g, --group             run the command in its own process group and signal
                          the whole group; it gets the terminal if
                          sigkit-run was in the foreground
  -s, --session           run the command in a new session (no terminal)
  -k, --kill-after DUR    SIGKILL the command DUR after a forwarded
                          TERM/INT/QUIT/HUP (e.g. 10s, 500ms, 2m); a second
                          such signal kills at once
  -r, --reap              become a subreaper: reap orphaned descendants
  -w, --wait-descendants  with --reap: when the command exits, SIGTERM its
                          group and wait for every descendant (SIGKILL after
                          the --kill-after duration, default 10s)
      --signals LIST      forward only these signals (comma-separated:
                          TERM,INT,HUP or 15,2,1)
      --pdeathsig SIG     the command gets SIG if sigkit-run dies
      --shell-code        if the command dies of signal N, exit 128+N instead
                          of dying of N
      --no-job-control    do not stop when the command stops
      --via-handler       take signals through sigkit's handler, not a
                          signalfd (slower; the path sigkit::run() takes
                          by default)
  -v, --verbose           log every forwarding decision to stderr
  -h, --help              this text
      --version           sigkit's version

exit status: the command's, or 125 (sigkit-run's own error), 126 (command
not executable), 127 (command not found).
)";

[[noreturn]] void fail(const std::string& message) {
  std::cerr << "sigkit-run: " << message << "\n";
  std::exit(exit_own_error);
}

std::chrono::nanoseconds parse_duration(std::string_view text) {
  double value = 0;
  const auto* end = text.data() + text.size();
  const auto [p, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || !(value >= 0)) fail("bad duration '" + std::string(text) + "' (try 10s, 500ms or 2m)");
  const std::string_view unit(p, static_cast<std::size_t>(end - p));
  double seconds = value;
  if (unit == "ms")
    seconds = value / 1000;
  else if (unit == "m")
    seconds = value * 60;
  else if (unit != "s" && !unit.empty())
    fail("bad duration unit '" + std::string(unit) + "' in '" + std::string(text) + "' (use ms, s or m)");
  // Longer than nanoseconds can count (292 years): the longest there is,
  // which sigkit takes as "never" (converting it would overflow).
  if (seconds >= 9.2e9) return std::chrono::nanoseconds::max();
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(seconds));
}

sigkit::signal parse_signal(std::string_view text) {
  const auto s = sigkit::signal::parse(text);
  if (!s) fail("unknown signal '" + std::string(text) + "'");
  return *s;
}

sigkit::signal_set parse_signal_list(std::string_view text) {
  sigkit::signal_set out;
  while (!text.empty()) {
    const auto comma = text.find(',');
    const sigkit::signal s = parse_signal(text.substr(0, comma));
    if (!s.catchable() || s.synchronous() || s.number() == SIGCHLD)
      fail("cannot forward " + std::string(s.name()) + " through --signals");
    out.insert(s);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  sigkit::run_options options;
  // sigkit-run owns its process: it can leave the forwarded signals blocked
  // in every thread and take them from the kernel directly (lower latency).
  options.forward.dequeue_directly = true;
#if defined(SIGKIT_RUN_VIA_HANDLER)
  options.forward.dequeue_directly = false;  // a test build of the handler path
#endif
  bool shell_code = false;
  bool verbose = false;
  std::optional<std::chrono::nanoseconds> kill_after;
  int i = 1;
  for (; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&]() -> std::string_view {
      if (i + 1 >= argc) fail("option " + std::string(arg) + " needs a value");
      return argv[++i];
    };
    if (arg == "--") {
      ++i;
      break;
    }
    if (arg.empty() || arg[0] != '-') break;
    if (arg == "-h" || arg == "--help") {
      std::cout << usage;
      return 0;
    }
    if (arg == "--version") {
      std::cout << "sigkit-run " << SIGKIT_RUN_VERSION << "\n";
      return 0;
    }
    if (arg == "-g" || arg == "--group") {
      options.spawn.new_process_group = true;
      options.spawn.foreground = true;
      options.forward.to_group = true;
    } else if (arg == "-s" || arg == "--session") {
      options.spawn.new_session = true;
      options.forward.to_group = true;
    } else if (arg == "-k" || arg == "--kill-after") {
      kill_after = parse_duration(value());
    } else if (arg == "-r" || arg == "--reap") {
      options.reap = true;
    } else if (arg == "-w" || arg == "--wait-descendants") {
      options.wait_descendants = true;
    } else if (arg == "--signals") {
      options.forward.signals = parse_signal_list(value());
    } else if (arg == "--pdeathsig") {
      options.spawn.parent_death_signal = parse_signal(value());
    } else if (arg == "--shell-code") {
      shell_code = true;
    } else if (arg == "--via-handler") {
      options.forward.dequeue_directly = false;
    } else if (arg == "--no-job-control") {
      options.forward.job_control = false;
    } else if (arg == "-v" || arg == "--verbose") {
      verbose = true;
    } else {
      fail("unknown option '" + std::string(arg) + "' (see --help)");
    }
  }
  if (i >= argc) fail("no command given (see --help)");
  if (options.wait_descendants && !options.reap) fail("--wait-descendants needs --reap");
  if (kill_after) {
    options.forward.kill_after = *kill_after;
    options.descendants_grace = *kill_after;
  }
  if (verbose)
    options.forward.log = [](const std::string& line) { std::fprintf(stderr, "sigkit-run: %s\n", line.c_str()); };

  const std::vector<std::string> command(argv + i, argv + argc);
  sigkit::exit_status status;
  try {
    status = sigkit::run(command, options);
  } catch (const std::system_error& e) {
    const int err = e.code().value();
    if (e.code().category() == std::generic_category() && (err == ENOENT || err == ENOTDIR)) {
      std::cerr << "sigkit-run: " << command[0] << ": command not found\n";
      return exit_not_found;
    }
    if (e.code().category() == std::generic_category() && (err == EACCES || err == ENOEXEC || err == EISDIR)) {
      std::cerr << "sigkit-run: " << command[0] << ": cannot execute: " << std::strerror(err) << "\n";
      return exit_not_executable;
    }
    fail(e.what());
  } catch (const std::exception& e) {
    fail(e.what());
  }
  if (verbose) std::fprintf(stderr, "sigkit-run: %s %s\n", command[0].c_str(), status.describe().c_str());
  if (shell_code) return status.shell_code();
  status.mirror();
}
