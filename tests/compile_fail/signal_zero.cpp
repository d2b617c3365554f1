// expect: not_a_signal_number_it_must_be_1_to_NSIG_minus_1
// An int constant outside 1..NSIG-1 is refused at compile time.
#include <sigkit/action.hpp>
int main() { auto quiet = sigkit::ignore(0); }
