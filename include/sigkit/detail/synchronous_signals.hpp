// sigkit/detail/synchronous_signals.hpp - the set of synchronous signals,
// which a forwarder or a supervisor subscribes to so that the ones another
// process sends (user-sent faults) are forwarded (see
// detail::snapshot::user_subs in detail/table.hpp).
#pragma once

#include "../signal.hpp"

namespace sigkit {
inline namespace v1 {
namespace detail {

/// SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP and SIGSYS.
inline signal_set synchronous_signals() {
  signal_set out;
  for (int n = 1; n < signal_limit; ++n)
    if (signal{n}.synchronous()) out.insert(signal{n});
  return out;
}

}  // namespace detail
}  // namespace v1
}  // namespace sigkit
