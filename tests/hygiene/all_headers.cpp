// Every public header in one translation unit, so clang-tidy (and the
// compiler) see each of them the way a user does. Built by tests/CMakeLists.
#include <sigkit/sigkit.hpp>

int main() { return 0; }
