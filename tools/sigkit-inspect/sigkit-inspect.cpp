// sigkit-inspect: what processes do with signals, at a glance.
//
//   sigkit-inspect [--threads] [--children] PID...
//
// For each process: its name, parent and thread count, then the signals it
// catches (a handler is installed), ignores (SIG_IGN), blocks (in its main
// thread) and has pending, read from /proc/PID/status with sigkit::inspect.
//   --threads   every thread's own mask and pending signals, and for each
//               caught signal the threads that can receive it (those that
//               do not block it)
//   --children  the same for every descendant, indented below its parent
// Exit status: 0; 2 if an argument is not a process id, or a process does
// not exist or cannot be read (one line on stderr each).
// The man page is sigkit-inspect.1 beside this file.
#include <sigkit/inspect.hpp>
#include <sigkit/version.hpp>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace {

constexpr int exit_trouble = 2;

const char* const usage = "usage: sigkit-inspect [--threads] [--children] [--] PID...";

// --help: the usage line, then this. Every option here must also be in the
// man page (a tools/ ctest entry checks it).
const char* const help = R"(
Shows what each process does with signals, read from /proc/PID/status: the
signals it catches (a handler is installed), ignores (SIG_IGN), blocks (in
its main thread) and has pending.

options:
      --threads   also every thread's own mask and pending signals, and for
                  each caught signal the threads that can receive it (those
                  that do not block it)
      --children  also every descendant of each PID, indented below its
                  parent
  -h, --help      this text
      --version   sigkit's version
      --          every later argument is a PID

exit status: 0; 2 if an argument is not a process id or an option is
unknown, or a process does not exist or cannot be read (one line on stderr
for each; the processes that could be read are still shown).
)";

struct options {
  bool threads = false;
  bool children = false;
  std::vector<pid_t> pids;
};

// A positive decimal pid: digits only, no sign, fits in pid_t.
bool parse_pid(std::string_view text, pid_t& out) {
  if (text.empty() || text.front() < '0' || text.front() > '9') return false;
  int value = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc{} || ptr != end || value <= 0) return false;
  out = value;
  return true;
}

std::string listed(const sigkit::signal_set& set);

// The names of a set, compact: "-" for none, "all" for every signal, "all
// but ..." when that is shorter, and runs of 3 or more real-time signals as
// "SIGRTMIN+1..SIGRTMAX".
std::string names(const sigkit::signal_set& set) {
  if (set.empty()) return "-";
  if (set == sigkit::signal_set::full()) return "all";
  std::string out = listed(set);
  if (set.size() > 32) {
    std::string but = "all but " + listed(~set);
    if (but.size() < out.size()) out = std::move(but);
  }
  return out;
}

std::string listed(const sigkit::signal_set& set) {
  std::string out;
  auto add = [&](std::string_view s) {
    if (!out.empty()) out += ' ';
    out += s;
  };
  for (auto it = set.begin(); it != set.end();) {
    const sigkit::signal first = *it;
    sigkit::signal last = first;
    auto next = it;
    ++next;
    while (first.realtime() && next != set.end() && (*next).number() == last.number() + 1) {
      last = *next;
      ++next;
    }
    if (last.number() - first.number() >= 2) {
      add(std::string(first.name()) + ".." + std::string(last.name()));
      it = next;
    } else {
      add(first.name());
      ++it;
    }
  }
  return out;
}

// The kernel's name, with control characters shown as '?'.
std::string printable(std::string_view name) {
  std::string out(name);
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return out;
}

std::string describe(const std::error_code& ec) {
  if (ec == std::errc::no_such_process) return "no such process";
  if (ec == std::errc::permission_denied || ec == std::errc::operation_not_permitted) return "permission denied";
  return ec.message();
}

// Prints one process; returns false (after one line on stderr) if it could
// not be read.
bool show(pid_t pid, const options& opt, const std::string& indent, bool quiet_if_gone) {
  std::error_code ec;
  const auto status = sigkit::inspect_status(pid, ec);
  std::vector<sigkit::thread_signals> threads;
  if (status && opt.threads) threads = sigkit::inspect_threads(pid, ec);
  if (ec) {
    if (quiet_if_gone && ec == std::errc::no_such_process) return true;  // a descendant that just ended
    std::fprintf(stderr, "sigkit-inspect: %d: %s\n", static_cast<int>(pid), describe(ec).c_str());
    return false;
  }
  const char* in = indent.c_str();
  std::printf("%spid %d %s, parent %d, %d thread%s\n", in, static_cast<int>(pid), printable(status->name).c_str(),
              static_cast<int>(status->ppid), status->threads, status->threads == 1 ? "" : "s");
  const sigkit::process_signals s = status->signals();
  std::printf("%s  caught   %s\n", in, names(s.caught).c_str());
  std::printf("%s  ignored  %s\n", in, names(s.ignored).c_str());
  std::printf("%s  blocked  %s\n", in, names(s.blocked).c_str());
  std::printf("%s  pending  %s\n", in, names(s.pending).c_str());
  if (!opt.threads) return true;

  std::size_t width = 0;
  for (const auto& t : threads) width = std::max(width, printable(t.name).size());
  std::printf("%s  threads\n", in);
  for (const auto& t : threads) {
    const std::string blocked = names(t.blocked);
    std::printf("%s    %-7d %-*s  blocked %s  pending %s\n", in, static_cast<int>(t.tid), static_cast<int>(width),
                printable(t.name).c_str(), blocked.c_str(), names(t.pending).c_str());
  }
  if (!s.caught.empty()) std::printf("%s  caught signals go to\n", in);
  for (const sigkit::signal sig : s.caught) {
    const auto receivers = sigkit::receiving_threads(threads, sig);
    std::string who;
    for (const pid_t tid : receivers) {
      if (!who.empty()) who += ' ';
      who += std::to_string(tid);
    }
    std::printf("%s    %-10s %s\n", in, std::string(sig.name()).c_str(),
                receivers.empty() ? "none: every thread blocks it (it stays pending)" : who.c_str());
  }
  return true;
}

// Shows `pid` and, with --children, every descendant below it (those that
// end meanwhile are skipped).
bool show_tree(pid_t pid, const options& opt, int depth) {
  bool ok = show(pid, opt, std::string(static_cast<std::size_t>(depth) * 4, ' '), depth > 0);
  if (!opt.children) return ok;
  std::error_code ec;
  for (const pid_t kid : sigkit::inspect_children(pid, ec)) ok = show_tree(kid, opt, depth + 1) && ok;
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  options opt;
  bool only_pids = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (!only_pids && arg == "--") {
      only_pids = true;
    } else if (!only_pids && arg == "--threads") {
      opt.threads = true;
    } else if (!only_pids && arg == "--children") {
      opt.children = true;
    } else if (!only_pids && (arg == "-h" || arg == "--help")) {
      std::printf("%s\n%s", usage, help);
      return 0;
    } else if (!only_pids && arg == "--version") {
      std::printf("sigkit-inspect %s\n", SIGKIT_VERSION_STRING);
      return 0;
    } else if (!only_pids && arg.size() > 1 && arg.front() == '-' && (arg[1] < '0' || arg[1] > '9')) {
      std::fprintf(stderr, "sigkit-inspect: unknown option \"%s\" (%s)\n", argv[i], usage);
      return exit_trouble;
    } else {
      pid_t pid = 0;
      if (!parse_pid(arg, pid)) {
        std::fprintf(stderr, "sigkit-inspect: \"%s\" is not a process id (a number > 0)\n", argv[i]);
        return exit_trouble;
      }
      opt.pids.push_back(pid);
    }
  }
  if (opt.pids.empty()) {
    std::fprintf(stderr, "%s\n", usage);
    return exit_trouble;
  }

  bool ok = true;
  for (const pid_t pid : opt.pids) ok = show_tree(pid, opt, 0) && ok;
  return ok ? 0 : exit_trouble;
}
