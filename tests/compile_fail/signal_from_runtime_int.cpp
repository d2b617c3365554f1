// expect: is not a constant expression
// A run-time int is not taken for a signal implicitly (it may be anything):
// write sigkit::signal{n}.
#include <sigkit/action.hpp>
int main(int argc, char**) { auto quiet = sigkit::ignore(argc); }
