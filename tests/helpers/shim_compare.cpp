// Runs the terminal scenarios of tests/pty.hpp against every signal
// forwarding wrapper found on this machine and prints a Markdown table:
// the evidence behind the comparison in docs/sigkit-run.md.
//
//   shim_compare SIGKIT_RUN RECORDER
//
// Each cell is "yes" or "no: <what was seen>". Wrappers that are not
// installed (tini, dumb-init) are left out, and said so.
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include <sigkit/signal.hpp>

#include "../process.hpp"
#include "../pty.hpp"

namespace {

bool installed(const std::string& program) {
  const std::string cmd = "command -v " + program + " >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;  // NOLINT(concurrency-mt-unsafe, cert-env33-c): a one-threaded tool
}

struct wrapper {
  std::string name;     // as shown in the table
  std::string plain;    // the wrapper in the command's process group
  std::string grouped;  // the wrapper giving the command its own group (empty: none)
};

/// Sends every signal of all_forwardable() (but SIGCONT) to the wrapper and
/// counts those the recorder saw, within a second each.
sigkit_test::scenario_result forwards_all(const std::string& wrap, const std::string& recorder) {
  std::vector<std::string> argv;
  for (std::size_t at = 0, next; at < wrap.size(); at = next + 1) {
    next = wrap.find(' ', at);
    if (next == std::string::npos) next = wrap.size();
    if (next > at) argv.push_back(wrap.substr(at, next - at));
  }
  argv.push_back(recorder);
  sigkit_test::process p(argv);
  if (!p.line_starting("ready ")) return {false, "the recorder did not start"};
  int total = 0, seen = 0;
  std::string missing;
  for (const sigkit::signal s : sigkit::all_forwardable()) {
    if (s == sigkit::cont) continue;
    ++total;
    ::kill(p.pid(), s.number());
    if (p.line_starting("sig " + std::string(s.name()) + " ", std::chrono::milliseconds(1000))) {
      ++seen;
    } else {
      missing += missing.empty() ? "" : ",";
      missing += std::string(s.name());
      const char state = sigkit_test::proc_state(p.pid());
      if (state == 'Z' || state == 0) {
        missing += " (the wrapper died of it; " + std::to_string(total) + " tried)";
        total = static_cast<int>(sigkit::all_forwardable().size()) - 1;
        break;
      }
      if (state == 'T') {
        missing += " (the wrapper stopped itself; continued to go on)";
        ::kill(p.pid(), SIGCONT);
      }
    }
  }
  const std::string counts = std::to_string(seen) + " of " + std::to_string(total);
  return {seen == total, seen == total ? counts : counts + "; missing " + missing};
}

std::string cell(const sigkit_test::scenario_result& r) { return r.ok ? "yes" : "no: " + r.detail; }

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: shim_compare SIGKIT_RUN RECORDER\n");
    return 2;
  }
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  const std::string sigkit_run = argv[1], recorder = argv[2];
  std::vector<wrapper> wrappers{{"sigkit-run", sigkit_run + " --", sigkit_run + " --group --"}};
  if (installed("tini"))
    wrappers.push_back({"tini", "tini --", "tini -g --"});
  else
    std::printf("(tini not installed: left out)\n");
  if (installed("dumb-init"))
    wrappers.push_back({"dumb-init", "dumb-init -c", "dumb-init"});
  else
    std::printf("(dumb-init not installed: left out)\n");

  namespace sc = sigkit_test::scenarios;
  struct row {
    std::string what;
    std::function<sigkit_test::scenario_result(const wrapper&)> run;
  };
  const std::vector<row> rows{
      {"^C reaches the command once (command in the wrapper's group)",
       [&](const wrapper& w) { return sc::ctrl_c_once(w.plain, recorder); }},
      {"^C reaches the command once (command in its own group)",
       [&](const wrapper& w) { return sc::own_group_gets_terminal(w.grouped, recorder); }},
      {"^Z returns the prompt, fg resumes (wrapper's group)",
       [&](const wrapper& w) { return sc::ctrl_z_and_fg(w.plain, "sleep"); }},
      {"^Z returns the prompt, fg resumes (own group)",
       [&](const wrapper& w) { return sc::ctrl_z_and_fg(w.grouped, "sleep"); }},
      {"`wrapper cmd &` leaves the terminal to the shell (wrapper's group)",
       [&](const wrapper& w) { return sc::background_keeps_terminal(w.plain, "sleep"); }},
      {"`wrapper cmd &` leaves the terminal to the shell (own group)",
       [&](const wrapper& w) { return sc::background_keeps_terminal(w.grouped, "sleep"); }},
      {"every signal of all_forwardable() but CONT, sent to the wrapper, reaches the command",
       [&](const wrapper& w) { return forwards_all(w.plain, recorder); }},
      {"^C aborts `for i in 1 2 3; do wrapper sleep 30; done`",
       [&](const wrapper& w) { return sc::ctrl_c_aborts_loop(w.plain, "sleep"); }},
  };

  std::printf("| scenario |");
  for (const auto& w : wrappers) std::printf(" %s |", w.name.c_str());
  std::printf("\n|---|");
  for (std::size_t i = 0; i < wrappers.size(); ++i) std::printf("---|");
  std::printf("\n");
  for (const auto& r : rows) {
    std::printf("| %s |", r.what.c_str());
    for (const auto& w : wrappers) {
      std::fflush(stdout);
      const auto res = r.run(w);
      std::printf(" %s |",
                  res.ok && r.what.rfind("every signal", 0) == 0 ? ("yes, " + res.detail).c_str() : cell(res).c_str());
      int st;
      while (::waitpid(-1, &st, WNOHANG) > 0) {
      }
    }
    std::printf("\n");
  }
  std::printf("\nwrappers: ");
  for (const auto& w : wrappers) std::printf("%s = `%s` / `%s`; ", w.name.c_str(), w.plain.c_str(), w.grouped.c_str());
  std::printf("\n");
  return 0;
}
