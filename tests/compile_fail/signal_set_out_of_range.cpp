// expect: not_a_signal_number_it_must_be_1_to_NSIG_minus_1
// The same check in a braced set of int constants.
#include <sigkit/signal.hpp>
int main() { const sigkit::signal_set set{SIGINT, NSIG}; }
