// sigkit/version.hpp - the library version, as macros and as constants.
//
// The numbers here must equal project(sigkit VERSION ...) in CMakeLists.txt;
// configuring sigkit fails if they do not, and a test checks it again.
#pragma once

#include <string_view>

/// Major version: incompatible API changes (find_package uses SameMajorVersion).
#define SIGKIT_VERSION_MAJOR 0
/// Minor version: backwards-compatible additions.
#define SIGKIT_VERSION_MINOR 1
/// Patch version: fixes.
#define SIGKIT_VERSION_PATCH 0

/// The version as one number, MAJOR * 10000 + MINOR * 100 + PATCH (0.1.0 is
/// 100), for `#if SIGKIT_VERSION >= ...`.
#define SIGKIT_VERSION (SIGKIT_VERSION_MAJOR * 10000 + SIGKIT_VERSION_MINOR * 100 + SIGKIT_VERSION_PATCH)

#define SIGKIT_DETAIL_STRINGIFY_(x) #x
#define SIGKIT_DETAIL_STRINGIFY(x) SIGKIT_DETAIL_STRINGIFY_(x)

/// The version as a string literal, "MAJOR.MINOR.PATCH".
#define SIGKIT_VERSION_STRING                   \
  SIGKIT_DETAIL_STRINGIFY(SIGKIT_VERSION_MAJOR) \
  "." SIGKIT_DETAIL_STRINGIFY(SIGKIT_VERSION_MINOR) "." SIGKIT_DETAIL_STRINGIFY(SIGKIT_VERSION_PATCH)

namespace sigkit {
inline namespace v1 {

/// SIGKIT_VERSION_MAJOR as a constant.
inline constexpr int version_major = SIGKIT_VERSION_MAJOR;
/// SIGKIT_VERSION_MINOR as a constant.
inline constexpr int version_minor = SIGKIT_VERSION_MINOR;
/// SIGKIT_VERSION_PATCH as a constant.
inline constexpr int version_patch = SIGKIT_VERSION_PATCH;
/// SIGKIT_VERSION as a constant.
inline constexpr int version = SIGKIT_VERSION;
/// "MAJOR.MINOR.PATCH" of the headers this code was compiled with.
inline constexpr std::string_view version_string = SIGKIT_VERSION_STRING;

}  // namespace v1
}  // namespace sigkit
