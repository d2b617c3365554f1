// sigkit/sigkit.hpp - umbrella header: everything sigkit offers (but the
// optional Asio adapter, sigkit/asio.hpp, which you include yourself).
#pragma once

#include "action.hpp"         // IWYU pragma: export
#include "child_process.hpp"  // IWYU pragma: export
#include "error.hpp"          // IWYU pragma: export
#include "event.hpp"          // IWYU pragma: export
#include "flag.hpp"           // IWYU pragma: export
#include "forward.hpp"        // IWYU pragma: export
#include "inspect.hpp"        // IWYU pragma: export
#include "mask.hpp"           // IWYU pragma: export
#include "process_block.hpp"  // IWYU pragma: export
#include "registry.hpp"       // IWYU pragma: export
#include "run.hpp"            // IWYU pragma: export
#include "shutdown.hpp"       // IWYU pragma: export
#include "signal.hpp"         // IWYU pragma: export
#include "stream.hpp"         // IWYU pragma: export
#include "supervisor.hpp"     // IWYU pragma: export
#include "trap.hpp"           // IWYU pragma: export
#include "version.hpp"        // IWYU pragma: export
#include "wakeup.hpp"         // IWYU pragma: export
#include "wakeup_group.hpp"   // IWYU pragma: export
