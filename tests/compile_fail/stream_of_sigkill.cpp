// expect: SIGKILL cannot be caught
#include <sigkit/stream.hpp>
int main() { sigkit::stream_of<SIGINT, SIGKILL> s; }
