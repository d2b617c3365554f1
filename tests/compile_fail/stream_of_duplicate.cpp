// expect: a signal is listed twice
#include <sigkit/stream.hpp>
int main() { sigkit::stream_of<SIGINT, SIGTERM, SIGINT> s; }
