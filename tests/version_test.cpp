// Tests for sigkit/version.hpp: the macros, the constants and the string
// agree with each other and with project(sigkit VERSION ...), which
// tests/CMakeLists.txt passes in as SIGKIT_TEST_PROJECT_VERSION. (Configuring
// already fails if version.hpp and project() disagree; this checks the
// compiled header too.)
#include <sigkit/sigkit.hpp>

#include <string>
#include <string_view>

#include <doctest/doctest.h>

#ifndef SIGKIT_TEST_PROJECT_VERSION
#error "tests/CMakeLists.txt must define SIGKIT_TEST_PROJECT_VERSION for version_test"
#endif

static_assert(SIGKIT_VERSION == SIGKIT_VERSION_MAJOR * 10000 + SIGKIT_VERSION_MINOR * 100 + SIGKIT_VERSION_PATCH);
static_assert(sigkit::version == SIGKIT_VERSION);
static_assert(sigkit::version_major == SIGKIT_VERSION_MAJOR && sigkit::version_minor == SIGKIT_VERSION_MINOR &&
              sigkit::version_patch == SIGKIT_VERSION_PATCH);
static_assert(SIGKIT_VERSION_MINOR < 100 && SIGKIT_VERSION_PATCH < 100, "SIGKIT_VERSION packs two digits each");

TEST_CASE("version.hpp says the version project() says") {
  CHECK(sigkit::version_string == std::string_view(SIGKIT_TEST_PROJECT_VERSION));
  CHECK(std::string_view(SIGKIT_VERSION_STRING) == SIGKIT_TEST_PROJECT_VERSION);
}

TEST_CASE("version_string is built from the three numbers") {
  const std::string expected = std::to_string(SIGKIT_VERSION_MAJOR) + "." + std::to_string(SIGKIT_VERSION_MINOR) + "." +
                               std::to_string(SIGKIT_VERSION_PATCH);
  CHECK(sigkit::version_string == expected);
}
