// expect: compiles
// Control case: what <signal.h> habits may write, and the explicit forms
// for run-time numbers (so the refusals above are about what they say).
#include <sigkit/sigkit.hpp>
int main(int argc, char**) {
  sigkit::stream s{{SIGINT, SIGTERM}};  // int constants, checked at compile time
  sigkit::flag f{{SIGUSR1}};
  auto quiet = sigkit::ignore(SIGPIPE);
  auto dfl = sigkit::use_default(sigkit::signal{argc});  // a run-time number: explicit
  auto rt = sigkit::ignore(sigkit::realtime(3));         // SIGRTMIN + 3
  sigkit::registry r;
  r.ignore(SIGHUP);
  const sigkit::event e{};
  bool b = e.signal == SIGINT || SIGTERM == e.signal || e.signal != argc || e.signal >= SIGRTMIN;  // comparisons
  sigkit::signal_set set{SIGUSR2, SIGWINCH};
  set.insert(sigkit::signal{SIGRTMIN + 1});
  b = b || set.contains(SIGUSR2);
  const sigkit::spawn_options o{.parent_death_signal = SIGTERM};
  sigkit::child_process c;
  std::error_code ec;
  c.send(SIGKILL, ec);  // any valid signal can be sent
  sigkit::raise_default(SIGCHLD);
  return b && o.parent_death_signal.has_value() ? 0 : 1;
}
