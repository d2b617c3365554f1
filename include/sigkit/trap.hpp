// sigkit/trap.hpp - the shell's `trap cleanup EXIT` done right: cleanup runs
// on an ordinary thread, in reverse order, at normal exit and on terminating
// signals, and then the process dies the way the signal would.
#pragma once

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "action.hpp"
#include "detail/deadline.hpp"
#include "detail/watcher.hpp"
#include "signal.hpp"
#include "stream.hpp"

namespace sigkit {
inline namespace v1 {

/// A cleanup stack that runs exactly once, in reverse order of push():
///
///  - when the trap is destroyed (leaving its scope, returning from main),
///  - when the process calls std::exit() while the trap is alive,
///  - when one of its signals arrives: then the cleanups of every live trap
///    in this process run (newest trap first) on the trap's own thread, and
///    the process dies of that signal (unblock, SIG_DFL, re-raise), so the
///    parent sees `WIFSIGNALED` and the right signal, exactly as if nothing
///    had caught it.
///
///     sigkit::trap cleanup{[&] { std::filesystem::remove(tmp); }};
///
/// No user code runs inside a signal handler. Exceptions thrown by a cleanup
/// are swallowed (the remaining cleanups still run). A trap inherited by a
/// forked child is inert there: it never runs the parent's cleanups.
class trap {
 public:
  /// SIGHUP, SIGINT, SIGQUIT and SIGTERM: what ends a program from a
  /// terminal, a supervisor or a closing session.
  static signal_set default_signals() { return signal_set{hangup, interrupt, quit, terminate}; }

  /// Watches default_signals(); `cleanup` is the first (last to run) entry.
  explicit trap(std::function<void()> cleanup = {}) : trap(default_signals(), std::move(cleanup)) {}

  /// Watches `signals`. Each must end the process by default (terminate or
  /// core) and be streamable; otherwise std::invalid_argument naming it,
  /// and nothing changes.
  trap(signal_set signals, std::function<void()> cleanup) {
    for (signal s : signals) {
      const auto a = s.valid() ? s.default_action() : signal::action::ignore;
      if (s.valid() && s.catchable() && !s.synchronous() && a != signal::action::terminate && a != signal::action::core)
        throw std::invalid_argument("sigkit::trap: " + std::string(s.name()) +
                                    " does not end the process by default; watch it with a sigkit::stream");
    }
    state_ = std::make_shared<state>(signals);  // throws like stream
    if (cleanup) state_->entries.push_back(std::move(cleanup));
    registry_of_traps::add(state_);
    state_->watch.start([st = state_](std::stop_token done) { watch(st, done); });
  }

  trap(const trap&) = delete;
  trap& operator=(const trap&) = delete;
  trap(trap&&) = delete;
  trap& operator=(trap&&) = delete;

  /// Normal exit: runs the cleanups (unless dismissed or already run), then
  /// restores the dispositions.
  ~trap() {
    state_->watch.stop();  // in a forked child: forgets the thread, which is not here to join
    if (::getpid() != state_->owner) return;
    run_cleanups(*state_);
    registry_of_traps::remove(state_);
  }

  /// Adds a cleanup; it runs before every cleanup pushed earlier.
  void push(std::function<void()> cleanup) {
    std::lock_guard lock(state_->run_mu);
    if (!state_->ran) state_->entries.push_back(std::move(cleanup));
  }

  /// Runs the cleanups now (once; later exits and signals run nothing more,
  /// but a signal still ends the process the way it would).
  void run() { run_cleanups(*state_); }

  /// Forgets every cleanup: nothing runs at exit; a signal of the set still
  /// ends the process the way it would.
  void dismiss() noexcept {
    std::lock_guard lock(state_->run_mu);
    state_->entries.clear();
  }

  /// The signal that triggered the cleanups, once one has (readable from a
  /// cleanup).
  std::optional<event> which() const {
    std::lock_guard lock(state_->which_mu);
    return state_->which;
  }

  /// The signals being watched.
  signal_set signals() const { return state_->watch.events().signals(); }

 private:
  struct state {
    explicit state(signal_set set) : watch(set) {}
    detail::watcher watch;
    pid_t owner = ::getpid();
    std::mutex run_mu;  // held while the cleanups run: a second caller waits
    bool ran = false;
    std::vector<std::function<void()>> entries;
    mutable std::mutex which_mu;
    std::optional<event> which;
  };

  /// Every live trap of this process, oldest first; an atexit hook runs
  /// their cleanups when the process calls exit() with traps alive.
  struct registry_of_traps {
    std::mutex mu;
    std::vector<std::shared_ptr<state>> live;

    static registry_of_traps& get() {
      static registry_of_traps r;      // constructed before the hook is registered,
      static const bool hooked = [] {  // so the hook runs before it dies
        std::atexit(&at_exit);
        return true;
      }();
      (void)hooked;
      return r;
    }
    static void add(const std::shared_ptr<state>& st) {
      auto& r = get();
      std::lock_guard lock(r.mu);
      r.live.push_back(st);
    }
    static void remove(const std::shared_ptr<state>& st) {
      auto& r = get();
      std::lock_guard lock(r.mu);
      std::erase(r.live, st);
    }
    static std::vector<std::shared_ptr<state>> snapshot() {
      auto& r = get();
      std::lock_guard lock(r.mu);
      return r.live;
    }
    static void at_exit() { run_all(); }
  };

  /// Runs the cleanups of every live trap this process made, newest first.
  static void run_all() {
    auto traps = registry_of_traps::snapshot();
    // Reverse iteration by hand: clang 14 cannot use libstdc++ 12's <ranges>.
    for (auto it = traps.rbegin(); it != traps.rend(); ++it) run_cleanups(**it);  // NOLINT(modernize-loop-convert)
  }

  static void run_cleanups(state& st) noexcept {
    if (::getpid() != st.owner) return;  // never the parent's cleanups
    std::lock_guard lock(st.run_mu);
    if (st.ran) return;
    st.ran = true;
    for (auto it = st.entries.rbegin(); it != st.entries.rend(); ++it) {  // NOLINT(modernize-loop-convert)
      try {
        (*it)();
      } catch (...) {  // a failing cleanup must not stop the others
      }
    }
    st.entries.clear();
  }

  static void watch(const std::shared_ptr<state>& st, const std::stop_token& done) {
    for (;;) {
      if (st->watch.wait(detail::deadline::never()) < 0)
        throw std::system_error(errno, std::system_category(), "sigkit::trap: poll");
      if (done.stop_requested()) return;
      if (auto e = st->watch.events().try_recv()) {
        {
          std::lock_guard lock(st->which_mu);
          st->which = *e;
        }
        run_all();
        raise_default(e->signal);  // the process dies of it
      }
    }
  }

  std::shared_ptr<state> state_;
};

}  // namespace v1
}  // namespace sigkit
