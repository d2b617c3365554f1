// expect: __libc_current_sigrtmin
// SIGRTMIN is a function call in glibc, not a constant: write
// sigkit::realtime(k) (checked) or sigkit::signal{SIGRTMIN + k}.
#include <sigkit/action.hpp>
int main() { auto quiet = sigkit::ignore(SIGRTMIN + 1); }
