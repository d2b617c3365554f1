// sigkit/asio.hpp in one translation unit, with its templates instantiated,
// so clang-tidy (run by .ci/extra/20-hygiene.sh) sees the adapter the way a
// user's program does. sigkit.hpp does not include it (it needs Asio), so
// all_headers.cpp does not cover it. Compiles to an empty program when Asio
// is not installed.
#if __has_include(<asio.hpp>)
#include <sigkit/asio.hpp>
#include <sigkit/stream.hpp>

#include <asio/io_context.hpp>
#include <system_error>

int main() {
  try {
    sigkit::stream signals{{sigkit::user1}};
    asio::io_context io;
    sigkit::async_recv(signals, io.get_executor(), [](std::error_code, sigkit::event) {});
    sigkit::async_recv(signals, io, [](std::error_code, sigkit::event) {});
    sigkit::async_stream bound{signals, io};
    bound.async_recv([](std::error_code, sigkit::event) {});
    bound.cancel();
    io.run();
  } catch (...) {
    return 1;
  }
  return 0;
}
#else
int main() { return 0; }
#endif
