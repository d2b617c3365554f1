// A program that instantiates every sigkit handler path (streams, a stream
// of a wakeup_group, flags) so that handler_calls.py can walk the machine
// code reachable from the handler. It also runs one delivery so the binary
// is known to work.
#include <sigkit/flag.hpp>
#include <sigkit/stream.hpp>
#include <sigkit/wakeup_group.hpp>

int main() {
  sigkit::stream s{{sigkit::user1}};
  sigkit::wakeup_group group;  // a stream that wakes a shared descriptor
  sigkit::stream shared{{sigkit::user1}, {.shared_wakeup = &group}};
  sigkit::flag f{{sigkit::user1}};
  ::raise(SIGUSR1);
  return s.try_recv().has_value() && shared.try_recv().has_value() && f.count() == 1 ? 0 : 1;
}
