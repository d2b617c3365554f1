// expect: synchronous signals .* cannot be streamed
#include <sigkit/stream.hpp>
int main() { sigkit::stream_of<SIGTERM, SIGSEGV> s; }
