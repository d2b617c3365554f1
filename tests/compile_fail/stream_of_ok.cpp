// expect: compiles
// Control case: a valid stream_of compiles (so the failures above are real).
#include <sigkit/stream.hpp>
int main() { sigkit::stream_of<SIGINT, SIGTERM, SIGUSR1> s; }
