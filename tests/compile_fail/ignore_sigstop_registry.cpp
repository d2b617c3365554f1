// expect: SIGKILL_and_SIGSTOP_cannot_be_caught_blocked_or_ignored
#include <sigkit/registry.hpp>
int main() {
  sigkit::registry r;
  r.use_default(SIGSTOP);
}
