// tests/variant_check.cpp - the compile-time check that a test build's
// definitions (tests/CMakeLists.txt, sigkit_add_test's DEFINITIONS) reached
// its sources: each opt-out a build names turned its platform decision off
// (sigkit/detail/platform.hpp), and a build that names none keeps every
// decision on. sigkit_add_test() compiles it into every test program, with
// that program's definitions. (From e4a6c91 to the commit that added this
// check the variant builds, forward_test_nosigtimedwait,
// sigkit_run_test_via_handler, the *_selfpipe and *_nopidfd builds, were
// compiled without their definitions and ran the default build's code.)
#include <sigkit/detail/platform.hpp>

#include <string_view>

#if !defined(SIGKIT_TEST_DEFINITIONS)
#error "built without sigkit_add_test()'s definitions"
#endif

// A test program without this file does not link: the support library's
// main() reads `checked`, which only this defines.
namespace sigkit_test::variant {

extern const bool checked = true;

constexpr std::string_view definitions = SIGKIT_TEST_DEFINITIONS;

/// True if the build names `macro` among its definitions.
constexpr bool names(std::string_view macro) { return definitions.find(macro) != std::string_view::npos; }

#if defined(__linux__)
static_assert(names("SIGKIT_NO_EVENTFD") == (SIGKIT_HAVE_EVENTFD == 0), "SIGKIT_NO_EVENTFD did not reach the test");
static_assert(names("SIGKIT_NO_PIDFD") == (SIGKIT_HAVE_PIDFD == 0), "SIGKIT_NO_PIDFD did not reach the test");
static_assert(names("SIGKIT_NO_SIGNALFD") == (SIGKIT_HAVE_SIGNALFD == 0), "SIGKIT_NO_SIGNALFD did not reach the test");
static_assert(names("SIGKIT_NO_PROC") == (SIGKIT_HAVE_PROC == 0), "SIGKIT_NO_PROC did not reach the test");
static_assert(names("SIGKIT_NO_SIGTIMEDWAIT") == (SIGKIT_HAVE_SIGTIMEDWAIT == 0),
              "SIGKIT_NO_SIGTIMEDWAIT did not reach the test");
#if defined(SIGKIT_TEST_VIA_HANDLER)
static_assert(names("SIGKIT_TEST_VIA_HANDLER"));
#else
static_assert(!names("SIGKIT_TEST_VIA_HANDLER"), "SIGKIT_TEST_VIA_HANDLER did not reach the test");
#endif
#endif  // __linux__

}  // namespace sigkit_test::variant
