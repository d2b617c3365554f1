// sigkit-run: run a command with signals forwarded to it, the way an init
// shim (tini, dumb-init) or `uv run` does, and exit the way it exited.
//
//   sigkit-run [options] [--] command [args...]
//
// Usable as a container entrypoint (`ENTRYPOINT ["sigkit-run", "--reap",
// "--"]`) or as a wrapper in scripts: Ctrl-C, Ctrl-Z and `fg` behave as if
// the command had been run directly.
#include <sigkit/action.hpp>
#include <sigkit/run.hpp>
#if __has_include(<sigkit/version.hpp>)
#include <sigkit/version.hpp>
#define SIGKIT_RUN_VERSION sigkit::version_string
#else
#define SIGKIT_RUN_VERSION "(version unknown)"
#endif

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <string_view>
#include <system_error>

#include "../common/duration.hpp"

namespace {

constexpr int exit_own_error = 125;  // sigkit-run itself failed (126 and 127: sigkit::run, as sh does)

const char* const usage = R"(usage: sigkit-run [options] [--] command [args...]

Runs command, forwards every catchable signal to it (all but SIGCHLD) and
exits the way it exited: same exit code, or death by the same signal (core
dumps disabled). No signal but SIGKILL kills sigkit-run while the command
runs.

options:
  -g, --group             run the command in its own process group and signal
                          the whole group; it gets the terminal if
                          sigkit-run was in the foreground
  -s, --session           run the command in a new session, which gets
                          sigkit-run's terminal if sigkit-run leads the
                          terminal's session (a container's PID 1), and
                          signal its process group
  -k, --kill-after DUR    SIGKILL the command DUR after a forwarded
                          TERM/INT/QUIT/HUP (e.g. 10s, 500ms, 2m); a second
                          such signal kills at once
  -r, --reap              become a subreaper: reap orphaned descendants
                          (implied as PID 1, and when sigkit-run was
                          started as a subreaper)
  -w, --wait-descendants  with --reap: when the command exits, SIGTERM the
                          rest of its group (-g) or session (-s), wait for
                          every descendant, and once the grace period is
                          over SIGKILL every descendant still there; then
                          exit as the command did
      --grace DUR         the grace period of -w (default: the --kill-after
                          duration, or 10s; 0: SIGKILL at once)
      --term-rest         with -g or -s: when the command exits, SIGTERM
                          the rest of its group or session and exit at once
                          (dumb-init's setsid mode; -w implies the SIGTERM)
      --signals LIST      forward only these signals (comma-separated:
                          TERM,INT,HUP or 15,2,1); the others are ignored
      --rewrite FROM:TO   forward signal FROM as signal TO (names or
                          numbers), or not at all if TO is 0; repeatable
                          (e.g. --rewrite TERM:QUIT)
      --pdeathsig SIG     the command gets SIG if sigkit-run dies
      --shell-code        if the command dies of signal N, exit 128+N instead
                          of dying of N
      --no-job-control    do not stop when the command stops
      --reset-signals     start the command with every signal at its
                          default and none blocked (by default it keeps
                          the signals ignored and the mask sigkit-run
                          inherited, so `nohup sigkit-run cmd` works)
      --via-handler       take signals through sigkit's handler, not
                          sigtimedwait() (slower; the path sigkit::run()
                          takes by default)
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
  std::string why;
  const auto d = sigkit_tools::parse_duration(text, why);
  if (!d) fail(why);
  return *d;
}

sigkit::signal parse_signal(std::string_view text) {
  const auto s = sigkit::signal::parse(text);
  if (!s) fail("unknown signal '" + std::string(text) + "'");
  return *s;
}

// FROM:TO, each a signal name or number; TO 0 drops FROM.
sigkit::signal_rewrite parse_rewrite(std::string_view text) {
  const auto colon = text.find(':');
  if (colon == std::string_view::npos || text.find(':', colon + 1) != std::string_view::npos)
    fail("bad --rewrite '" + std::string(text) + "' (use FROM:TO, e.g. TERM:QUIT, or TERM:0 to drop TERM)");
  sigkit::signal_rewrite r{parse_signal(text.substr(0, colon)), std::nullopt};
  if (text.substr(colon + 1) != "0") r.to = parse_signal(text.substr(colon + 1));
  return r;
}

// The C library's reserved signals (glibc: 32 and 33; its sigaction()
// refuses them, so sigkit cannot catch them) would kill sigkit-run by
// their default action and leave the command running: ignore those still
// at SIG_DFL (a handler the C library installed stays). The command gets
// them at SIG_DFL again (spawn resets them).
void ignore_reserved_signals() {
  for (int n = 1; n < NSIG; ++n)
    if (n != SIGKILL && n != SIGSTOP && !sigkit::signal{n}.catchable())
      (void)sigkit::detail::set_reserved_disposition(n, true, true);
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

// What sigkit-run inherited, before it changes anything: the signals at
// SIG_IGN and the mask, which the command inherits too (unless
// --reset-signals), as it would have without sigkit-run in between.
void inherit_signal_state(sigkit::spawn_options& spawn) {
  for (int n = 1; n < NSIG; ++n) {
    struct sigaction now {};
    // glibc refuses even to report its reserved signals (32, 33): they
    // start at the default in the command.
    if (n != SIGKILL && n != SIGSTOP && ::sigaction(n, nullptr, &now) == 0 && now.sa_handler == SIG_IGN)
      spawn.keep_ignored.insert(sigkit::signal{n});
  }
  sigset_t mask;
  // NOLINTNEXTLINE(concurrency-mt-unsafe): main() before any thread exists
  if (::sigprocmask(SIG_SETMASK, nullptr, &mask) == 0) spawn.mask = sigkit::signal_set(mask);
}

int main(int argc, char** argv) {
  sigkit::run_options options;
  inherit_signal_state(options.spawn);
  // sigkit-run owns its process: run() forwards on this, its only thread,
  // which blocks the forwarded signals and takes them from the kernel
  // directly (lower latency).
  options.forward.dequeue_directly = true;
#if defined(SIGKIT_RUN_VIA_HANDLER)
  options.forward.dequeue_directly = false;  // a test build of the handler path
#endif
  bool shell_code = false;
  bool verbose = false;
  std::optional<std::chrono::nanoseconds> kill_after;
  std::optional<std::chrono::nanoseconds> grace;
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
      options.spawn.foreground = true;
      options.forward.to_group = true;
    } else if (arg == "-k" || arg == "--kill-after") {
      kill_after = parse_duration(value());
    } else if (arg == "-r" || arg == "--reap") {
      options.reap = true;
    } else if (arg == "-w" || arg == "--wait-descendants") {
      options.wait_descendants = true;
    } else if (arg == "--grace") {
      grace = parse_duration(value());
    } else if (arg == "--term-rest") {
      options.signal_rest = true;
    } else if (arg == "--signals") {
      options.forward.signals = parse_signal_list(value());
    } else if (arg == "--rewrite") {
      options.forward.rewrite.push_back(parse_rewrite(value()));
    } else if (arg == "--pdeathsig") {
      options.spawn.parent_death_signal = parse_signal(value());
    } else if (arg == "--shell-code") {
      shell_code = true;
    } else if (arg == "--via-handler") {
      options.forward.dequeue_directly = false;
    } else if (arg == "--reset-signals") {
      options.spawn.keep_ignored = {};
      options.spawn.mask = {};
      options.spawn.keep_ignored_at_start = false;  // nothing ignored: a clean start
    } else if (arg == "--no-job-control") {
      options.forward.job_control = false;
    } else if (arg == "-v" || arg == "--verbose") {
      verbose = true;
    } else {
      fail("unknown option '" + std::string(arg) + "' (see --help)");
    }
  }
  if (i >= argc) fail("no command given (see --help)");
  // As PID 1, or a subreaper already, orphans come here whatever the
  // options say, and nobody else would reap them.
  if (sigkit::adopts_orphans()) options.reap = true;
  if (options.wait_descendants && !options.reap) fail("--wait-descendants needs --reap");
  if (options.signal_rest && !options.spawn.new_process_group && !options.spawn.new_session)
    fail("--term-rest needs --group or --session");
  if (grace && !options.wait_descendants) fail("--grace needs --wait-descendants");
  if (kill_after) {
    options.forward.kill_after = *kill_after;
    options.descendants_grace = *kill_after;
  }
  if (grace) options.descendants_grace = *grace;
  if (verbose)
    options.forward.log = [](const std::string& line) { std::fprintf(stderr, "sigkit-run: %s\n", line.c_str()); };
  // A command that cannot be executed: the shell's message and 127 or 126.
  options.on_exec_failure = [](const std::string& message) { std::cerr << "sigkit-run: " << message << "\n"; };

  ignore_reserved_signals();
  // Signals left out by --signals must not kill sigkit-run either.
  std::vector<sigkit::scoped_action> not_forwarded;
  for (const sigkit::signal s : sigkit::all_forwardable() - sigkit::detail::received_for_forwarding(options.forward)) {
    const auto action = s.default_action();
    if (action != sigkit::signal::action::terminate && action != sigkit::signal::action::core) continue;
    std::error_code ec;
    auto ignored = sigkit::ignore(s, ec);
    if (!ec) not_forwarded.push_back(std::move(ignored));
  }
  sigkit::exit_status status;
  try {
    status = sigkit::run(argv + i, options);
  } catch (const std::exception& e) {
    fail(e.what());
  }
  if (verbose) std::fprintf(stderr, "sigkit-run: %s %s\n", argv[i], status.describe().c_str());
  if (shell_code) return status.shell_code();
  status.mirror();
}
