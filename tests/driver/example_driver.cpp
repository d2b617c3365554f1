// example_driver: runs one example program and scripts a conversation with it
// through real signals, for the examples' smoke tests (ctest label `example`).
//
//   example_driver [--timeout SECONDS] STEP... -- PROGRAM [ARGS...]
//
// The program runs in its own process group with stdout and stderr on one
// pipe; every line it prints is echoed here as "  | line". The steps run in
// order; the first that fails prints "FAIL: ..." and the driver kills the
// program's process group, reaps everything and exits 1. Nothing sleeps and
// hopes: every wait is for a condition (a line, a status), bounded by the
// overall deadline (--timeout, default 15 s, counted from the start).
//
// Steps ({NAME} in any argument is replaced by a saved value; {child} is the
// program's pid, {driver} this process's pid):
//   --expect-line RE          wait for a line matching RE (ECMAScript, search)
//   --expect-next-line RE     the very next line must match RE
//   --expect-lines K RE1..REK wait for K lines matching RE1..REK, in any order
//   --capture NAME RE         the same, and save RE's group 1 as NAME
//   --send SIG                kill(program, SIG); SIG is TERM, SIGTERM or 15
//   --send-to NAME SIG        kill(saved pid NAME, SIG)
//   --expect-stopped          waitpid(WUNTRACED): the program is stopped
//   --expect-continued        waitpid(WCONTINUED): it was continued
//   --expect-caught NAME SIG  pid NAME catches SIG (sigkit::inspect: SigCgt)
//   --connect CONN PORT       TCP-connect to 127.0.0.1:PORT as connection CONN
//   --connect-refused PORT    a TCP connection to 127.0.0.1:PORT is refused
//   --write CONN TEXT         send TEXT on CONN
//   --expect-echo CONN TEXT   read exactly TEXT back from CONN
//   --expect-eof CONN         read until the peer closes CONN
//   --close CONN              close CONN
//   --expect-file NAME        the path saved as NAME exists
//   --expect-no-file NAME     the path saved as NAME does not exist
//   --expect-exit N           the program exits with code N
//   --expect-signal SIG       the program is killed by SIG
//   --expect-gone NAME        the saved pid NAME no longer exists
// After the program has exited the driver also fails if any process it
// started is left (it is a child subreaper, so orphans come back to it).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sigkit/inspect.hpp>
#include <sigkit/signal.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

struct failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

struct driver {
  pid_t child = -1;    // the program (leader of its own process group)
  int out = -1;        // read end of its stdout+stderr
  std::string buffer;  // bytes read but not yet split into lines
  bool eof = false;
  bool reaped = false;
  int status = 0;  // its wait status, once reaped
  clock_type::time_point deadline;
  std::map<std::string, std::string> vars;
  std::map<std::string, int> conns;

  int ms_left() const {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now()).count();
    if (left <= 0) throw failure("timed out");
    return static_cast<int>(left);
  }

  // Replaces each {NAME} by its saved value (regex-escaped if `regex`).
  std::string expand(const std::string& s, bool regex) const {
    std::string r;
    for (std::size_t i = 0; i < s.size(); ++i) {
      const auto close = s.find('}', i);
      if (s[i] == '{' && close != std::string::npos) {
        const auto it = vars.find(s.substr(i + 1, close - i - 1));
        if (it != vars.end()) {
          for (char c : it->second) {
            if (regex && std::strchr("\\^$.|?*+()[]{}", c) != nullptr) r += '\\';
            r += c;
          }
          i = close;
          continue;
        }
      }
      r += s[i];
    }
    return r;
  }

  pid_t pid_of(const std::string& name) const {
    const auto it = vars.find(name);
    if (it == vars.end()) throw failure("nothing saved as " + name);
    const long p = std::strtol(it->second.c_str(), nullptr, 10);
    if (p <= 1) throw failure(name + " = '" + it->second + "' is not a pid");
    return static_cast<pid_t>(p);
  }

  void start(char** argv) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) throw failure(errno_text("pipe2"));
    const pid_t parent = ::getpid();
    child = ::fork();
    if (child < 0) throw failure(errno_text("fork"));
    if (child == 0) {
      ::setpgid(0, 0);                     // own group: not orphaned (so SIGTSTP stops it), and killable as a whole
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // if the driver itself is killed (ctest timeout)
      if (::getppid() != parent) ::_exit(127);
      for (int s = 1; s < NSIG; ++s) std::signal(s, SIG_DFL);  // clean signal state, as a shell gives
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      ::dup2(p[1], 1);
      ::dup2(p[1], 2);
      ::execvp(argv[0], argv);
      std::fprintf(stderr, "example_driver: cannot run %s: %s\n", argv[0], std::strerror(errno));
      ::_exit(127);
    }
    ::setpgid(child, child);  // also from here, so it holds before we signal it
    ::close(p[1]);
    out = p[0];
    vars["child"] = std::to_string(child);
    std::printf("started pid %d: %s\n", static_cast<int>(child), argv[0]);
  }

  // Reads what is available, waiting at most `ms`: 1 if bytes came, 0 if
  // none did, -1 at end of output (then it just waits `ms`).
  int read_some(int ms) {
    if (eof) {
      ::poll(nullptr, 0, ms);
      return -1;
    }
    pollfd pfd{out, POLLIN, 0};
    const int r = ::poll(&pfd, 1, ms);
    if (r < 0 && errno != EINTR) throw failure(errno_text("poll"));
    if (r <= 0) return 0;
    char chunk[4096];
    const ssize_t n = ::read(out, chunk, sizeof chunk);
    if (n < 0 && errno != EINTR) throw failure(errno_text("read"));
    if (n == 0) eof = true;
    if (n > 0) buffer.append(chunk, static_cast<std::size_t>(n));
    return n > 0 ? 1 : n == 0 ? -1 : 0;
  }

  // The next complete line of output (echoed), or throws at EOF/timeout.
  std::string next_line() {
    for (;;) {
      const auto nl = buffer.find('\n');
      if (nl != std::string::npos) {
        std::string line = buffer.substr(0, nl);
        buffer.erase(0, nl + 1);
        std::printf("  | %s\n", line.c_str());
        return line;
      }
      if (read_some(eof ? 0 : ms_left()) < 0) throw failure("output ended");
    }
  }

  std::smatch expect_line(const std::string& re_text, std::string& line) {
    const std::regex re(re_text);
    for (;;) {
      line = next_line();
      std::smatch m;
      if (std::regex_search(line, m, re)) return m;
    }
  }

  // Waits (draining output meanwhile) for a wait status matching `flags`.
  int wait_status(int flags) {
    if (reaped) throw failure("the program has already exited");
    for (;;) {
      int st = 0;
      const pid_t r = ::waitpid(child, &st, flags | WNOHANG);
      if (r < 0) throw failure(errno_text("waitpid"));
      if (r == child) {
        if (WIFEXITED(st) || WIFSIGNALED(st)) {
          reaped = true;
          status = st;
        }
        return st;
      }
      // Keep reading the output (10 ms at most per round) so that a chatty
      // program never blocks on a full pipe while we wait for its status.
      read_some(std::min(ms_left(), 10));
    }
  }

  static std::string describe(int st) {
    if (WIFEXITED(st)) return "exited with code " + std::to_string(WEXITSTATUS(st));
    if (WIFSIGNALED(st)) return std::string("killed by ") + sigkit::signal{WTERMSIG(st)}.name().data();
    if (WIFSTOPPED(st)) return std::string("stopped by ") + sigkit::signal{WSTOPSIG(st)}.name().data();
    if (WIFCONTINUED(st)) return "continued";
    return "status " + std::to_string(st);
  }

  int final_status() {
    if (!reaped) wait_status(0);
    while (read_some(0) > 0) {  // what it printed before exiting is in the pipe
    }
    while (buffer.find('\n') != std::string::npos) next_line();
    if (!buffer.empty()) std::printf("  | %s\n", buffer.c_str());
    buffer.clear();
    return status;
  }

  int conn(const std::string& name) const {
    const auto it = conns.find(name);
    if (it == conns.end()) throw failure("no connection " + name);
    return it->second;
  }

  void wait_fd(int fd, short events) {
    pollfd pfd{fd, events, 0};
    for (;;) {
      const int r = ::poll(&pfd, 1, ms_left());
      if (r > 0) return;
      if (r < 0 && errno != EINTR) throw failure(errno_text("poll"));
    }
  }

  // Leaves nothing behind: the program's group, then any orphan that was
  // reparented to us, are killed and reaped.
  void kill_everything() {
    if (child > 0 && !reaped) ::kill(-child, SIGKILL);
    for (;;) {
      std::error_code ec;
      for (const pid_t p : sigkit::inspect_children(::getpid(), ec)) ::kill(p, SIGKILL);
      int st;
      const pid_t p = ::waitpid(-1, &st, 0);
      if (p == child) reaped = true;
      if (p < 0 && errno != EINTR) return;  // ECHILD: nothing left
    }
  }

  // Orphans the program left behind come back to us (child subreaper).
  std::vector<pid_t> leftovers() {
    std::vector<pid_t> found;
    int st;
    for (pid_t p; (p = ::waitpid(-1, &st, WNOHANG)) > 0;) found.push_back(p);  // zombies
    std::error_code ec;
    for (const pid_t p : sigkit::inspect_children(::getpid(), ec)) found.push_back(p);  // still running
    return found;
  }
};

int signal_arg(const std::string& s) {
  const auto sig = sigkit::signal::parse(s);
  if (!sig || !sig->valid()) throw failure("not a signal: " + s);
  return sig->number();
}

// How many arguments each step takes.
const std::map<std::string, int>& arity() {
  static const std::map<std::string, int> a = {{"--expect-line", 1},
                                               {"--expect-next-line", 1},
                                               {"--capture", 2},
                                               {"--send", 1},
                                               {"--send-to", 2},
                                               {"--expect-stopped", 0},
                                               {"--expect-continued", 0},
                                               {"--expect-caught", 2},
                                               {"--connect", 2},
                                               {"--connect-refused", 1},
                                               {"--write", 2},
                                               {"--expect-echo", 2},
                                               {"--expect-eof", 1},
                                               {"--close", 1},
                                               {"--expect-file", 1},
                                               {"--expect-no-file", 1},
                                               {"--expect-exit", 1},
                                               {"--expect-signal", 1},
                                               {"--expect-gone", 1}};
  return a;
}

void run_step(driver& d, const std::string& op, std::vector<std::string> a) {
  const bool regex = op == "--expect-line" || op == "--expect-next-line" || op == "--capture";
  for (auto& s : a) s = d.expand(s, (regex && &s == &a.back()) || (op == "--expect-lines" && &s != &a.front()));
  std::string line;
  if (op == "--expect-line") {
    d.expect_line(a[0], line);
  } else if (op == "--expect-lines") {
    std::vector<std::regex> pending;
    for (std::size_t k = 1; k < a.size(); ++k) pending.emplace_back(a[k]);
    while (!pending.empty()) {
      line = d.next_line();
      const auto hit = std::find_if(pending.begin(), pending.end(),
                                    [&](const std::regex& re) { return std::regex_search(line, re); });
      if (hit != pending.end()) pending.erase(hit);
    }
  } else if (op == "--expect-next-line") {
    line = d.next_line();
    if (!std::regex_search(line, std::regex(a[0]))) throw failure("the next line does not match " + a[0]);
  } else if (op == "--capture") {
    const auto m = d.expect_line(a[1], line);
    if (m.size() < 2) throw failure("regex has no group 1: " + a[1]);
    d.vars[a[0]] = m[1].str();
    std::printf("saved %s = %s\n", a[0].c_str(), d.vars[a[0]].c_str());
  } else if (op == "--send" || op == "--send-to") {
    const pid_t target = op == "--send" ? d.child : d.pid_of(a[0]);
    const int sig = signal_arg(a.back());
    if (::kill(target, sig) != 0) throw failure(errno_text("kill(" + std::to_string(target) + ")"));
    std::printf("sent %s to pid %d\n", sigkit::signal{sig}.name().data(), static_cast<int>(target));
  } else if (op == "--expect-stopped" || op == "--expect-continued") {
    const bool stop = op == "--expect-stopped";
    const int st = d.wait_status(stop ? WUNTRACED : WCONTINUED);
    if (stop ? !WIFSTOPPED(st) : !WIFCONTINUED(st)) throw failure("program " + driver::describe(st));
    std::printf("program %s\n", driver::describe(st).c_str());
  } else if (op == "--expect-caught") {
    const pid_t p = d.pid_of(a[0]);
    const int sig = signal_arg(a[1]);
    std::error_code ec;
    const sigkit::signal_set caught = sigkit::inspect(p, ec).caught;
    if (ec) throw failure("cannot read the signal state of pid " + std::to_string(p) + ": " + ec.message());
    if (!caught.contains(sigkit::signal{sig}))
      throw failure("pid " + std::to_string(p) + " does not catch " + a[1] + " (it catches " + caught.to_string() +
                    ")");
    std::printf("pid %d catches %s (it catches %s)\n", static_cast<int>(p), a[1].c_str(), caught.to_string().c_str());
  } else if (op == "--connect" || op == "--connect-refused") {
    const bool refused = op == "--connect-refused";
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw failure(errno_text("socket"));
    d.conns[refused ? "--connect-refused" : a[0]] = fd;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(std::stoi(a.back())));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const int r = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    if (refused) {
      const int err = errno;
      ::close(fd);
      d.conns.erase("--connect-refused");
      if (r == 0 || err != ECONNREFUSED) throw failure("connecting to port " + a[0] + " was not refused");
      std::printf("port %s refuses connections\n", a[0].c_str());
    } else if (r != 0) {
      throw failure(errno_text("connect"));
    }
  } else if (op == "--write") {
    if (::send(d.conn(a[0]), a[1].data(), a[1].size(), MSG_NOSIGNAL) != static_cast<ssize_t>(a[1].size()))
      throw failure(errno_text("send"));
  } else if (op == "--expect-echo" || op == "--expect-eof") {
    const int fd = d.conn(a[0]);
    std::string got;
    for (;;) {
      if (op == "--expect-echo" && got.size() >= a[1].size()) break;
      d.wait_fd(fd, POLLIN);
      char chunk[512];
      const ssize_t n =
          ::recv(fd, chunk, op == "--expect-eof" ? sizeof chunk : std::min(sizeof chunk, a[1].size() - got.size()), 0);
      if (n < 0) throw failure(errno_text("recv"));
      if (n == 0) {
        if (op == "--expect-eof") break;
        throw failure("connection closed after '" + got + "'");
      }
      got.append(chunk, static_cast<std::size_t>(n));
    }
    if (op == "--expect-echo" && got != a[1]) throw failure("echo was '" + got + "', not '" + a[1] + "'");
    std::printf("%s: %s\n", a[0].c_str(),
                op == "--expect-eof" ? "closed by the server" : ("echoed '" + got + "'").c_str());
  } else if (op == "--close") {
    ::close(d.conn(a[0]));
    d.conns.erase(a[0]);
  } else if (op == "--expect-file" || op == "--expect-no-file") {
    const std::string path = d.vars.count(a[0]) ? d.vars[a[0]] : a[0];
    struct stat sb;
    const bool exists = ::lstat(path.c_str(), &sb) == 0;
    if (exists != (op == "--expect-file")) throw failure(path + (exists ? " still exists" : " does not exist"));
    std::printf("%s %s\n", path.c_str(), exists ? "exists" : "is gone");
  } else if (op == "--expect-exit" || op == "--expect-signal") {
    const int st = d.final_status();
    const bool ok = op == "--expect-exit" ? WIFEXITED(st) && WEXITSTATUS(st) == std::stoi(a[0])
                                          : WIFSIGNALED(st) && WTERMSIG(st) == signal_arg(a[0]);
    if (!ok) throw failure("program " + driver::describe(st) + ", expected " + op.substr(9) + " " + a[0]);
    std::printf("program %s\n", driver::describe(st).c_str());
  } else if (op == "--expect-gone") {
    const pid_t p = d.pid_of(a[0]);
    if (::kill(p, 0) == 0 || errno != ESRCH) throw failure("pid " + std::to_string(p) + " still exists");
    std::printf("pid %d is gone\n", static_cast<int>(p));
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::signal(SIGPIPE, SIG_IGN);  // a closed connection is an error, not death
  std::vector<std::pair<std::string, std::vector<std::string>>> steps;
  double timeout_s = 15;
  int i = 1;
  for (; i < argc && std::string(argv[i]) != "--"; ++i) {
    const std::string op = argv[i];
    if (op == "--timeout" && i + 1 < argc) {
      timeout_s = std::stod(argv[++i]);
      continue;
    }
    auto it = arity().find(op);
    int args = it == arity().end() ? -1 : it->second;
    if (op == "--expect-lines" && i + 1 < argc) args = 1 + std::max(0, std::atoi(argv[i + 1]));
    if (args < 0 || i + args >= argc) {
      std::fprintf(stderr, "example_driver: bad or incomplete step '%s'\n", op.c_str());
      return 2;
    }
    steps.emplace_back(op, std::vector<std::string>(argv + i + 1, argv + i + 1 + args));
    i += args;
  }
  if (i + 1 >= argc) {
    std::fprintf(stderr, "usage: example_driver [--timeout S] STEP... -- PROGRAM [ARGS...]\n");
    return 2;
  }

  driver d;
  d.deadline =
      clock_type::now() + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(timeout_s));
  d.vars["driver"] = std::to_string(::getpid());
  std::size_t n = 0;
  bool in_steps = false;
  try {
    if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) throw failure(errno_text("PR_SET_CHILD_SUBREAPER"));
    d.start(argv + i + 1);
    in_steps = true;
    for (; n < steps.size(); ++n) run_step(d, steps[n].first, steps[n].second);
    in_steps = false;
    d.final_status();  // a script must end with --expect-exit/--expect-signal to check it
    if (const auto left = d.leftovers(); !left.empty())
      throw failure("the program left " + std::to_string(left.size()) + " process(es) behind, e.g. pid " +
                    std::to_string(left.front()));
  } catch (const std::exception& e) {
    if (in_steps)
      std::printf("FAIL at step %zu (%s): %s\n", n + 1, steps[n].first.c_str(), e.what());
    else
      std::printf("FAIL: %s\n", e.what());
    d.kill_everything();
    return 1;
  }
  std::printf("PASS\n");
  return 0;
}
