// sigkit/action.hpp - RAII over one sigaction, with exact restore, and
// disposition queries.
#pragma once

#include <signal.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>

#include "detail/table.hpp"
#include "error.hpp"
#include "signal.hpp"

namespace sigkit {
inline namespace v1 {

/// What a signal's disposition is right now.
struct disposition {
  enum kind { dfl, ign, handler } kind = dfl;  // SIG_DFL, SIG_IGN or a function
  bool ours = false;                           // the function is sigkit's handler
  int flags = 0;                               // sa_flags, less the C library's SA_RESTORER
  signal_set mask;                             // sa_mask
};

namespace detail {
/// Throws std::invalid_argument ("sigkit::<who>: <reason>") if no
/// disposition can be set for `s`.
inline void check_actionable(signal s, const char* who) {
  const std::string why = uncatchable_reason(s);
  if (!why.empty()) throw std::invalid_argument(std::string("sigkit::") + who + ": " + why);
}
}  // namespace detail

/// The current disposition of `s`. Throws std::invalid_argument for an
/// invalid signal, std::system_error if sigaction fails.
inline disposition disposition_of(signal s) {
  if (!s.valid())
    throw std::invalid_argument("sigkit::disposition_of: signal " + std::to_string(s.number()) +
                                " is not a valid signal number");
  struct sigaction cur {};
  if (detail::sys().sigaction(s.number(), nullptr, &cur) != 0)
    detail::throw_error(detail::last_error(), "disposition_of: sigaction(" + std::string(s.name()) + ") failed");
  disposition d;
  d.kind = detail::is_ignore(cur)     ? disposition::ign
           : detail::is_function(cur) ? disposition::handler
                                      : disposition::dfl;
  d.ours = detail::is_ours(cur);
  d.flags = cur.sa_flags & ~detail::libc_restorer_flag;
  d.mask = signal_set(cur.sa_mask);
  return d;
}

/// The signals that were ignored (SIG_IGN) when the process started: what it
/// inherited through exec, such as SIGHUP under `nohup`, or SIGINT and
/// SIGQUIT in a background job of a non-interactive shell. A shell's
/// `trap` leaves such a signal alone, and so do sigkit::shutdown and
/// sigkit::trap unless asked to take them over.
///
/// How it is determined: sigkit reads every disposition once, before main()
/// (a constructor of priority 101, which runs before the program's ordinary
/// static initialisers; only shared libraries loaded earlier, and
/// constructors of priority 100 or less, run before it), or at its first
/// use if that comes earlier, or when it is loaded later (dlopen). So
/// `signal(SIGHUP, SIG_IGN)` in main() or in a static initialiser of the
/// program is not "ignored at start". A forked child inherits the record.
inline signal_set ignored_at_start() noexcept {
  detail::ensure_started();
  return detail::global().ignored_at_start;
}

namespace detail {
/// The signals of `requested` that a shutdown or trap watches: all of them
/// with `take_over_ignored`, else all but ignored_at_start(). Refuses
/// `requested` as a stream would, naming `who`, before filtering: the
/// result may be empty.
inline signal_set watched_signals(const signal_set& requested, bool take_over_ignored, const char* who) {
  check_subscribable(requested, who);
  return take_over_ignored ? requested : requested - ignored_at_start();
}
}  // namespace detail

/// Installs a struct sigaction for one signal and restores the previous one
/// exactly (handler, flags, mask) when it dies. Move-only.
///
/// Restore in any order: every disposition sigkit installs (scoped actions
/// and sigkit's own handler for streams and flags) is a layer of a
/// per-signal stack. Undoing the newest layer restores what was below it;
/// undoing an older one hands what was below it to the layer above, which
/// restores it in turn. A foreign handler installed on top (not through
/// sigkit) is left alone.
class scoped_action {
 public:
  /// Empty: restores nothing.
  scoped_action() noexcept = default;

  /// Installs `action` for `s`. Throws std::invalid_argument for invalid or
  /// uncatchable signals (an int constant such as SIGKILL does not even
  /// compile: see catchable_signal), std::system_error if sigaction fails
  /// (nothing changed).
  scoped_action(catchable_signal cs, const struct sigaction& action) {
    const signal s = cs;
    detail::check_actionable(s, "scoped_action");
    std::error_code ec;
    install(s, action, ec);
    detail::throw_if(ec, "scoped_action: sigaction(" + std::string(s.name()) + ") failed");
  }
  /// As above, reporting failure through `ec` (EINVAL for bad signals).
  scoped_action(catchable_signal cs, const struct sigaction& action, std::error_code& ec) noexcept {
    ec.clear();
    const signal s = cs;
    if (!s.catchable()) {
      ec = std::make_error_code(std::errc::invalid_argument);
      return;
    }
    install(s, action, ec);
  }

  scoped_action(scoped_action&&) noexcept = default;
  scoped_action& operator=(scoped_action&& other) noexcept {
    if (this != &other) {
      reset();
      signal_ = other.signal_;
      layer_ = std::move(other.layer_);
    }
    return *this;
  }
  scoped_action(const scoped_action&) = delete;
  scoped_action& operator=(const scoped_action&) = delete;
  ~scoped_action() { reset(); }

  /// True while this scope will restore something.
  bool active() const noexcept { return layer_ != nullptr; }
  /// The signal this scope changed.
  signal target() const noexcept { return signal_; }
  /// The disposition that will be restored (empty struct if !active()).
  struct sigaction previous() const noexcept {
    struct sigaction out {};
    detail::table_lock lock;
    if (layer_) out = layer_->below;
    return out;
  }

  /// Restores the previous disposition now.
  void reset() noexcept { undo(true); }

  /// Keeps the installed action and forgets the previous one.
  void release() noexcept { undo(false); }

 private:
  void install(signal s, const struct sigaction& action, std::error_code& ec) noexcept {
    try {
      auto l = std::make_unique<detail::layer>();
      detail::table_lock lock;
      ec = detail::push_action(s.number(), l.get(), action);
      if (ec) return;
      signal_ = s;
      layer_ = std::move(l);
    } catch (...) {
      ec = std::make_error_code(std::errc::not_enough_memory);
    }
  }

  void undo(bool restore) noexcept {
    if (!layer_) return;
    try {
      detail::table_lock lock;
      detail::pop_action(signal_.number(), layer_.get(), restore);
    } catch (...) {  // std::bad_alloc handing a disposition to sigkit: keep what is there
    }
    layer_.reset();
  }

  signal signal_{};
  std::unique_ptr<detail::layer> layer_;
};

namespace detail {
inline struct sigaction simple_action(void (*h)(int)) noexcept {
  struct sigaction a {};
  a.sa_handler = h;
  sigemptyset(&a.sa_mask);
  return a;
}
}  // namespace detail

/// Ignores `s` (SIG_IGN) for the scope's lifetime: `auto quiet =
/// sigkit::ignore(SIGPIPE);`.
inline scoped_action ignore(catchable_signal s) { return scoped_action(s, detail::simple_action(SIG_IGN)); }
inline scoped_action ignore(catchable_signal s, std::error_code& ec) noexcept {
  return scoped_action(s, detail::simple_action(SIG_IGN), ec);
}

/// Sets `s` to its default action (SIG_DFL) for the scope's lifetime.
inline scoped_action use_default(catchable_signal s) { return scoped_action(s, detail::simple_action(SIG_DFL)); }
inline scoped_action use_default(catchable_signal s, std::error_code& ec) noexcept {
  return scoped_action(s, detail::simple_action(SIG_DFL), ec);
}

/// Does what `s` would do if nothing caught it: for terminating signals the
/// process dies of `s` (unblock, SIG_DFL, re-raise: the exit status shows
/// the signal); for stop signals the process stops and this returns once it
/// is continued; for signals ignored by default it returns at once.
/// Async-signal-safe.
inline void raise_default(signal s) noexcept {
  if (s.catchable()) detail::emulate_default(s.number());
}

}  // namespace v1
}  // namespace sigkit
