// sigkit/supervisor.hpp - run many children at once, each in its own process
// group, under one signal policy: what a test runner, a build tool or a
// parallel job runner has to do by hand.
//
// Why this is hard
//   Process groups do not form a tree. A child in a group of its own does
//   not get what the terminal sends (^C, ^Z) nor what is sent to its
//   parent's group, so the parent must forward every signal to every group
//   it owns. Job control then needs care: on ^Z every group must stop and
//   the parent must stop itself (the shell only watches the parent), the
//   timers that enforce per-child timeouts must not run meanwhile, and on
//   `fg` every group must continue.
//
// Layout
//   supervisor -> state (heap, shared with one thread). The thread owns a
//   stream of the forwarded signals and SIGCHLD, an epoll set of the
//   children's pidfds (Linux; elsewhere exits are found by waitpid() per
//   child on SIGCHLD) and the timers. One mutex guards the child table and
//   the queue of ends: the thread holds it while it acts on a batch of
//   signals, reaps and fires timers, never while it waits or is stopped;
//   spawn() holds it across child_process::spawn(), so a signal the thread
//   forwards either predates the spawn or reaches the new child too.
//
// Stop tracking
//   A child's stops and continues are read with waitid(WSTOPPED |
//   WCONTINUED | WNOHANG) on its pidfd: for the child a SIGCHLD names, for
//   every child when the stream dropped SIGCHLDs, after a terminating
//   request, on SIGCONT, and once a second (the census: the kernel merges a
//   SIGCHLD into one still pending, so a stop can arrive without its own).
//   A timer is re-checked against waitid() before it fires, so a stop whose
//   SIGCHLD has not been read yet pauses it too. Stops this supervisor makes
//   itself (job control) count from the moment it sends SIGSTOP, continues
//   from the moment it sends SIGCONT.
//
// Known races (written up where they live)
//   * Two supervisors (or a supervisor and a forwarder) in one process each
//     stop the process on ^Z. A process-wide count of such stops makes the
//     second one stand down when the first stopped the process after the
//     second read the request; and a SIGCONT already queued behind the
//     request cancels it. Left: the second reads the request only after the
//     process was stopped and continued, and the SIGCONT's handler has not
//     run yet (another thread is taking it): the process stops twice and
//     needs a second `fg`. Forwarders do not take part in the count.
//   * pgid reuse: a group is signalled with kill(-pgid) only while its
//     leader (our child) is not reaped, so the number cannot belong to
//     another group. Members left behind after the leader is reaped are no
//     longer signalled. Nobody else in the process may reap our children
//     (waitpid(-1) elsewhere breaks this, as it breaks child_process).
//
// The forwarding rules shared with forwarder (forward.hpp) are in
// detail/forward_rules.hpp (forward_skip_reason, job_stop_to_send,
// is_job_stop); take_terminal_from and return_terminal_to in
// detail/terminal_return.hpp; the clock of timeouts and grace periods,
// pausable_deadline, in detail/pausable_deadline.hpp. The supervisor's own
// pieces are small free functions below (next_state_change,
// stop_this_process).
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "child_process.hpp"
#include "detail/deadline.hpp"
#include "detail/forward_rules.hpp"
#include "detail/pausable_deadline.hpp"
#include "detail/synchronous_signals.hpp"
#include "detail/terminal_return.hpp"
#include "error.hpp"
#include "signal.hpp"
#include "stream.hpp"
#include "wakeup.hpp"

#if SIGKIT_HAVE_PIDFD
#include <sys/epoll.h>
#endif

namespace sigkit {
inline namespace v1 {

/// How a supervisor forwards, stops, times out and shuts down.
struct supervisor_options {
  /// Forwarded to every child's group (SIGCHLD never is: the supervisor
  /// watches it).
  signal_set signals = all_forwardable();
  /// Each spawned child leads a process group of its own and is signalled
  /// with kill(-pgid). False: children stay in this process's group (one
  /// group for all) and are signalled one by one; what the terminal types
  /// reaches them directly then.
  bool own_groups = true;
  /// The first of these (received, or shutdown()) starts a shutdown: it is
  /// forwarded (if in `signals`), no new child is started, and after
  /// `shutdown_grace` every group gets SIGKILL. A second one kills at once.
  signal_set shutdown_signals{interrupt, terminate, hangup, quit};
  /// Zero: no SIGKILL on a timer after a shutdown began (a second request
  /// still kills). Time this process spends stopped does not count.
  std::chrono::nanoseconds shutdown_grace = std::chrono::seconds(10);
  /// Per-child timeout, counted while the child runs (time it spends
  /// stopped does not count); zero: none. child_options can override it.
  std::chrono::nanoseconds timeout{0};
  /// After a timeout's SIGTERM, SIGKILL once the child has run this much
  /// longer. Zero: SIGKILL at once.
  std::chrono::nanoseconds timeout_grace = std::chrono::seconds(10);
  /// Job control: SIGTSTP/SIGTTIN/SIGTTOU (received, or a child stopped by
  /// one) stop every group and then this process, so that the shell sees the
  /// job stopped; SIGCONT continues every group. These four signals are
  /// watched whether or not they are in `signals`.
  bool job_control = true;
  /// Forward a SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP or SIGSYS that
  /// another process sent with kill() to every group instead of dying of it,
  /// as forward_options::forward_faults does (a real fault, or one this
  /// process raises itself, still kills). Every live supervisor and
  /// forwarder in the process gets such a signal.
  bool forward_faults = true;
  /// Called with a line per decision ("forwarded SIGINT to 12 children",
  /// "child 4242 timed out: SIGTERM"), on the supervisor's thread (or in the
  /// call that made the decision, e.g. shutdown()), with the supervisor's
  /// lock held: it must not call the supervisor. An exception it throws is
  /// dropped.
  std::function<void(const std::string&)> log{};
  /// Called when a shutdown begins, with the signal that began it (e.g. to
  /// print "stopping, ^C again to kill"); like `log`, with the lock held:
  /// it must not call the supervisor. An exception it throws is dropped.
  std::function<void(sigkit::signal)> on_shutdown{};
};

/// Per child: how to start it and its own timeout.
struct child_options {
  /// Passed to child_process::spawn(). The supervisor sets
  /// new_process_group from supervisor_options::own_groups (a new_session
  /// child leads its group too). `foreground` gives the child's group the
  /// terminal if this process is in the foreground; job control takes it
  /// back before this process stops and gives it again on SIGCONT.
  spawn_options spawn{};
  /// Overrides supervisor_options::timeout for this child (zero: none).
  std::optional<std::chrono::nanoseconds> timeout{};
};

/// How one supervised child ended.
struct child_end {
  std::uint64_t id = 0;  ///< what spawn()/adopt() returned
  pid_t pid = -1;        ///< its pid (reaped: it may belong to another process now)
  exit_status status{};  ///< how it ended
  /// From spawn() (or adopt()) until it was reaped.
  std::chrono::nanoseconds wall{};
  /// Of `wall`, the time it spent stopped.
  std::chrono::nanoseconds stopped{};
  bool timed_out = false;  ///< its timeout expired (SIGTERM was sent to its group)
  bool killed = false;     ///< the supervisor sent it SIGKILL (grace over, or a second request)
  bool shutdown = false;   ///< it ended after a shutdown began
};

namespace detail {

/// A stop or continue of a child, as waitid() reports it.
enum class state_change { none, stopped, continued };

/// The next stop/continue of our child `pid` (through `pidfd` if >= 0) not
/// read yet; `by` gets the stopping signal. Never reaps.
inline state_change next_state_change(pid_t pid, int pidfd, int& by) noexcept {
  siginfo_t info{};
  int r;
#if SIGKIT_HAVE_PIDFD
  if (pidfd >= 0)
    r = ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &info, WSTOPPED | WCONTINUED | WNOHANG);
  else
#endif
    r = ::waitid(P_PID, static_cast<id_t>(pid), &info, WSTOPPED | WCONTINUED | WNOHANG);
  (void)pidfd;
  if (r != 0 || info.si_pid == 0) return state_change::none;
  if (info.si_code == CLD_STOPPED || info.si_code == CLD_TRAPPED) {
    by = info.si_status;
    return state_change::stopped;
  }
  return info.si_code == CLD_CONTINUED ? state_change::continued : state_change::none;
}

/// How many times a supervisor stopped this process for job control.
inline std::atomic<std::uint64_t>& self_stops() noexcept {
  static std::atomic<std::uint64_t> count{0};
  return count;
}

/// Stops this process (job control) and returns once it is continued; but
/// not if another supervisor stopped it since self_stops() read `seen`
/// (both acting on one ^Z). Stops with raise() (tgkill to this thread), not
/// kill(getpid()): a process-wide stop may be taken by another thread, and
/// this one would go on before the stop. True if it stopped.
inline bool stop_this_process(std::uint64_t seen) noexcept {
  if (!self_stops().compare_exchange_strong(seen, seen + 1)) return false;
  ::raise(SIGSTOP);
  return true;
}

/// The supervisor's wait: its stream, its poke and (Linux) every child's
/// pidfd in one epoll set, so that an exit costs O(1) however many children
/// there are. Elsewhere: poll() on the stream and the poke, and exits are
/// found by the caller on SIGCHLD.
class supervisor_waiter {
 public:
  static constexpr std::uint64_t signals_key = ~std::uint64_t{0};
  static constexpr std::uint64_t poke_key = ~std::uint64_t{0} - 1;

  supervisor_waiter(int signals_fd, int poke_fd) : signals_fd_(signals_fd), poke_fd_(poke_fd) {
#if SIGKIT_HAVE_PIDFD
    epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll_ < 0) throw_error(last_error(), "supervisor: epoll_create1 failed");
    if (!add(signals_key, signals_fd) || !add(poke_key, poke_fd)) {
      const std::error_code ec = last_error();
      ::close(epoll_);
      throw_error(ec, "supervisor: epoll_ctl failed");
    }
#endif
  }
  supervisor_waiter(const supervisor_waiter&) = delete;
  supervisor_waiter& operator=(const supervisor_waiter&) = delete;
  ~supervisor_waiter() { close_quietly(epoll_); }

  /// Watches a child's pidfd (readable once it exits). False: it cannot be
  /// watched (no pidfd, no epoll, or epoll_ctl failed): find its exit
  /// another way.
  bool watch(std::uint64_t id, int pidfd) noexcept { return pidfd >= 0 && add(id, pidfd); }
  void unwatch(int pidfd) noexcept {
#if SIGKIT_HAVE_PIDFD
    if (pidfd >= 0) ::epoll_ctl(epoll_, EPOLL_CTL_DEL, pidfd, nullptr);
#else
    (void)pidfd;
#endif
  }

  /// Waits up to `ms` (-1: no limit); appends the ids of children whose
  /// pidfd is readable to `exited`.
  void wait(int ms, std::vector<std::uint64_t>& exited) {
#if SIGKIT_HAVE_PIDFD
    epoll_event ready[64];
    const int n = ::epoll_wait(epoll_, ready, 64, ms);
    for (int i = 0; i < n; ++i) {
      const std::uint64_t key = ready[i].data.u64;
      if (key != signals_key && key != poke_key) exited.push_back(key);
    }
#else
    (void)exited;
    pollfd fds[2] = {{signals_fd_, POLLIN, 0}, {poke_fd_, POLLIN, 0}};
    ::poll(fds, 2, ms);
#endif
  }

 private:
  bool add(std::uint64_t key, int fd) noexcept {
#if SIGKIT_HAVE_PIDFD
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = key;
    return ::epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev) == 0;
#else
    (void)key;
    (void)fd;
    return false;
#endif
  }

  [[maybe_unused]] int signals_fd_;
  [[maybe_unused]] int poke_fd_;
  int epoll_ = -1;
};

/// One supervised child: its process, where its signals go, its stops and
/// its timer.
struct supervised {
  using clock = std::chrono::steady_clock;

  /// Where its timer is: the timeout, the grace after the timeout's
  /// SIGTERM, or nothing left to do.
  enum class phase { timeout, grace, done };

  std::uint64_t id = 0;
  child_process proc;
  forward_target target;
  clock::time_point started{};
  bool exit_watched = false;  // its pidfd is in the waiter (else: found on SIGCHLD)
  bool stopped = false;       // as last seen, or as this supervisor stopped it
  bool held = false;          // stopped by this supervisor for job control
  clock::time_point stopped_since{};
  clock::duration stopped_total{};
  pausable_deadline timer;
  phase step = phase::timeout;
  bool timed_out = false;
  bool killed = false;

  void mark_stopped(clock::time_point now) noexcept {
    if (stopped) return;
    stopped = true;
    stopped_since = now;
    timer.pause(now);
  }
  void mark_continued(clock::time_point now) noexcept {
    held = false;
    if (!stopped) return;
    stopped = false;
    stopped_total += now - stopped_since;
    timer.resume(now);
  }
  child_end end(exit_status status, clock::time_point now, bool during_shutdown) const noexcept {
    child_end e;
    e.id = id;
    e.pid = proc.pid();
    e.status = status;
    e.wall = now - started;
    e.stopped = stopped_total + (stopped ? now - stopped_since : clock::duration::zero());
    e.timed_out = timed_out;
    e.killed = killed;
    e.shutdown = during_shutdown;
    return e;
  }
};

/// A supervisor's state, shared by its owner and its thread. Every member
/// but the constants and the atomics is guarded by `mu`.
class supervisor_state {
 public:
  using clock = std::chrono::steady_clock;

  explicit supervisor_state(supervisor_options opts)
      : options(std::move(opts)),
        watch(watched_signals(options), stream_options{1024, true}, sent_faults_too),
        waiter(watch.fd(), poke.fd()) {}

  // ---- the owner's side (called with `mu` held)

  /// Adds a spawned or adopted child and starts watching it.
  std::uint64_t add(child_process&& c, const child_options& per_child) {
    const auto now = clock::now();
    supervised s;
    s.id = next_id++;
    s.target.pid = c.pid();
    s.target.whole_group = c.own_group();
    s.target.pgid = c.own_group() ? c.pid() : ::getpgid(c.pid());
    s.started = now;
    s.proc = std::move(c);
    const auto timeout = per_child.timeout.value_or(options.timeout);
    if (timeout.count() > 0) s.timer.arm(std::chrono::duration_cast<clock::duration>(timeout), false, now);
    if (s.proc.took_terminal() && tty < 0) {
      tty = open_tty();
      if (tty >= 0) terminal_owner = s.id;
    }
    const std::uint64_t id = s.id;
    auto [it, added] = children.emplace(id, std::move(s));
    supervised& child = it->second;
    child.exit_watched = waiter.watch(id, child.proc.pidfd());
    if (!child.exit_watched) {
      ++unwatched;
      sweep_exits = true;  // an adopted child may have exited already
    }
    // A stop it made before it was ours (adopt()).
    refresh(child);
    poke.notify();  // a new timer: the thread recomputes its wait
    return id;
  }

  /// Starts a shutdown as if `s` had arrived from outside.
  void request_shutdown(sigkit::signal s) {
    const auto now = clock::now();
    if (shutting_down) {
      kill_all("second shutdown request");
      return;
    }
    for (auto& [id, c] : children) send(c, s.number());
    continue_stopped_after_request();
    begin_shutdown(s, now);
  }

  /// SIGKILL to every child now.
  void kill_all(const char* why) {
    log([&] { return std::string("killing every child: ") + why; });
    for (auto& [id, c] : children) {
      if (send(c, SIGKILL)) c.killed = true;
    }
    shutdown_timer.disarm();
    if (!shutting_down) shutting_down = true;
  }

  /// The next end, if one is queued. Drain, then act: the wakeup is drained
  /// when the queue empties, under the lock the producer pushes under.
  std::optional<child_end> pop_end() {
    if (ended.empty()) return std::nullopt;
    child_end e = ended.front();
    ended.pop_front();
    if (ended.empty()) ended_wake.drain();
    return e;
  }

  // ---- the thread

  void loop(const std::stop_token& done) {
    std::stop_callback wake(done, [this]() noexcept { poke.notify(); });
    std::vector<std::uint64_t> exited;
    for (;;) {
      int ms = -1;
      bool stop_self = false;
      {
        const std::lock_guard lock(mu);
        if (done.stop_requested()) return;
        poke.drain();
        drain_signals();
        for (const std::uint64_t id : exited) reap(id);
        exited.clear();
        if (sweep_exits) {
          sweep_exits = false;
          reap_unwatched();
        }
        const auto now = clock::now();
        fire_timers(now);
        stop_self = self_stop_requested;
        if (!stop_self) ms = wait_ms(now);
      }
      if (stop_self) {
        stop_job();
        continue;
      }
      waiter.wait(ms, exited);
    }
  }

  // ---- constants and state

  const supervisor_options options;
  const pid_t owner = ::getpid();
  stream watch;
  wakeup poke;
  supervisor_waiter waiter;

  std::mutex mu;
  std::condition_variable ended_cv;
  std::deque<child_end> ended;
  wakeup ended_wake;
  std::unordered_map<std::uint64_t, supervised> children;
  std::uint64_t next_id = 1;
  bool shutting_down = false;
  std::optional<sigkit::signal> shutdown_by;
  pausable_deadline shutdown_timer;
  std::atomic<std::uint64_t> forwarded{0};
  int tty = -1;                      // the terminal a child was given, if any
  std::uint64_t terminal_owner = 0;  // that child

 private:
  static constexpr auto census_every = std::chrono::seconds(1);
  static constexpr auto paused_recheck = std::chrono::milliseconds(100);

  // What the stream subscribes to. The forwarded and shutdown signals must
  // be streamable (a synchronous one there is refused, as by a forwarder);
  // with forward_faults the synchronous signals are added, of which only
  // those another process sent arrive (the stream's sent_faults_too).
  static signal_set watched_signals(const supervisor_options& o) {
    signal_set s = o.signals | o.shutdown_signals | signal_set{sigkit::child};
    if (o.job_control) s = s | signal_set{terminal_stop, signal{SIGTTIN}, signal{SIGTTOU}, cont};
    check_subscribable(s, "supervisor");
    if (o.forward_faults) s |= synchronous_signals();
    return s;
  }

  // Builds the line only if someone listens.
  template <class F>
  void log(F&& make_line) const {
    if (!options.log) return;
    try {
      options.log(make_line());
    } catch (...) {  // the supervisor's thread must go on
    }
  }

  bool send(supervised& c, int signo) {
    int r;
    if (c.target.whole_group) {
      r = ::kill(-c.target.pgid, signo);
    } else {
      std::error_code ec;
      c.proc.send(sigkit::signal{signo}, ec);
      r = ec ? -1 : 0;
      if (ec) errno = ec.value();
    }
    if (r == 0) forwarded.fetch_add(1, std::memory_order_relaxed);
    return r == 0;
  }

  // ---- signals

  void drain_signals() {
    bool sweep = false;
    while (auto e = watch.try_recv()) on_signal(*e, sweep);
    if (const auto d = watch.dropped(); d != seen_dropped) {
      seen_dropped = d;
      sweep = true;  // a lost SIGCHLD may have been a stop
    }
    if (sweep) refresh_all();
  }

  void on_signal(const event& e, bool& sweep) {
    const int signo = e.signal.number();
    if (signo == SIGCHLD) {
      on_child_signal(e, sweep);
      return;
    }
    if (e.from_user() && e.from.pid == owner) {
      log([&] { return "ignoring " + std::string(e.signal.name()) + ": sent by this process"; });
      return;
    }
    const bool terminating = options.shutdown_signals.contains(e.signal);
    if (terminating && shutting_down) {
      kill_all(("second " + std::string(e.signal.name())).c_str());
      return;
    }
    const pid_t self_pgrp = ::getpgrp();
    const pid_t sender_pgid = e.from_user() && e.from.pid > 0 ? ::getpgid(e.from.pid) : -1;
    if (options.job_control && is_job_stop(signo)) {
      hold_all(&e, self_pgrp, sender_pgid);
    } else if (options.job_control && signo == SIGCONT) {
      self_stop_requested = false;  // continued already: a stop still to make is stale
      continue_stopped(&e, self_pgrp, sender_pgid);
    } else if (options.signals.contains(e.signal) || (options.forward_faults && e.signal.synchronous())) {
      forward(e, self_pgrp, sender_pgid);
    }
    if (terminating) {
      continue_stopped_after_request();
      begin_shutdown(e.signal, clock::now());
    }
  }

  void forward(const event& e, pid_t self_pgrp, pid_t sender_pgid) {
    int sent = 0, skipped = 0;
    const char* why = nullptr;
    for (auto& [id, c] : children) {
      if (const char* skip = forward_skip_reason(e, c.target, owner, self_pgrp, sender_pgid)) {
        why = skip;
        ++skipped;
      } else if (send(c, e.signal.number())) {
        ++sent;
      }
    }
    log([&] {
      std::string line = "forwarded " + std::string(e.signal.name()) + " to " + std::to_string(sent) + " children";
      if (skipped > 0) line += "; not to " + std::to_string(skipped) + ": " + why;
      return line;
    });
  }

  void begin_shutdown(sigkit::signal s, clock::time_point now) {
    if (shutting_down) return;
    shutting_down = true;
    shutdown_by = s;
    if (options.shutdown_grace.count() > 0)
      shutdown_timer.arm(std::chrono::duration_cast<clock::duration>(options.shutdown_grace), false, now);
    log([&] {
      return "shutting down (" + std::string(s.name()) + "): no new children; " + std::to_string(children.size()) +
             " running";
    });
    if (options.on_shutdown) {
      try {
        options.on_shutdown(s);
      } catch (...) {  // the supervisor's thread must go on
      }
    }
  }

  // A stopped child cannot act on a terminating request: continue it (a
  // whole group always, as the forwarder does with to_group: it cannot tell
  // which members have acted on it).
  void continue_stopped_after_request() {
    refresh_all();
    const auto now = clock::now();
    for (auto& [id, c] : children)
      if (c.stopped && send(c, SIGCONT)) c.mark_continued(now);
  }

  // ---- job control

  // Stops every child (a received request: `e`, with the forwarding rules;
  // a child's own stop: e == nullptr), then asks the loop to stop this
  // process.
  void hold_all(const event* e, pid_t self_pgrp, pid_t sender_pgid) {
    const auto now = clock::now();
    int held = 0;
    for (auto& [id, c] : children) {
      if (c.stopped) continue;
      if (e != nullptr && forward_skip_reason(*e, c.target, owner, self_pgrp, sender_pgid) != nullptr) continue;
      const int signo = job_stop_to_send(e != nullptr ? e->signal.number() : SIGTSTP, c.target.whole_group);
      if (!send(c, signo)) continue;
      ++held;
      if (signo == SIGSTOP) {  // certain to stop: it counts from now
        c.mark_stopped(now);
        c.held = true;
      }
    }
    log([&] { return "job control: stopped " + std::to_string(held) + " children"; });
    if (!self_stop_requested) {
      self_stop_requested = true;
      self_stops_seen = self_stops().load();
    }
  }

  // SIGCONT: every child seen stopped is continued (and gets the terminal
  // back if it had it).
  void continue_stopped(const event* e, pid_t self_pgrp, pid_t sender_pgid) {
    refresh_all();
    const auto now = clock::now();
    if (const auto it = children.find(terminal_owner); it != children.end())
      return_terminal_to(tty, it->second.target.pgid);
    int continued = 0;
    for (auto& [id, c] : children) {
      if (!c.stopped) continue;
      if (e != nullptr && forward_skip_reason(*e, c.target, owner, self_pgrp, sender_pgid) != nullptr) continue;
      if (send(c, SIGCONT)) {
        c.mark_continued(now);
        ++continued;
      }
    }
    if (continued > 0) log([&] { return "job control: continued " + std::to_string(continued) + " children"; });
  }

  // Runs without the lock: stops this process, then continues the children.
  void stop_job() {
    std::uint64_t seen;
    {
      const std::lock_guard lock(mu);
      drain_signals();  // a SIGCONT queued behind the request cancels it
      if (!self_stop_requested) return;
      self_stop_requested = false;
      seen = self_stops_seen;
      if (const auto it = children.find(terminal_owner); it != children.end())
        take_terminal_from(tty, it->second.target.pgid);
      shutdown_timer.pause(clock::now());
      log([&] { return "job control: stopping this process"; });
    }
    stop_this_process(seen);
    const std::lock_guard lock(mu);
    shutdown_timer.resume(clock::now());
    continue_stopped(nullptr, 0, -1);
  }

  // ---- children's state

  void on_child_signal(const event& e, bool& sweep) {
    const int code = e.from.code;
    if (code == CLD_STOPPED || code == CLD_CONTINUED || code == CLD_TRAPPED) {
      if (const auto it = find_pid(e.from.pid); it != children.end()) refresh(it->second);
    } else if (code <= 0) {
      sweep = true;  // sent by someone with kill(): read everyone
    }
    if (unwatched > 0) sweep_exits = true;
  }

  std::unordered_map<std::uint64_t, supervised>::iterator find_pid(pid_t pid) {
    return std::find_if(children.begin(), children.end(),
                        [pid](const auto& kv) { return kv.second.target.pid == pid; });
  }

  void refresh_all() {
    for (auto& [id, c] : children) refresh(c);
    last_census = clock::now();
  }

  // Reads every stop/continue of `c` not read yet.
  void refresh(supervised& c) {
    int by = 0;
    for (;;) {
      const state_change change = next_state_change(c.proc.pid(), c.proc.pidfd(), by);
      if (change == state_change::none) return;
      const auto now = clock::now();
      if (change == state_change::continued) {
        c.mark_continued(now);
        continue;
      }
      if (c.stopped) continue;  // one this supervisor made, or already seen
      c.mark_stopped(now);
      log([&] {
        return "child " + std::to_string(c.proc.pid()) + " stopped by " + std::string(sigkit::signal{by}.name());
      });
      // A job-control stop of one child (^Z at a terminal it holds, a read
      // from a terminal it does not) stops the whole job, so the user sees it.
      if (options.job_control && is_job_stop(by)) hold_all(nullptr, 0, -1);
    }
  }

  // ---- exits

  void reap(std::uint64_t id) {
    const auto it = children.find(id);
    if (it == children.end()) return;
    std::optional<exit_status> status;
    try {
      status = it->second.proc.wait_for(std::chrono::nanoseconds(0));
    } catch (const std::system_error& err) {
      // Reaped by someone else (waitpid(-1) elsewhere): its status is lost.
      log([&] { return "child " + std::to_string(it->second.proc.pid()) + " was reaped elsewhere: " + err.what(); });
      status = exit_status{};
    }
    if (status) finish(it, *status);
  }

  void reap_unwatched() {
    std::vector<std::uint64_t> ids;
    for (const auto& [id, c] : children)
      if (!c.exit_watched) ids.push_back(id);
    for (const std::uint64_t id : ids) reap(id);
  }

  void finish(std::unordered_map<std::uint64_t, supervised>::iterator it, exit_status status) {
    supervised& c = it->second;
    const auto now = clock::now();
    if (c.id == terminal_owner) {
      take_terminal_from(tty, c.target.pgid);
      close_quietly(tty);
      tty = -1;
      terminal_owner = 0;
    }
    if (c.exit_watched)
      waiter.unwatch(c.proc.pidfd());
    else
      --unwatched;
    log([&] { return "child " + std::to_string(c.proc.pid()) + " " + status.describe(); });
    ended.push_back(c.end(status, now, shutting_down));
    children.erase(it);  // closes its pidfd
    ended_wake.notify();
    ended_cv.notify_all();
  }

  // ---- timers

  void fire_timers(clock::time_point now) {
    if (shutdown_timer.expired(now)) kill_all("shutdown grace period over");
    const bool recheck_paused = now >= next_paused_check;
    if (recheck_paused) next_paused_check = now + paused_recheck;
    for (auto& entry : children) {
      supervised& c = entry.second;                        // a named reference: lambdas below capture it
      if (recheck_paused && c.timer.paused()) refresh(c);  // a continue whose SIGCHLD was late or lost
      if (!c.timer.expired(now)) continue;
      // A stop whose SIGCHLD is not read yet pauses it too.
      refresh(c);
      if (!c.timer.expired(now)) continue;
      c.timer.disarm();
      if (c.step == supervised::phase::timeout) {
        c.timed_out = true;
        log([&] { return "child " + std::to_string(c.proc.pid()) + " timed out: SIGTERM"; });
        send(c, SIGTERM);
        if (options.timeout_grace.count() > 0) {
          c.step = supervised::phase::grace;
          c.timer.arm(std::chrono::duration_cast<clock::duration>(options.timeout_grace), false, now);
          continue;
        }
      }
      c.step = supervised::phase::done;
      log([&] { return "child " + std::to_string(c.proc.pid()) + " still running: SIGKILL"; });
      if (send(c, SIGKILL)) c.killed = true;
    }
    if (now - last_census >= census_every) refresh_all();
  }

  // How long the loop may wait: until the next timer, the next census
  // (while there are children), or 100 ms while a timer is paused.
  int wait_ms(clock::time_point now) const {
    if (children.empty() && !shutdown_timer.due()) return -1;
    clock::time_point next = last_census + census_every;
    if (const auto due = shutdown_timer.due()) next = std::min(next, *due);
    for (const auto& [id, c] : children) {
      if (const auto due = c.timer.due()) next = std::min(next, *due);
      if (c.timer.paused()) next = std::min(next, next_paused_check);
    }
    if (next <= now) return 0;
    const auto ms = std::chrono::ceil<std::chrono::milliseconds>(next - now).count();
    return static_cast<int>(std::min<std::int64_t>(ms, 1 << 30));
  }

  std::uint64_t seen_dropped = 0;
  std::size_t unwatched = 0;  // children whose exit is found on SIGCHLD
  bool sweep_exits = false;
  bool self_stop_requested = false;
  std::uint64_t self_stops_seen = 0;
  clock::time_point last_census = clock::now();
  clock::time_point next_paused_check = clock::now();
};

}  // namespace detail

/// Runs many children at once, each in its own process group by default,
/// under one signal policy, and reports each one's end.
///
///  - Forwarding: every signal of `options.signals` that this process
///    receives goes to every live child's group, with the forwarder's rules
///    (a ^C typed at the terminal is forwarded, since the children's groups
///    are not the terminal's foreground group; one typed while a child is in
///    this process's group is not forwarded to it; a signal sent by this
///    process, by a child or from its group is not sent back to it).
///  - Job control: SIGTSTP/SIGTTIN/SIGTTOU stop every group (SIGSTOP) and
///    then this process, so the shell sees the job stopped and gives the
///    prompt back; a child stopped by one of them stops the whole job the
///    same way; SIGCONT continues every stopped group and gives the terminal
///    back to a child that had it. A single child stopped with SIGSTOP (a
///    debugger, `kill -STOP`) pauses only its own timeout.
///  - Timeouts: per child, on a clock that does not run while the child is
///    stopped; on expiry SIGTERM to its group, then SIGKILL after
///    `timeout_grace` more running time.
///  - Shutdown: the first of `shutdown_signals` is forwarded, spawn() is
///    refused from then on, and after `shutdown_grace` (or at once on a
///    second request) every group gets SIGKILL. When the last child is
///    gone, `shutdown_status()->mirror()` ends this process the way the
///    signal would have.
///  - Ends: each child's end (pid, status, wall and stopped time) is queued;
///    wait with next(), poll fd(), or iterate. Children are reaped through
///    their pidfds (waitpid() by pid elsewhere); never with waitpid(-1), so
///    other supervisors, forwarders and child_process objects in the
///    process keep their own children.
///
/// TODO(after the forwarder's process-wide fault target is replaced): a
/// user-sent SIGSEGV/SIGBUS/SIGILL/SIGFPE/SIGTRAP/SIGSYS is not forwarded to
/// the children yet (it gets its default action, as without sigkit).
///
/// Not copyable or movable (its thread holds its state). The destructor
/// SIGKILLs whatever is still running and reaps it: call shutdown() and
/// drain next() first for a graceful end.
class supervisor {
 public:
  class iterator;

  /// Subscribes to the signals (throws like sigkit::stream) and starts the
  /// supervisor's thread.
  explicit supervisor(supervisor_options options = {})
      : st_(std::make_unique<detail::supervisor_state>(std::move(options))) {
    thread_ = std::make_unique<std::jthread>([s = st_.get()](std::stop_token done) { s->loop(done); });
  }
  supervisor(const supervisor&) = delete;
  supervisor& operator=(const supervisor&) = delete;
  supervisor(supervisor&&) = delete;
  supervisor& operator=(supervisor&&) = delete;

  /// Stops the thread, SIGKILLs every child still running and reaps it,
  /// takes the terminal back, restores every disposition.
  ~supervisor() {
    if (::getpid() != st_->owner) {  // a forked child: no thread to join here
      (void)thread_.release();
      (void)st_.release();
      return;
    }
    thread_->request_stop();
    thread_->join();
    for (auto& [id, c] : st_->children) {
      if (c.target.whole_group)
        ::kill(-c.target.pgid, SIGKILL);
      else
        (void)c.proc.send(sigkit::signal{SIGKILL}, ignored_);
      try {
        (void)c.proc.wait();
      } catch (const std::system_error&) {
        // reaped elsewhere
      }
    }
    if (const auto it = st_->children.find(st_->terminal_owner); it != st_->children.end())
      detail::take_terminal_from(st_->tty, it->second.target.pgid);
    detail::close_quietly(st_->tty);
  }

  /// Starts argv (like child_process::spawn) under this supervisor and
  /// returns its id. std::system_error as child_process::spawn, and with
  /// ECANCELED once a shutdown has begun.
  std::uint64_t spawn(std::span<const std::string> argv, child_options per_child = {}) {
    std::error_code ec;
    const std::uint64_t id = spawn(argv, per_child, ec);
    if (ec == std::errc::operation_canceled)
      throw std::system_error(ec, "sigkit::supervisor::spawn: shutting down, no new children");
    if (ec == std::errc::invalid_argument && argv.empty())
      throw std::invalid_argument("sigkit::supervisor::spawn: empty argv: nothing to run");
    if (ec)
      throw std::system_error(
          ec, "sigkit::supervisor::spawn: cannot run '" + (argv.empty() ? std::string() : argv[0]) + "'");
    return id;
  }
  std::uint64_t spawn(std::initializer_list<std::string> argv, child_options per_child = {}) {
    const std::vector<std::string> v(argv);
    return spawn(std::span<const std::string>(v), per_child);
  }
  /// noexcept form (apart from allocation): failures go to `ec`; returns 0.
  std::uint64_t spawn(std::span<const std::string> argv, child_options per_child, std::error_code& ec) {
    ec.clear();
    if (!per_child.spawn.new_session) per_child.spawn.new_process_group = st_->options.own_groups;
    // Held across the spawn: a signal the thread forwards either predates
    // it or reaches the new child too.
    const std::lock_guard lock(st_->mu);
    if (st_->shutting_down) {
      ec = std::make_error_code(std::errc::operation_canceled);
      return 0;
    }
    child_process c = child_process::spawn(argv, per_child.spawn, ec);
    if (ec) return 0;
    return st_->add(std::move(c), per_child);
  }

  /// Takes over a running child (spawned elsewhere, not yet waited for) and
  /// returns its id. Signals that arrived before are not replayed to it. It
  /// is signalled as a whole group if it leads its own (own_group()). Once
  /// a shutdown has begun: ECANCELED, and `c` is left as it was.
  std::uint64_t adopt(child_process&& c, child_options per_child = {}) {
    std::error_code ec;
    const std::uint64_t id = adopt(std::move(c), per_child, ec);
    if (ec) throw std::system_error(ec, "sigkit::supervisor::adopt");
    return id;
  }
  std::uint64_t adopt(child_process&& c, child_options per_child, std::error_code& ec) {
    ec.clear();
    if (!c.valid() || c.status()) {
      ec = std::make_error_code(std::errc::no_such_process);
      return 0;
    }
    const std::lock_guard lock(st_->mu);
    if (st_->shutting_down) {
      ec = std::make_error_code(std::errc::operation_canceled);
      return 0;
    }
    return st_->add(std::move(c), per_child);
  }

  /// The next end if one is queued; never blocks.
  std::optional<child_end> try_next() {
    const std::lock_guard lock(st_->mu);
    return st_->pop_end();
  }
  /// Waits for the next end; nullopt once no child is left and none is
  /// queued.
  std::optional<child_end> next() {
    std::unique_lock lock(st_->mu);
    st_->ended_cv.wait(lock, [this] { return !st_->ended.empty() || st_->children.empty(); });
    return st_->pop_end();
  }
  /// Waits at most `timeout`; nullopt on timeout or when nothing is left
  /// (running() tells which).
  std::optional<child_end> next_for(std::chrono::nanoseconds timeout) {
    std::unique_lock lock(st_->mu);
    const auto done = [this] { return !st_->ended.empty() || st_->children.empty(); };
    // Not wait_for: it adds `timeout` to now() unchecked, and a huge timeout
    // wraps into the past (it would return at once).
    const auto until = detail::deadline::after(timeout);
    if (until.forever())
      st_->ended_cv.wait(lock, done);
    else
      st_->ended_cv.wait_until(lock, until.when(), done);
    return st_->pop_end();
  }
  /// A descriptor that is readable while an end is queued (poll it, then
  /// try_next() until nullopt).
  int fd() const noexcept { return st_->ended_wake.fd(); }

  /// `for (const sigkit::child_end& e : sup)`: waits for each end in turn;
  /// ends once no child is left.
  iterator begin();
  std::default_sentinel_t end() const noexcept { return {}; }

  /// Children not reaped yet.
  std::size_t running() const {
    const std::lock_guard lock(st_->mu);
    return st_->children.size();
  }
  /// The pid of a child not reaped yet, or -1.
  pid_t pid(std::uint64_t id) const {
    const std::lock_guard lock(st_->mu);
    const auto it = st_->children.find(id);
    return it == st_->children.end() ? -1 : it->second.proc.pid();
  }
  /// A shutdown has begun: spawn() and adopt() are refused.
  bool shutting_down() const {
    const std::lock_guard lock(st_->mu);
    return st_->shutting_down;
  }
  /// The signal that began the shutdown (nullopt: none, or kill_all()).
  std::optional<sigkit::signal> shutdown_signal() const {
    const std::lock_guard lock(st_->mu);
    return st_->shutdown_by;
  }
  /// Death by that signal, for `shutdown_status()->mirror()` once the last
  /// child is gone, so that whoever waits for this process (a shell loop)
  /// sees it die of the signal.
  std::optional<exit_status> shutdown_status() const {
    const auto s = shutdown_signal();
    if (!s) return std::nullopt;
    return exit_status::from_wait_status(s->number());
  }
  /// Begins a shutdown as if `s` had been received from outside (sent to
  /// every group, stopped ones continued; a second call kills at once).
  void shutdown(sigkit::signal s = sigkit::terminate) {
    if (!s.valid()) throw std::invalid_argument("sigkit::supervisor::shutdown: invalid signal");
    const std::lock_guard lock(st_->mu);
    st_->request_shutdown(s);
    st_->poke.notify();  // the grace timer
  }
  /// SIGKILL to every child now; no new child after it.
  void kill_all() {
    const std::lock_guard lock(st_->mu);
    st_->kill_all("kill_all()");
  }
  /// Signals sent to children so far (one per child and signal).
  std::uint64_t forwarded() const noexcept { return st_->forwarded.load(std::memory_order_relaxed); }

 private:
  std::unique_ptr<detail::supervisor_state> st_;
  std::unique_ptr<std::jthread> thread_;
  std::error_code ignored_;
};

/// Input iterator over a supervisor's ends (see supervisor::begin()).
class supervisor::iterator {
 public:
  using iterator_concept = std::input_iterator_tag;
  using value_type = child_end;
  using difference_type = std::ptrdiff_t;

  iterator() = default;
  const child_end& operator*() const {
    fetch();
    return *current_;
  }
  const child_end* operator->() const { return &**this; }
  iterator& operator++() {
    fetch();
    current_.reset();
    fetched_ = false;
    return *this;
  }
  void operator++(int) { ++*this; }
  /// Equal once no child is left and no end is queued.
  friend bool operator==(const iterator& it, std::default_sentinel_t) {
    it.fetch();
    return !it.current_.has_value();
  }

 private:
  friend class supervisor;
  explicit iterator(supervisor* s) : sup_(s) {}
  void fetch() const {
    if (fetched_) return;
    current_ = sup_->next();
    fetched_ = true;
  }
  supervisor* sup_ = nullptr;
  mutable std::optional<child_end> current_;
  mutable bool fetched_ = false;
};

inline supervisor::iterator supervisor::begin() { return iterator(this); }

static_assert(std::input_iterator<supervisor::iterator>);
static_assert(std::sentinel_for<std::default_sentinel_t, supervisor::iterator>);

}  // namespace v1
}  // namespace sigkit
