// expect: SIGKILL_and_SIGSTOP_cannot_be_caught_blocked_or_ignored
// No disposition can be set for SIGKILL or SIGSTOP: refused at compile time
// when the signal is an int constant.
#include <sigkit/action.hpp>
int main() { auto quiet = sigkit::ignore(SIGKILL); }
