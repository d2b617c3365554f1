// sigkit/forward.hpp - forward signals to a child the way a good init shim
// or a shell does: once, job-control aware, terminal aware. (run.hpp
// builds run() on it: spawn, forward, wait.)
//
// Layout
//   forwarder (RAII) owns a heap `state` whose watcher thread
//   (detail/watcher.hpp) waits for an event of the forwarder's stream, the
//   child's exit (its pidfd) or the kill_after deadline, and acts; with
//   dequeue_directly it sleeps in sigtimedwait() instead
//   (detail/direct_wait.hpp), taking the forwarded signals and SIGCHLD
//   straight from the kernel, and the stream pokes it. The state is made of
//   pieces with one job each:
//     followed_child    whom to signal (pidfd, pid or group) and the
//                       child's stops, continues and exit, as waitid() says
//     kill_timer        kill_after's clock: armed by a terminating request,
//                       paused while the child is stopped
//     terminal_handoff  the terminal the child's group was given: taken
//                       back while the forwarder stops or ends, given again
//     state             the rules (what to forward, when to continue the
//                       child, when to stop with it) and the loop
//
// User-sent faults
//   A SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP or SIGSYS that another
//   process sent with kill() reaches the forwarder's stream like any other
//   signal: sigkit's table takes synchronous signals for forwarders only,
//   and hands them only the ones another process sent (a real fault, or a
//   fault this process raised itself, goes to the previous disposition and
//   kills as if sigkit were not there; detail/table.hpp). So every live
//   forwarder forwards such a signal to its own child, one forwarder's
//   lifetime does not affect another's, and a fault sent before attach()
//   waits in the stream like everything else.
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "child_process.hpp"
#include "detail/deadline.hpp"
#include "detail/direct_wait.hpp"
#include "detail/forward_rules.hpp"
#include "detail/pausable_deadline.hpp"
#include "detail/synchronous_signals.hpp"
#include "detail/sys.hpp"
#include "detail/terminal_return.hpp"
#include "detail/watcher.hpp"
#include "inspect.hpp"
#include "signal.hpp"
#include "stream.hpp"

namespace sigkit {
inline namespace v1 {

/// forward_options::rewrite: forward `from` as `to`, or, with `to` empty,
/// not at all (dumb-init's `--rewrite FROM:TO`, TO 0).
struct signal_rewrite {
  signal from;
  std::optional<signal> to;
};

/// What a forwarder forwards and how.
struct forward_options {
  /// Forwarded signals (SIGCHLD is never forwarded; the forwarder watches it
  /// to follow the child's stops).
  signal_set signals = all_forwardable();
  /// Signals forwarded as another one: each `from` received is sent as
  /// `to` (or dropped, with `to` empty), and every rule below (job control,
  /// kill_after, continuing a stopped child) then applies to what is sent.
  /// A `from` outside `signals` is received all the same (so that a
  /// dropped signal does not kill this process either); a synchronous
  /// `from` (SIGSYS, ...) needs forward_faults; the last rule for a `from`
  /// wins. `to` may be any valid signal but the C library's reserved ones,
  /// SIGKILL and SIGSTOP included. Bad rules: std::invalid_argument from
  /// the forwarder's constructor.
  std::vector<signal_rewrite> rewrite{};
  /// kill(-pgid) instead of kill(pid).
  bool to_group = false;
  /// SIGKILL this long after a forwarded SIGTERM/SIGINT/SIGQUIT/SIGHUP (time
  /// the child spends stopped does not count); a second such signal kills at
  /// once. Zero or negative: never. A duration too long for the clock
  /// (nanoseconds::max()) never elapses, but arms the second-signal kill.
  std::chrono::nanoseconds kill_after{0};
  /// Follow job control: a stopped child stops the forwarder, a continued
  /// forwarder continues the child.
  bool job_control = true;
  /// Forward a SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP or SIGSYS that
  /// another process sent with kill() instead of dying of it (a real fault,
  /// or one this process raises itself, still kills).
  bool forward_faults = true;
  /// Where there is sigtimedwait() (Linux): the forwarding thread (the
  /// forwarder's own, or forward_until_exit()'s caller, as in run()) blocks
  /// the forwarded signals and SIGCHLD and sleeps in sigtimedwait(), taking
  /// them straight from the kernel as tini and dumb-init do, instead of
  /// through sigkit's handler and a wakeup: less latency per forwarded
  /// signal, at two costs. Only signals that every other thread blocks are
  /// taken this way (one that another thread leaves unblocked arrives
  /// through the handler and is forwarded all the same, a little later),
  /// and neither a handler installed before
  /// sigkit nor another sigkit stream sees the forwarded signals taken this
  /// way. A SIGCHLD the thread takes goes through sigkit's handler as if it
  /// had been delivered to it (every subscriber sees it; a handler that was
  /// there before sigkit runs on that thread, its third argument, the
  /// context, null). sigkit-run turns it on.
  bool dequeue_directly = false;
  /// Signal the child itself with kill(pid) instead of through its pidfd
  /// (pidfd_send_signal()), as tini and dumb-init do: the kernel does it a
  /// little faster (about 0.5% of the forwarding latency in
  /// bench/RESULTS.md). A promise by the caller: nothing reaps the child
  /// before the forwarder is done with it (no other thread, and no signal
  /// handler, calls wait() for it or for any child, and SIGCHLD is neither
  /// ignored nor SA_NOCLDWAIT), so its pid cannot be recycled while the
  /// forwarder may still signal it. Honoured by forward_until_exit() only,
  /// which never reaps and returns once the child has exited; attach()'s
  /// owner reaps the child while the forwarder's thread may still be
  /// sending, so attach() always uses the pidfd. run() turns it on itself
  /// when the promise holds (see run()).
  bool signal_by_pid = false;
  /// If set, called on the forwarding thread with a line for each decision
  /// ("forwarded SIGTERM to 1234", "not forwarding SIGINT: ...").
  std::function<void(const std::string&)> log{};
};

namespace detail {

inline bool is_terminating_request(int signo) noexcept {
  return signo == SIGTERM || signo == SIGINT || signo == SIGQUIT || signo == SIGHUP;
}

/// Throws std::invalid_argument naming the rule if a rewrite rule of
/// `options` cannot be followed.
inline void check_rewrites(const forward_options& options) {
  for (const signal_rewrite& r : options.rewrite) {
    const std::string what = "sigkit::forwarder: cannot rewrite " + std::string(r.from.name()) +
                             (r.to ? " as " + std::string(r.to->name()) : std::string(" (drop it)")) + ": ";
    if (!r.from.valid()) throw std::invalid_argument(what + "not a valid signal number");
    if (!r.from.catchable()) throw std::invalid_argument(what + "it cannot be caught");
    if (r.from == sigkit::child) throw std::invalid_argument(what + "SIGCHLD is never forwarded");
    if (r.from.synchronous() && !options.forward_faults)
      throw std::invalid_argument(what + "a synchronous signal is received only with forward_faults");
    if (r.to && !r.to->valid()) throw std::invalid_argument(what + "the new signal is not a valid signal number");
    if (r.to && !r.to->catchable() && r.to->number() != SIGKILL && r.to->number() != SIGSTOP)
      throw std::invalid_argument(what + "the new signal is reserved by the C library");
  }
}

/// The signals a forwarder receives in order to forward them: `signals`
/// and the asynchronous `from`s of its rewrite rules.
inline signal_set received_for_forwarding(const forward_options& options) {
  signal_set out = options.signals;
  for (const signal_rewrite& r : options.rewrite)
    if (r.from.valid() && !r.from.synchronous()) out.insert(r.from);
  return out;
}

/// What a forwarder's stream subscribes to: the forwarded signals (which
/// must be streamable: a synchronous one there is refused), SIGCHLD, and
/// with forward_faults the synchronous signals, of which only those another
/// process sent arrive.
inline signal_set forwarder_subscription(const forward_options& options) {
  check_rewrites(options);
  const signal_set received = received_for_forwarding(options) | signal_set{sigkit::child};
  check_subscribable(received, "forwarder");
  signal_set out = received;
  if (options.forward_faults) out |= synchronous_signals();
  return out;
}

/// The signals forward_options::dequeue_directly takes straight from the
/// kernel: the forwarded ones but SIGCHLD (not forwarded; the forwarder's
/// thread takes it all the same, and hands it to sigkit's handler). Empty
/// when the option is off. (Never a synchronous signal: those are not in
/// the forwarded set.)
inline signal_set directly_dequeued(const forward_options& options) {
  return options.dequeue_directly ? received_for_forwarding(options) - signal_set{sigkit::child} : signal_set{};
}

/// What the forwarder's thread blocks and takes with sigtimedwait() with
/// dequeue_directly (detail/direct_wait.hpp): the directly dequeued signals
/// and SIGCHLD (the child's stops and exit, and the poke that wakes it).
/// Empty when the option is off or there is no sigtimedwait().
inline signal_set waited_for(const forward_options& options) {
  const signal_set direct = directly_dequeued(options);
  if (!SIGKIT_HAVE_SIGTIMEDWAIT || direct.empty()) return {};
  return direct | signal_set{sigkit::child};
}

/// forward_options::rewrite as a table: what each received signal is sent
/// as (0: nothing).
class rewrite_table {
 public:
  explicit rewrite_table(const std::vector<signal_rewrite>& rules) noexcept {
    for (int n = 0; n < signal_limit; ++n) to_[static_cast<std::size_t>(n)] = n;
    for (const signal_rewrite& r : rules)
      if (r.from.valid()) to_[static_cast<std::size_t>(r.from.number())] = r.to ? r.to->number() : 0;
  }
  /// What `signo` is sent as; 0 to drop it.
  int operator()(int signo) const noexcept {
    return signo > 0 && signo < signal_limit ? to_[static_cast<std::size_t>(signo)] : signo;
  }

 private:
  std::array<int, signal_limit> to_{};
};

/// Milliseconds on SIGKIT_COARSE_CLOCK (detail/platform.hpp): a tick
/// coarse, and cheap enough to read between a forwarded signal and the
/// next wait.
inline std::int64_t coarse_ms() noexcept {
  timespec ts{};
  ::clock_gettime(SIGKIT_COARSE_CLOCK, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

/// A SIGIO (SIGPOLL) the kernel raised for one of this process's own
/// descriptors (O_ASYNC: si_code POLL_IN ... POLL_HUP): news about this
/// process's file, not a request for the child.
inline bool own_descriptor_readiness(const event& e) noexcept {
#if defined(SIGIO)
  return e.signal.number() == SIGIO && e.from_kernel();
#else
  (void)e;
  return false;
#endif
}

/// The child a forwarder follows: whom a forwarded signal goes to, and its
/// stops, continues and exit as waitid() reports them.
struct followed_child {
  pid_t pid = -1;
  int pidfd = -1;
  pid_t pgid = -1;
  bool owns_group = false;
  bool stopped = false;  // as last read: a stop not followed by a continue
  bool by_pid = false;   // forward_options::signal_by_pid, in forward_until_exit()

  void attach(const child_process& c) {
    pid = c.pid();
    pidfd = c.pidfd();
    pgid = c.own_group() ? c.pid() : ::getpgid(c.pid());
    owns_group = c.own_group();
  }

  /// kill(-pgid) with to_group, else the child itself.
  pid_t target(bool to_group) const noexcept { return to_group && pgid > 0 ? -pgid : pid; }

  /// Sends `signo` to target(to_group): through the pidfd for the child
  /// itself, so that a recycled pid is never hit (by pid if `by_pid`, whose
  /// promise rules that out). 0, or -1 with errno.
  int send(int signo, bool to_group) const noexcept {
    const pid_t to = target(to_group);
    return to == pid ? signal_child(pid, by_pid ? -1 : pidfd, signo) : sys().kill(to, signo);
  }

  /// The next stop (CLD_STOPPED, CLD_TRAPPED) or continue (CLD_CONTINUED)
  /// waitid() reports (it reports each once); nullopt when there is none.
  std::optional<siginfo_t> next_change() const noexcept {
    siginfo_t info{};
    if (wait_child(pid, pidfd, &info, WSTOPPED | WCONTINUED | WNOHANG) != 0 || info.si_pid == 0) return std::nullopt;
    return info;
  }

  /// True once the child has exited (without reaping it: its owner does).
  bool exited() const noexcept {
    siginfo_t info{};
    const int r = wait_child(pid, pidfd, &info, WEXITED | WNOHANG | WNOWAIT);
    return r != 0 || info.si_pid != 0;  // an error (ECHILD): already reaped
  }

  /// Whether the stopped child has yet to act on `signo`: it is still
  /// pending there, or the child ignores it (then the kernel discarded it,
  /// and only a SIGCONT lets kill_after's clock run). With to_group the
  /// whole group was sent it and may be stopped: always true. Where /proc
  /// cannot tell (none, or another pid namespace's), true as well.
  bool request_unacted(int signo, bool to_group) const {
    if (to_group) return true;
    std::error_code ec;
    const auto status = inspect_status(pid, ec);
    if (!status || status->ppid != ::getpid()) return true;
    const auto seen = status->signals();
    const signal s{signo};
    return seen.pending.contains(s) || (seen.ignored.contains(s) && !seen.blocked.contains(s));
  }
};

/// forward_options::kill_after's clock: armed by the first terminating
/// request, paused while the child is stopped (time spent stopped does not
/// count), disarmed once it has fired. A pausable_deadline that is armed
/// once.
class kill_timer {
 public:
  /// Arms the clock for `after` (zero or less: never) unless it is armed
  /// already; paused at once if the child is stopped now.
  void arm(std::chrono::nanoseconds after, bool child_stopped) noexcept {
    if (after <= std::chrono::nanoseconds::zero() || armed()) return;
    clock_.arm(after, child_stopped, pausable_deadline::clock::now());
  }
  /// Armed: running or paused (a second terminating request kills at once).
  bool armed() const noexcept { return clock_.armed(); }
  bool running() const noexcept { return clock_.running(); }
  bool paused() const noexcept { return clock_.paused(); }
  /// When it fires (never() unless running).
  deadline due() const noexcept {
    const auto at = clock_.due();
    return at ? deadline::from(*at, std::chrono::nanoseconds::zero()) : deadline::never();
  }
  /// The child stopped: keep what is left.
  void pause() noexcept { clock_.pause(pausable_deadline::clock::now()); }
  /// The child continued: run again for what was left.
  void resume() noexcept { clock_.resume(pausable_deadline::clock::now()); }
  void disarm() noexcept { clock_.disarm(); }

 private:
  pausable_deadline clock_;
};

/// The controlling terminal a child's group was given
/// (spawn_options::foreground): taken back while the forwarder stops or
/// ends, given again when the stopped child is continued.
class terminal_handoff {
 public:
  terminal_handoff() = default;
  terminal_handoff(const terminal_handoff&) = delete;
  terminal_handoff& operator=(const terminal_handoff&) = delete;
  ~terminal_handoff() {
    if (tty_ >= 0) ::close(tty_);
  }

  /// The child's group `pgid` has the terminal now.
  void given_to(pid_t pgid) noexcept {
    tty_ = open_tty();
    pgid_ = pgid;
  }
  /// The terminal goes back to this process's group if the child has it.
  void take_back() const noexcept { take_terminal_from(tty_, pgid_); }
  /// The terminal goes to the child's group again if this process has it.
  void give_again() const noexcept { return_terminal_to(tty_, pgid_); }

 private:
  int tty_ = -1;
  pid_t pgid_ = -1;
};

}  // namespace detail

/// Forwards signals to a child while it lives (RAII). Construct it before
/// spawning, so that nothing sent in between is lost, and attach() the
/// child; or construct it with the child. Several forwarders may live at
/// once, each with its own child.
///
/// Rules, each what a careful shell or init does:
///  - a signal typed at the terminal (si_code SI_KERNEL, no sender) is not
///    forwarded to a child in this process's group: the terminal already
///    delivered it to the whole foreground group;
///  - signals sent by this process, by the child, or (with to_group) by a
///    member of the child's group are not forwarded back (no loops);
///  - a SIGIO the kernel raised for one of this process's own descriptors
///    (O_ASYNC) is not forwarded: it is not about the child;
///  - forward_options::rewrite turns a received signal into another one (or
///    into nothing) before the rules below apply;
///  - SIGTSTP/SIGTTIN/SIGTTOU are forwarded (as SIGSTOP to a child in its own
///    group or session, whose group may be orphaned and would ignore them);
///    when the child stops, the forwarder stops too (SIGSTOP), so the shell
///    sees the job stopped; when the forwarder is continued, it continues a
///    stopped child and gives it the terminal back if it had it;
///  - any other SIGCONT is forwarded like any signal (a stopped child is
///    given the terminal back first). The SIGCONT that ends a stop the
///    forwarder followed is not forwarded again: the forwarder continued
///    the child, or the shell's group SIGCONT did. (A SIGCONT sent to the
///    whole group of a child that shares this process's group otherwise
///    reaches it twice, once from the sender and once forwarded; siginfo
///    does not tell kill(pid) from kill(-pgid).)
///  - a SIGTERM/SIGINT/SIGQUIT/SIGHUP for a stopped child is followed by
///    SIGCONT so that it can act on it; not if the child took the request
///    and was stopped afterwards (on Linux /proc/PID/status tells: the
///    request is neither pending nor ignored there; elsewhere, and with
///    to_group, the child is always continued). "Stopped" is as the
///    forwarder sees it right after the send; with dequeue_directly, as it
///    reads the stop from its SIGCHLD: a stop read within 100 ms of the
///    request (as a coarse clock tells, a few ms either way), the request
///    not acted on, is continued; a later one is followed like any other;
///  - with kill_after, SIGKILL follows a terminating request after that
///    long, or at once on the second one;
///  - with forward_faults, a SIGSEGV (BUS, ILL, FPE, TRAP, SYS) that another
///    process sent is forwarded; a real fault still kills this process.
class forwarder {
 public:
  /// Subscribes now (signals that arrive before attach() are kept and
  /// forwarded then). Throws like sigkit::stream.
  explicit forwarder(forward_options options = {}) : st_(std::make_unique<state>(std::move(options))) {}

  /// Subscribes and attaches to `c` at once.
  forwarder(child_process& c, forward_options options = {}) : forwarder(std::move(options)) { attach(c); }

  forwarder(const forwarder&) = delete;
  forwarder& operator=(const forwarder&) = delete;
  forwarder(forwarder&&) = delete;
  forwarder& operator=(forwarder&&) = delete;

  /// Stops forwarding, takes the terminal back if the child had it, and
  /// restores every disposition.
  ~forwarder() {
    if (::getpid() != st_->owner) {  // forked child: no thread to join here
      (void)st_.release();
      return;
    }
    st_->watch.stop();
    st_->tty.take_back();
  }

  /// Starts forwarding to `c` (which must outlive this forwarder, or be
  /// waited for first).
  void attach(child_process& c) {
    begin_attach(c);
    st_->watch.start([s = st_.get()](std::stop_token done) { s->loop(done); });
  }

  /// Forwards to `c` on the calling thread until the child exits, then
  /// returns without reaping it (c.wait() reaps it), the thread's signal
  /// mask as it was: attach() without a thread of the forwarder's own, for
  /// a thread that has nothing else to do meanwhile. run() forwards this
  /// way with dequeue_directly, so that sigkit-run is one thread. With
  /// dequeue_directly this thread is the one that blocks the forwarded
  /// signals and SIGCHLD and sleeps in sigtimedwait(). `on_wake`, if set,
  /// is called on this thread once at the start and after every wake that
  /// may concern a child (every SIGCHLD; in sigtimedwait(), not after a
  /// signal it forwards): run() reaps orphans there. An exception from it (or from
  /// forward_options::log) leaves this call and the forwarding, the mask
  /// restored. Throws std::logic_error if the forwarder was attached
  /// before, std::invalid_argument for an empty child.
  void forward_until_exit(child_process& c, std::function<void()> on_wake = {}) {
    begin_attach(c);
    st_->attached_here = true;
    st_->child.by_pid = st_->options.signal_by_pid;
    st_->on_wake = std::move(on_wake);
    const std::stop_token never;
#if SIGKIT_HAVE_SIGTIMEDWAIT
    if (st_->wait_for_signals && st_->loop_in_sigtimedwait(never, true)) return;
#endif
    st_->loop_in_poll(never);
  }

  /// Signals forwarded so far.
  std::uint64_t forwarded() const noexcept { return st_->forwarded.load(); }

 private:
  struct state {
    explicit state(forward_options opts)
        : options(std::move(opts)),
          watch(detail::forwarder_subscription(options), stream_options{256, true}, detail::sent_faults_too),
          rewritten(options.rewrite) {}

    forward_options options;
    detail::watcher watch;
    detail::rewrite_table rewritten;
    pid_t owner = ::getpid();
    detail::followed_child child;
    detail::terminal_handoff tty;
    detail::kill_timer kill;
    bool stop_to_follow = false;         // job control: a stop read but not followed yet
    bool stop_read_early = false;        // loop_in_sigtimedwait(): a stop read before its SIGCHLD came
    bool resumed_from_own_stop = false;  // follow_stop() returned: its SIGCONT is still to come
    const bool wait_for_signals = !detail::waited_for(options).empty();  // the loop sleeps in sigtimedwait()
    int unchecked_request = 0;         // forward(): a request sent to a child not yet read stopped
    std::int64_t unchecked_since = 0;  // its time, detail::coarse_ms()
    // How long after a request a stop read from its SIGCHLD counts as one
    // from the request's time (see forward()): the request not acted on,
    // the child is continued; a stop read later is followed as any stop.
    static constexpr std::chrono::milliseconds unchecked_for{100};
    std::atomic<std::uint64_t> forwarded{0};
    bool attached_here = false;       // forward_until_exit(): the loop runs on its caller's thread
    std::function<void()> on_wake{};  // forward_until_exit()'s: after every wait but a forwarded signal's

    void log(const std::string& line) const {
      if (options.log) options.log(line);
    }

    // The forwarding path (send, forward, on_event, the sigtimedwait()
    // loop) is [[gnu::hot]] and keeps its rare branches in [[gnu::cold]]
    // functions of their own: the linker then puts it on few pages. A
    // forwarder wakes with its pages out of the TLB and cache; in a
    // cpu-clock profile the first instruction of each page it touched took
    // the samples (bench/RESULTS.md, issue 17 item 4).
    [[gnu::hot]] bool send(int signo) {
      const int r = child.send(signo, options.to_group);
      if (r == 0) {
        // This thread is the only writer: no locked increment on the path.
        forwarded.store(forwarded.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      }
      if (options.log) log_send(signo, r == 0 ? 0 : errno);
      return r == 0;
    }

    [[gnu::cold, gnu::noinline]] void log_send(int signo, int error) const {
      if (error != 0) {
        log("could not forward " + std::string(signal{signo}.name()) + ": " + std::generic_category().message(error));
        return;
      }
      const pid_t to = child.target(options.to_group);
      log("forwarded " + std::string(signal{signo}.name()) + " to " + (to < 0 ? "group " : "") +
          std::to_string(to < 0 ? -to : to));
    }

    /// Why an event must not be forwarded, or nullptr.
    /// The supervisor's rules (detail/forward_rules.hpp), and one of the
    /// forwarder's own: its signal-driven descriptors' SIGIO is not passed on.
    [[gnu::hot]] const char* skip_reason(const event& e) const {
      const detail::forward_target target{child.pid, child.pgid, options.to_group};
      const pid_t sender = e.from.pid;
      // The two lookups are system calls on the forwarding path: made only
      // when the rule that reads them can apply (-1 is "no group": neither
      // rule then matches).
      const bool typed_at_terminal = e.from.code == SI_KERNEL && sender == 0;
      const pid_t self_pgrp = typed_at_terminal ? ::getpgrp() : -1;
      const bool from_another = e.from_user() && sender > 0 && sender != owner && sender != child.pid;
      const pid_t sender_pgid = target.whole_group && from_another ? ::getpgid(sender) : -1;
      if (const char* why = detail::forward_skip_reason(e, target, owner, self_pgrp, sender_pgid)) return why;
      if (detail::own_descriptor_readiness(e)) return "raised by the kernel for a descriptor of this process";
      return nullptr;
    }

    // Reads the child's stops and continues. A stop is followed for job
    // control at once if `follow`, else by the loop before it waits again.
    void refresh_child_state(bool follow = true) {
      while (const auto change = child.next_change()) {
        if (change->si_code == CLD_STOPPED || change->si_code == CLD_TRAPPED) {
          if (!child.stopped) on_child_stopped(change->si_status, follow);
        } else if (change->si_code == CLD_CONTINUED) {
          if (child.stopped) on_child_continued();
        }
      }
      // Read after the send without a stop: the child was running then.
      unchecked_request = 0;
    }

    // Like refresh_child_state but never stops this process here: a stop
    // it reads is followed by the loop.
    void refresh_stop_only() { refresh_child_state(false); }

    void on_child_stopped(int by, bool follow) {
      child.stopped = true;
      kill.pause();
      log("child stopped by " + std::string(signal{by}.name()));
      if (const int request = std::exchange(unchecked_request, 0);
          request != 0 && detail::coarse_ms() - unchecked_since <= unchecked_for.count() &&
          child.request_unacted(request, options.to_group)) {
        continue_child();  // forward()'s rule, for a stop read after the send
        return;
      }
      if (!options.job_control) return;
      if (follow)
        follow_stop();
      else
        stop_to_follow = true;
    }

    void on_child_continued() {
      child.stopped = false;
      stop_to_follow = false;
      stop_read_early = false;
      kill.resume();
    }

    // Job control: stop this process too, as the child did.
    void follow_stop() {
      tty.take_back();
      log("stopping this process too");
      // raise() (tgkill to this thread), not kill(getpid()): a process-wide
      // SIGSTOP may be picked up by another thread, and this one would
      // return from kill() and continue the child before the group stop
      // reached it. Sent to this thread, the stop happens before the call
      // returns, and it returns once someone continues us.
      ::raise(SIGSTOP);
      // Continued: continue the child now. The SIGCONT that continued this
      // process arrives as an event next; it is not forwarded again.
      resumed_from_own_stop = true;
      continue_child_if_stopped();
    }

    // SIGCONT to the child. The kernel continues it before kill() returns,
    // so it counts as continued now (its CLD_CONTINUED may come later, or,
    // if it is stopped again first, never).
    void continue_child() {
      if (send(SIGCONT)) on_child_continued();
    }

    void continue_child_if_stopped() {
      refresh_stop_only();
      if (!child.stopped) return;
      tty.give_again();
      continue_child();
    }

    [[gnu::hot]] void on_event(const event& e) {
      const int received = e.signal.number();
      if (received == SIGCHLD) return on_child_signal(e);
      if (received == SIGCONT && resumed_from_own_stop) return on_own_continue();
      const int signo = rewritten(received);
      const bool terminating = detail::is_terminating_request(signo);
      if (terminating && kill.armed()) return kill_now(signo);
      if (const char* why = skip_reason(e)) return not_forwarding(e, why, terminating);
      if (signo != received) {
        if (options.log) log_rewrite(e, signo);
        if (signo == 0) return;
      }
      if (signo == SIGCONT) {
        forward_continue();
      } else if (detail::is_job_stop(signo)) {
        send(options.job_control ? detail::job_stop_to_send(signo, child.owns_group) : signo);
      } else {
        forward(signo, terminating);
      }
      if (terminating) kill.arm(options.kill_after, child.stopped);
      if (signo == SIGCONT) refresh_child_state();
    }

    [[gnu::noinline]] void on_child_signal(const event& e) {
      refresh_child_state();
      const bool its_stop = e.from.pid == child.pid && (e.from.code == CLD_STOPPED || e.from.code == CLD_TRAPPED);
      if (stop_read_early && its_stop) {
        stop_read_early = false;
        if (child.stopped && options.job_control) follow_stop();
      }
    }

    // The continue of a stop this forwarder followed: the child was
    // continued with it (follow_stop), by us or by the group's SIGCONT.
    [[gnu::noinline]] void on_own_continue() {
      resumed_from_own_stop = false;
      continue_child_if_stopped();
      refresh_child_state();
    }

    // A second terminating request while kill_after's clock is armed.
    [[gnu::cold, gnu::noinline]] void kill_now(int signo) {
      log("second " + std::string(signal{signo}.name()) + ": killing the child now");
      send(SIGKILL);
    }

    [[gnu::cold, gnu::noinline]] void not_forwarding(const event& e, const char* why, bool terminating) {
      log("not forwarding " + std::string(e.signal.name()) + ": " + why);
      // The child got it anyway (from the terminal, or it sent it): the
      // clock runs as if it had been forwarded.
      if (terminating) kill.arm(options.kill_after, child.stopped);
    }

    [[gnu::cold, gnu::noinline]] void log_rewrite(const event& e, int signo) const {
      log(signo == 0 ? "not forwarding " + std::string(e.signal.name()) + ": rewritten as nothing"
                     : "rewriting " + std::string(e.signal.name()) + " as " + std::string(signal{signo}.name()));
    }

    // A SIGCONT to forward: a stopped child gets the terminal back first,
    // as when the forwarder itself is continued.
    void forward_continue() {
      refresh_stop_only();
      if (child.stopped) tty.give_again();
      continue_child();
    }

    [[gnu::hot]] void forward(int signo, bool terminating) {
      send(signo);
      if (!terminating) return;
      if (wait_for_signals && !child.stopped) {
        // In sigtimedwait(): had the child been stopped when the request
        // went, the SIGCHLD of its stop is pending now or will reach the
        // stream (and poke this thread), so a wait ends at once and
        // on_child_stopped() applies the rule below then, if it reads the
        // stop within unchecked_for (a stop read later is a later stop).
        // That keeps a waitid() out of the time between this send and the
        // next wait, without a timer (arming and cancelling one on every
        // wait cost more than the waitid(): about 8 us on this VM), and on
        // the coarse clock (steady_clock's read was a third of sigkit's
        // own time on this path in a profile).
        unchecked_request = signo;
        unchecked_since = detail::coarse_ms();
        return;
      }
      // A stopped child cannot act on the request: continue it. Checked
      // after the send, so the check is not in the forwarding latency; a
      // child seen stopped is continued only if it has yet to act on the
      // request, so a child that took it and was stopped afterwards stays
      // stopped (and job control follows that stop).
      refresh_stop_only();
      if (child.stopped && child.request_unacted(signo, options.to_group)) continue_child();
    }

    // kill_after: kills the child once its clock has run out. Returns when
    // to look again (never() while the clock is not running), or nullopt if
    // something changed and the loop must look again now.
    std::optional<detail::deadline> escalate() {
      if (kill.running()) {
        if (!kill.due().passed()) return kill.due();
        // A stop whose SIGCHLD is not handled yet (the handler may still
        // be on its way on another thread) pauses the escalation too.
        refresh_stop_only();
        if (!kill.running()) return std::nullopt;  // stopped: paused until it continues
        log("kill_after elapsed: killing the child");
        send(SIGKILL);
        kill.disarm();
        return std::nullopt;
      }
      if (kill.paused()) {
        // Paused by a stop: look again every 100 ms as well as on SIGCHLD,
        // so a continue whose SIGCHLD is late or lost (TSan's runtime drops
        // deferred signals) still re-arms it.
        refresh_stop_only();
        if (kill.running()) return std::nullopt;
        return detail::deadline::after(std::chrono::milliseconds(100));
      }
      return detail::deadline::never();
    }

    // Waits for an event of the stream, a poke, the child's exit (its
    // pidfd) or `until`. Returns whether the child may have exited.
    bool wait(const detail::deadline& until) {
      // A negative descriptor (no pidfd) is skipped by poll().
      pollfd exit[1] = {{child.pidfd, POLLIN, 0}};
      const int ready = watch.wait(until, exit);
      return ready < 0 || (ready > 0 && exit[0].revents != 0);  // an error: look anyway
    }

    // The stream's events, as many as are there.
    void take_stream_events() {
      while (auto e = watch.events().try_recv()) on_event(*e);
    }

    // The rest of one round of the loop before it waits: the child's exit,
    // a stop to follow, kill_after. Returns whether to leave the loop (the
    // child has exited), and sets `until` to when to look again, or to
    // nullopt to look again at once.
    bool act(bool exit_possible, std::optional<detail::deadline>& until) {
      if (exit_possible && child.exited()) {
        tty.take_back();
        return true;
      }
      if (stop_to_follow) {  // a stop read where it could not be followed
        stop_to_follow = false;
        if (child.stopped) follow_stop();
        until.reset();
        return false;
      }
      until = escalate();
      return false;
    }

    // The forwarder's own thread (attach()).
    void loop(const std::stop_token& done) {
#if SIGKIT_HAVE_SIGTIMEDWAIT
      if (wait_for_signals && loop_in_sigtimedwait(done, false)) return;
#endif
      loop_in_poll(done);
    }

    void woken() {
      if (on_wake) on_wake();
    }

    // Nothing for act() to do after a forwarded signal but wait for ever.
    bool idle() const noexcept { return !stop_to_follow && !kill.running() && !kill.paused(); }

#if SIGKIT_HAVE_SIGTIMEDWAIT
    // forward_options::dequeue_directly: the thread takes what it forwards
    // and SIGCHLD with sigtimedwait(), one per wait (detail/direct_wait.hpp),
    // and anything that reaches the stream instead pokes it. The child's
    // exit comes as a SIGCHLD; a stop request, as a poke. Returns false,
    // having changed nothing, if this thread cannot be poked (a seccomp
    // filter that refuses rt_tgsigqueueinfo): then the poll() loop runs.
    // A thread that ends after this keeps the block (its last pokes die
    // with it); one that `goes_on` (forward_until_exit()) takes its last
    // pokes and gets its mask back, whichever way it leaves.
    bool loop_in_sigtimedwait(const std::stop_token& done, bool goes_on) {
      const signal_set direct = detail::directly_dequeued(options);
      detail::direct_wait taker(detail::waited_for(options));
      // A first poke, to see that pokes can be sent: it pends (blocked)
      // and ends the first wait early.
      if (!detail::poke_thread(taker.thread())) {
        taker.unblock();
        return false;
      }
      struct poked_by_stream {
        stream& events;
        detail::direct_wait& taker;
        bool goes_on;
        poked_by_stream(stream& s, detail::direct_wait& t, bool on) : events(s), taker(t), goes_on(on) {
          events.poke_on_delivery(detail::sent_faults_too, taker.thread());
        }
        ~poked_by_stream() {
          events.poke_on_delivery(detail::sent_faults_too, 0);  // returns once no handler is still poking
          if (!goes_on) return;
          taker.take_last_pokes();
          taker.unblock();
        }
        poked_by_stream(const poked_by_stream&) = delete;
        poked_by_stream& operator=(const poked_by_stream&) = delete;
      } const poked(watch.events(), taker, goes_on);
      const std::stop_callback wake(done, [tid = taker.thread()]() noexcept { (void)detail::poke_thread(tid); });
      // A stop from before the subscription sent no SIGCHLD to read: look
      // once now, so that forward() may rely on SIGCHLD for every later one.
      // A stop read here is followed when its SIGCHLD comes (it happened
      // while the forwarder listened, as at sigkit-run's start); one from
      // before the forwarder existed sends none and is not followed, as in
      // the poll() loop.
      refresh_stop_only();
      stop_read_early = std::exchange(stop_to_follow, false);
      woken();
      bool exit_possible = true;
      while (!done.stop_requested()) {
        // After a signal taken here the stream holds nothing new: what
        // reaches it pokes this thread, and the next wait returns the poke.
        if (exit_possible) take_stream_events();
        std::optional<detail::deadline> until;
        if (act(exit_possible, until)) return true;
        if (!until) continue;
        // Anything but a forwarded signal (a SIGCHLD, now in the stream; a
        // poke; a timeout): look at the child again, one waitid().
        exit_possible = !forward_while_idle(taker, direct, *until);
        if (exit_possible) woken();
      }
      return true;
    }

    // One wait of loop_in_sigtimedwait(), and more while they only forward:
    // after a forwarded signal that left nothing to do (no clock of
    // kill_after's running or paused, no stop to follow) act() would find
    // nothing and wait for ever again, so it waits at once, as a
    // sigwaitinfo() loop does, keeping that bookkeeping out of the time
    // before the child runs when it shares this CPU. Returns whether the
    // last wait took a signal to forward.
    [[gnu::hot, gnu::noinline]] bool forward_while_idle(const detail::direct_wait& taker, const signal_set& direct,
                                                        const detail::deadline& until) {
      using taken = detail::direct_wait::taken;
      const auto on_signal = [this](const event& e) { on_event(e); };
      taken t = taker.wait(until, direct, on_signal);
      while (t == taken::signal && until.forever() && idle()) t = taker.wait(until, direct, on_signal);
      return t == taken::signal;
    }
#endif

    void loop_in_poll(const std::stop_token& done) {
      // Whether the child may have exited: always without a pidfd; with one,
      // at the start and whenever poll() says it is readable (it stays so).
      bool exit_possible = true;
      woken();
      while (!done.stop_requested()) {
        take_stream_events();
        std::optional<detail::deadline> until;
        if (act(exit_possible || child.pidfd < 0, until)) return;
        if (!until) continue;
        exit_possible = wait(*until);
        woken();
      }
    }
  };

  // What attach() and forward_until_exit() share: the checks and the child.
  void begin_attach(child_process& c) {
    if (st_->watch.started() || st_->attached_here)
      throw std::logic_error("sigkit::forwarder: already attached to a child");
    if (!c.valid()) throw std::invalid_argument("sigkit::forwarder: the child is empty");
    st_->child.attach(c);
    if (c.took_terminal()) st_->tty.given_to(st_->child.pgid);
  }

  std::unique_ptr<state> st_;
};

}  // namespace v1
}  // namespace sigkit
