// expect: 0 is not a signal
#include <sigkit/stream.hpp>
int main() { sigkit::stream_of<0> s; }
