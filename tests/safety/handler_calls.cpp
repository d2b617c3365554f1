// A program that instantiates every sigkit handler path (streams, flags) so
// that handler_calls.py can walk the machine code reachable from the
// handler. It also runs one delivery so the binary is known to work.
#include <sigkit/flag.hpp>
#include <sigkit/stream.hpp>

int main() {
  sigkit::stream s{{sigkit::user1}};
  sigkit::flag f{{sigkit::user1}};
  ::raise(SIGUSR1);
  return s.try_recv().has_value() && f.count() == 1 ? 0 : 1;
}
