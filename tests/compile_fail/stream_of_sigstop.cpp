// expect: SIGSTOP cannot be caught
#include <sigkit/stream.hpp>
int main() { sigkit::stream_of<SIGSTOP> s; }
