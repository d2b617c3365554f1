// sigkit/error.hpp - error policy helpers.
//
// Failed system calls become std::system_error carrying errno; bad signals and
// names become std::invalid_argument. Every throwing call that can fail at run
// time also has a noexcept overload taking std::error_code&.
#pragma once

#include <unistd.h>

#include <cerrno>
#include <new>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>

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

/// The error_code for the exception being handled (call inside a catch):
/// std::system_error's own code; std::invalid_argument (a bad signal or
/// argument) is EINVAL; std::length_error (a size above its maximum)
/// EOVERFLOW; another std::logic_error (an object used after a
/// move or in a forked child) EPERM; anything else (std::bad_alloc) ENOMEM.
inline std::error_code current_exception_code() noexcept {
  try {
    throw;
  } catch (const std::system_error& e) {
    return e.code();
  } catch (const std::invalid_argument&) {
    return std::make_error_code(std::errc::invalid_argument);
  } catch (const std::length_error&) {
    return std::make_error_code(std::errc::value_too_large);
  } catch (const std::logic_error&) {
    return std::make_error_code(std::errc::operation_not_permitted);
  } catch (...) {
    return std::make_error_code(std::errc::not_enough_memory);
  }
}

/// The bridge the other way, for the noexcept error_code overloads: runs
/// `f`, and if it throws, sets `ec` (as current_exception_code()) and
/// returns a value-initialised result instead.
template <class F>
auto capture_error(std::error_code& ec, F&& f) noexcept -> decltype(f()) {
  ec.clear();
  try {
    return f();
  } catch (...) {
    ec = current_exception_code();
  }
  if constexpr (!std::is_void_v<decltype(f())>) return {};
}

/// The error for an object used in a forked child of the process that made
/// it: "sigkit::<what>: this <thing> was made by process <creator> and is
/// inert in this forked child (pid <pid>): <why>. Create a new <thing> in
/// the child."
[[noreturn]] inline void throw_inert_in_child(const std::string& what, const char* thing, long creator,
                                              const std::string& why) {
  throw std::logic_error("sigkit::" + what + ": this " + thing + " was made by process " + std::to_string(creator) +
                         " and is inert in this forked child (pid " + std::to_string(::getpid()) + "): " + why +
                         ". Create a new " + thing + " in the child.");
}

}  // namespace detail
}  // namespace v1
}  // namespace sigkit
