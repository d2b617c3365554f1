// sigkit/error.hpp - error policy helpers.
//
// Failed system calls become std::system_error carrying errno; bad signals and
// names become std::invalid_argument. Every throwing call that can fail at run
// time also has a noexcept overload taking std::error_code&.
#pragma once

#include <cerrno>
#include <string>
#include <system_error>

namespace sigkit {
inline namespace v1 {
namespace detail {

/// The error_code for an errno value.
inline std::error_code errno_code(int err) noexcept { return {err, std::generic_category()}; }

/// The error_code for the current errno.
inline std::error_code last_error() noexcept { return errno_code(errno); }

/// Throws std::system_error for `ec` with "sigkit: <what>" as its message.
[[noreturn]] inline void throw_error(std::error_code ec, const std::string& what) {
  throw std::system_error(ec, "sigkit: " + what);
}

/// Throws if `ec` holds an error (bridge from the error_code overloads).
inline void throw_if(std::error_code ec, const std::string& what) {
  if (ec) throw_error(ec, what);
}

}  // namespace detail
}  // namespace v1
}  // namespace sigkit
