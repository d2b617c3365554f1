// Runs the terminal scenarios of tests/parallel_scenarios.hpp against
// sigkit-parallel, `xargs -P` (GNU findutils) and GNU parallel, and prints a
// Markdown table: the evidence behind the comparison in docs/supervisor.md.
//
//   parallel_compare SIGKIT_PARALLEL
//
// Each cell says what was seen; "yes"/"no" first where sigkit-parallel's
// promise is a yes/no. Runners that are not installed are left out, and said
// so. Runs as a child subreaper, so that what a runner leaves behind comes
// back here to be counted (and reaped).
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "../parallel_scenarios.hpp"

namespace {

namespace ps = sigkit_test::parallel_scenarios;

bool installed(const std::string& program) {
  const std::string cmd = "command -v " + program + " >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;  // NOLINT(concurrency-mt-unsafe, cert-env33-c): a one-threaded tool
}

std::string first_line_of(const std::string& cmd) {
  std::string out;
  if (FILE* f = ::popen(cmd.c_str(), "r")) {  // NOLINT(cert-env33-c): a fixed command
    char buf[256];
    if (std::fgets(buf, sizeof buf, f) != nullptr) out = buf;
    ::pclose(f);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: parallel_compare SIGKIT_PARALLEL\n");
    return 2;
  }
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  const std::string tool = argv[1];
  // A grace period longer than any scenario waits: only the forwarded ^C (or
  // the second ^C) can end the commands in time.
  const std::string run = tool + " -j 60 --grace 60s";
  std::vector<ps::runner> runners{{"sigkit-parallel", run, tool.substr(tool.rfind('/') + 1).substr(0, 15),
                                   run + " --timeout 2s", "again kills them"}};
  if (installed("xargs"))
    runners.push_back({"xargs -P", "xargs -d '\\n' -P 60 -I{} sh -c {}", "xargs", "", ""});
  else
    std::printf("(xargs not installed: left out)\n");
  if (installed("parallel"))
    runners.push_back(
        {"GNU parallel", "parallel --will-cite -u -j 60", "parallel", "parallel --will-cite -u -j 60 --timeout 2", ""});
  else
    std::printf("(GNU parallel not installed: left out)\n");

  struct row {
    std::string what;
    std::function<ps::result(const ps::runner&)> run;
  };
  const std::vector<row> rows{
      {"^C with 50 commands running", [](const ps::runner& r) { return ps::ctrl_c_many(r, 50); }},
      {"^C, ^C with 5 commands that ignore SIGINT", [](const ps::runner& r) { return ps::ctrl_c_twice(r, 5); }},
      {"^Z with 10 commands running, then fg", [](const ps::runner& r) { return ps::ctrl_z_and_fg(r, 10); }},
      {"2 s timeout, a 1.2 s command stopped for 5 s (^Z, fg) right after it starts",
       [](const ps::runner& r) { return ps::timeout_paused_while_stopped(r); }},
      {"`runner < cmds &` leaves the terminal to the shell",
       [](const ps::runner& r) { return ps::background_keeps_terminal(r); }},
      {"^C stops `for i in 1 2 3; do runner < cmds; done`",
       [](const ps::runner& r) { return ps::ctrl_c_aborts_loop(r); }},
  };

  std::printf("| scenario |");
  for (const auto& r : runners) std::printf(" %s |", r.name.c_str());
  std::printf("\n|---|");
  for (std::size_t i = 0; i < runners.size(); ++i) std::printf("---|");
  std::printf("\n");
  for (const auto& row : rows) {
    std::printf("| %s |", row.what.c_str());
    for (const auto& r : runners) {
      std::fflush(stdout);
      const ps::result res = row.run(r);
      if (res.detail.rfind("n/a", 0) == 0)
        std::printf(" %s |", res.detail.c_str());
      else
        std::printf(" %s: %s |", res.ok ? "yes" : "no", res.detail.c_str());
      int st;
      while (::waitpid(-1, &st, WNOHANG) > 0) {
      }
    }
    std::printf("\n");
  }
  std::printf("\nrunners as run (commands on standard input, one per line): ");
  for (const auto& r : runners)
    std::printf("%s = `%s`%s; ", r.name.c_str(), r.command.c_str(),
                r.with_timeout.empty() ? "" : (", with timeout `" + r.with_timeout + "`").c_str());
  std::printf("\nversions: %s; %s; bash %s\n", first_line_of("xargs --version").c_str(),
              first_line_of("parallel --version").c_str(), first_line_of("bash -c 'echo $BASH_VERSION'").c_str());
  return 0;
}
