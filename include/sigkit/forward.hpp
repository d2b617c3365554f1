// sigkit/forward.hpp - forward signals to a child the way a good init shim
// or a shell does: once, job-control aware, terminal aware; and run(), which
// spawns, forwards and waits like `uv run` or `tini`.
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "action.hpp"
#include "child_process.hpp"
#include "detail/deadline.hpp"
#include "detail/platform.hpp"
#include "detail/sys.hpp"
#include "inspect.hpp"
#include "mask.hpp"
#include "signal.hpp"
#include "stream.hpp"
#include "wakeup.hpp"

#if SIGKIT_HAVE_SIGNALFD
#include <sys/signalfd.h>
#endif

namespace sigkit {
inline namespace v1 {

/// What a forwarder forwards and how.
struct forward_options {
  /// Forwarded signals (SIGCHLD is never forwarded; the forwarder watches it
  /// to follow the child's stops).
  signal_set signals = all_forwardable();
  /// kill(-pgid) instead of kill(pid).
  bool to_group = false;
  /// SIGKILL this long after a forwarded SIGTERM/SIGINT/SIGQUIT/SIGHUP (time
  /// the child spends stopped does not count); a second such signal kills at
  /// once. Zero: never.
  std::chrono::nanoseconds kill_after{0};
  /// Follow job control: a stopped child stops the forwarder, a continued
  /// forwarder continues the child.
  bool job_control = true;
  /// Forward a SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP or SIGSYS that a user
  /// sent with kill() instead of dying of it (a real fault still kills).
  bool forward_faults = true;
  /// Linux: the forwarder's thread takes the signals straight from the
  /// kernel (a signalfd), as a minimal sigwaitinfo() forwarder does, instead
  /// of through sigkit's handler and a wakeup: less latency per forwarded
  /// signal, at two costs. Only signals that every other thread blocks are
  /// taken this way (run() blocks them in its own thread; a signal that
  /// another thread leaves unblocked still arrives through the handler and
  /// is forwarded too), and a handler installed before sigkit does not run
  /// for the signals taken this way. sigkit-run turns it on.
  bool dequeue_directly = false;
  /// If set, called on the forwarder's thread with a line for each decision
  /// ("forwarded SIGTERM to 1234", "not forwarding SIGINT: ...").
  std::function<void(const std::string&)> log{};
};

namespace detail {

/// Target of user-sent fault signals (pid, or -pgid); 0: none yet. Read
/// inside a signal handler, so a lock-free atomic.
inline std::atomic<pid_t> fault_target{0};
static_assert(std::atomic<pid_t>::is_always_lock_free);
/// fault_target once the child has exited: user-sent faults are dropped
/// (its pid may already belong to another process).
inline constexpr pid_t fault_child_gone = std::numeric_limits<pid_t>::min();
/// User-sent fault signals that arrived before the forwarder knew its child
/// (bit n: signal n). attach() forwards them; the handler and attach() each
/// claim a bit with an atomic read-modify-write, so each is sent once.
inline std::atomic<std::uint32_t> fault_pending{0};
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

/// Sends the pending fault signals whose bits the caller claimed.
/// Async-signal-safe.
inline void send_claimed_faults(pid_t target, std::uint32_t bits) noexcept {
  for (int n = 1; n < 32; ++n)
    if ((bits & (1u << n)) != 0) ::kill(target, n);
}

/// The handler for SIGSEGV/SIGBUS/SIGILL/SIGFPE/SIGTRAP/SIGSYS while a
/// forwarder lives: a user-sent one is passed on to the child (or kept until
/// the child is known); a real fault kills as if uncaught.
/// Async-signal-safe.
extern "C" inline void sigkit_v1_fault_forward(int signo, siginfo_t* info, void*) {
  const int saved = errno;
  if (info != nullptr && info->si_code <= 0 && signo > 0 && signo < 32) {
    // Sent by a user (kill/sigqueue/tgkill): pass it on.
    pid_t target = fault_target.load(std::memory_order_seq_cst);
    if (target == fault_child_gone) {
      // The child is gone: nobody to pass it to, and not ours to die of.
    } else if (target != 0) {
      ::kill(target, signo);
    } else {
      // No child yet: leave it for attach(). If attach() published the
      // target meanwhile, it may already have swept the bits: claim ours
      // back and send it here, unless attach() got it first.
      const std::uint32_t bit = 1u << signo;
      fault_pending.fetch_or(bit, std::memory_order_seq_cst);
      target = fault_target.load(std::memory_order_seq_cst);
      if (target != 0 && target != fault_child_gone &&
          (fault_pending.fetch_and(~bit, std::memory_order_seq_cst) & bit) != 0)
        ::kill(target, signo);
    }
  } else {
    // A real fault: die of it as if uncaught.
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    ::sigaction(signo, &dfl, nullptr);
    ::raise(signo);  // pending until this handler returns, then fatal
  }
  errno = saved;
}

inline bool is_terminating_request(int signo) noexcept {
  return signo == SIGTERM || signo == SIGINT || signo == SIGQUIT || signo == SIGHUP;
}

/// The signals forward_options::dequeue_directly takes from a signalfd: the
/// forwarded ones but SIGCHLD, which stays on the handler path (other
/// streams, run()'s reaper, want it too, and it is not forwarded). Empty
/// when the option is off. (The forwarded set holds no synchronous signal:
/// a stream refuses those.)
inline signal_set directly_dequeued(const forward_options& options) {
  return options.dequeue_directly ? options.signals - signal_set{sigkit::child} : signal_set{};
}

/// forward_options::dequeue_directly: the calling thread blocks `signals`
/// and reads them from a signalfd (Linux), for as long as this object
/// lives on that thread. Inactive (fd() == -1, drain() does nothing) for an
/// empty set, off Linux, or if the signalfd cannot be made.
class direct_queue {
 public:
  explicit direct_queue(const signal_set& signals) noexcept {
#if SIGKIT_HAVE_SIGNALFD
    if (signals.empty()) return;
    const sigset_t set = signals.to_sigset();
    if (::pthread_sigmask(SIG_BLOCK, &set, &old_) != 0) return;
    fd_ = ::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd_ < 0) ::pthread_sigmask(SIG_SETMASK, &old_, nullptr);  // the handler path keeps working
#else
    (void)signals;
#endif
  }
  direct_queue(const direct_queue&) = delete;
  direct_queue& operator=(const direct_queue&) = delete;
  ~direct_queue() {
#if SIGKIT_HAVE_SIGNALFD
    if (fd_ < 0) return;
    ::close(fd_);
    // Whatever is still queued for the process goes back to the handler
    // path (another thread, or this one once unblocked).
    ::pthread_sigmask(SIG_SETMASK, &old_, nullptr);
#endif
  }

  int fd() const noexcept { return fd_; }

  /// Calls `f(event)` for every signal queued now.
  template <class F>
  void drain(F&& f) const {
#if SIGKIT_HAVE_SIGNALFD
    if (fd_ < 0) return;
    signalfd_siginfo batch[16];
    for (;;) {
      const ssize_t n = ::read(fd_, batch, sizeof batch);
      if (n <= 0) return;  // EAGAIN: nothing left (EINTR: the next round)
      for (std::size_t i = 0; i < static_cast<std::size_t>(n) / sizeof batch[0]; ++i) f(to_event(batch[i]));
      // A short read emptied the queue: no second read() to hear EAGAIN (a
      // signal queued since then makes the descriptor readable again).
      if (static_cast<std::size_t>(n) < sizeof batch) return;
    }
#else
    (void)f;
#endif
  }

 private:
#if SIGKIT_HAVE_SIGNALFD
  static event to_event(const signalfd_siginfo& si) noexcept {
    siginfo_t info{};
    info.si_signo = static_cast<int>(si.ssi_signo);
    info.si_code = si.ssi_code;
    info.si_pid = static_cast<pid_t>(si.ssi_pid);
    info.si_uid = static_cast<uid_t>(si.ssi_uid);
    if (info.si_signo == SIGCHLD)
      info.si_status = si.ssi_status;
    else
      info.si_value.sival_ptr = reinterpret_cast<void*>(static_cast<std::uintptr_t>(si.ssi_ptr));  // NOLINT
    return make_event(info.si_signo, &info);
  }
  sigset_t old_{};
#endif
  int fd_ = -1;
};

}  // namespace detail

/// Forwards signals to a child while it lives (RAII). Construct it before
/// spawning, so that nothing sent in between is lost, and attach() the
/// child; or construct it with the child.
///
/// Rules, each what a careful shell or init does:
///  - a signal typed at the terminal (si_code SI_KERNEL, no sender) is not
///    forwarded to a child in this process's group: the terminal already
///    delivered it to the whole foreground group;
///  - signals sent by this process, by the child, or (with to_group) by a
///    member of the child's group are not forwarded back (no loops);
///  - SIGTSTP/SIGTTIN/SIGTTOU are forwarded (as SIGSTOP to a child in its own
///    group or session, whose group may be orphaned and would ignore them);
///    when the child stops, the forwarder stops too (SIGSTOP), so the shell
///    sees the job stopped; when the forwarder is continued, it continues a
///    stopped child and gives it the terminal back if it had it;
///  - a SIGTERM/SIGINT/SIGQUIT/SIGHUP for a stopped child is followed by
///    SIGCONT so that it can act on it; not if the child took the request
///    and was stopped afterwards (on Linux /proc/PID/status tells: the
///    request is neither pending nor ignored there; elsewhere, and with
///    to_group, the child is always continued);
///  - with kill_after, SIGKILL follows a terminating request after that
///    long, or at once on the second one.
class forwarder {
 public:
  /// Subscribes now (signals that arrive before attach() are kept and
  /// forwarded then). Throws like sigkit::stream.
  explicit forwarder(forward_options options = {}) : st_(std::make_unique<state>(std::move(options))) {
    if (st_->options.forward_faults) {
      for (int n : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS}) {
        struct sigaction sa {};
        sa.sa_sigaction = &detail::sigkit_v1_fault_forward;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
        sigemptyset(&sa.sa_mask);
        st_->faults.emplace_back(signal{n}, sa);
      }
    }
  }

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
      (void)thread_.release();
      (void)st_.release();
      return;
    }
    if (thread_) {
      thread_->request_stop();
      thread_->join();
    }
    st_->take_terminal_back();
    if (st_->tty >= 0) ::close(st_->tty);
    detail::fault_target.store(0);
    detail::fault_pending.store(0);  // kept for a child that never came
  }

  /// Starts forwarding to `c` (which must outlive this forwarder, or be
  /// waited for first).
  void attach(child_process& c) {
    if (thread_) throw std::logic_error("sigkit::forwarder: already attached to a child");
    if (!c.valid()) throw std::invalid_argument("sigkit::forwarder: the child is empty");
    st_->pid = c.pid();
    st_->pidfd = c.pidfd();
    st_->pgid = c.own_group() ? c.pid() : ::getpgid(c.pid());
    st_->child_owns_group = c.own_group();
    if (c.took_terminal()) st_->tty = detail::open_tty();
    const pid_t fault_to = st_->options.to_group && st_->pgid > 0 ? -st_->pgid : st_->pid;
    detail::fault_target.store(fault_to, std::memory_order_seq_cst);
    // Faults a user sent before the child existed (see the handler).
    if (const std::uint32_t early = detail::fault_pending.exchange(0, std::memory_order_seq_cst); early != 0) {
      detail::send_claimed_faults(fault_to, early);
      st_->forwarded.fetch_add(static_cast<std::uint64_t>(std::popcount(early)));
    }
    thread_ = std::make_unique<std::jthread>([s = st_.get()](std::stop_token done) { s->loop(done); });
  }

  /// Signals forwarded so far.
  std::uint64_t forwarded() const noexcept { return st_->forwarded.load(); }

 private:
  using clock = std::chrono::steady_clock;

  struct state {
    explicit state(forward_options opts)
        : options(std::move(opts)), watch(options.signals | signal_set{sigkit::child}, stream_options{256, true}) {}

    forward_options options;
    stream watch;
    wakeup poke;
    std::vector<scoped_action> faults;
    pid_t owner = ::getpid();
    pid_t pid = -1;
    int pidfd = -1;
    pid_t pgid = -1;
    bool child_owns_group = false;
    int tty = -1;  // the terminal the child was given, if any
    std::atomic<std::uint64_t> forwarded{0};

    bool child_stopped = false;
    bool stop_to_follow = false;                       // job control: a stop read but not followed yet
    std::optional<clock::time_point> kill_at;          // armed escalation
    std::optional<clock::duration> kill_left_stopped;  // paused while stopped

    void log(const std::string& line) const {
      if (options.log) options.log(line);
    }

    bool send(int signo) {
      const pid_t target = options.to_group && pgid > 0 ? -pgid : pid;
      const int r = target == pid ? detail::signal_child(pid, pidfd, signo) : detail::sys().kill(target, signo);
      if (r == 0) {
        forwarded.fetch_add(1);
        if (options.log)
          log("forwarded " + std::string(signal{signo}.name()) + " to " + (target < 0 ? "group " : "") +
              std::to_string(target < 0 ? -target : target));
      } else if (options.log) {
        log("could not forward " + std::string(signal{signo}.name()) + ": " + std::generic_category().message(errno));
      }
      return r == 0;
    }

    /// Why an event must not be forwarded, or nullptr.
    const char* skip_reason(const event& e) const {
      const pid_t sender = e.from.pid;
      if (e.from.code == SI_KERNEL && sender == 0 && !child_owns_group && pgid == ::getpgrp())
        return "typed at the terminal, which delivered it to the child's group already";
      if (e.from_user() && sender == owner) return "sent by this process";
      if (e.from_user() && sender == pid) return "sent by the child";
      if (e.from_user() && options.to_group && sender > 0 && ::getpgid(sender) == pgid)
        return "sent from the child's process group";
      return nullptr;
    }

    // Reads the child's stops and continues (waitid reports each once). A
    // stop is followed for job control at once if `follow`, else by the
    // loop before it waits again.
    void refresh_child_state(bool follow = true) {
      for (;;) {
        siginfo_t info{};
        const int r = detail::wait_child(pid, pidfd, &info, WSTOPPED | WCONTINUED | WNOHANG);
        if (r != 0 || info.si_pid == 0) return;
        if (info.si_code == CLD_STOPPED || info.si_code == CLD_TRAPPED) {
          if (!child_stopped) on_child_stopped(info.si_status, follow);
        } else if (info.si_code == CLD_CONTINUED) {
          if (child_stopped) on_child_continued();
        }
      }
    }

    void on_child_stopped(int by, bool follow) {
      child_stopped = true;
      if (kill_at) {
        kill_left_stopped = *kill_at - clock::now();
        kill_at.reset();
      }
      log("child stopped by " + std::string(signal{by}.name()));
      if (!options.job_control) return;
      if (follow)
        follow_stop();
      else
        stop_to_follow = true;
    }

    // Job control: stop this process too, as the child did.
    void follow_stop() {
      take_terminal_back();
      log("stopping this process too");
      // raise() (tgkill to this thread), not kill(getpid()): a process-wide
      // SIGSTOP may be picked up by another thread, and this one would
      // return from kill() and continue the child before the group stop
      // reached it. Sent to this thread, the stop happens before the call
      // returns, and it returns once someone continues us.
      ::raise(SIGSTOP);
      // Continued: the SIGCONT event (or the next refresh) continues the child.
      continue_child_if_stopped();
    }

    // Whether the stopped child has yet to act on `signo`: it is still
    // pending there, or the child ignores it (then the kernel discarded it,
    // and only a SIGCONT lets kill_after's clock run). With to_group the
    // whole group was sent it and may be stopped: always true. Where /proc
    // cannot tell (none, or another pid namespace's), true as well.
    bool request_unacted(int signo) const {
      if (options.to_group) return true;
      std::error_code ec;
      const auto status = inspect_status(pid, ec);
      if (!status || status->ppid != ::getpid()) return true;
      const auto seen = status->signals();
      const signal s{signo};
      return seen.pending.contains(s) || (seen.ignored.contains(s) && !seen.blocked.contains(s));
    }

    // SIGCONT to the child. The kernel continues it before kill() returns,
    // so it counts as continued now (its CLD_CONTINUED may come later, or,
    // if it is stopped again first, never).
    void continue_child() {
      if (send(SIGCONT)) on_child_continued();
    }

    void on_child_continued() {
      child_stopped = false;
      stop_to_follow = false;
      if (kill_left_stopped) {
        kill_at = clock::now() + *kill_left_stopped;
        kill_left_stopped.reset();
      }
    }

    void continue_child_if_stopped() {
      refresh_stop_only();
      if (!child_stopped) return;
      give_terminal_again();
      continue_child();
    }

    // Like refresh_child_state but never stops this process here: a stop
    // it reads is followed by the loop.
    void refresh_stop_only() { refresh_child_state(false); }

    void take_terminal_back() {
      if (tty < 0) return;
      if (::tcgetpgrp(tty) == pgid) detail::give_terminal(tty, ::getpgrp());
    }
    void give_terminal_again() {
      if (tty < 0) return;
      if (::tcgetpgrp(tty) == ::getpgrp()) detail::give_terminal(tty, pgid);
    }

    void on_event(const event& e) {
      const int signo = e.signal.number();
      if (signo == SIGCHLD) {
        refresh_child_state();
        return;
      }
      const bool terminating = detail::is_terminating_request(signo);
      if (terminating && options.kill_after.count() > 0 && (kill_at || kill_left_stopped)) {
        log("second " + std::string(e.signal.name()) + ": killing the child now");
        send(SIGKILL);
        return;
      }
      if (const char* why = skip_reason(e)) {
        log("not forwarding " + std::string(e.signal.name()) + ": " + why);
      } else if (signo == SIGCONT) {
        continue_child_if_stopped();
      } else if (signo == SIGTSTP || signo == SIGTTIN || signo == SIGTTOU) {
        send(child_owns_group && options.job_control ? SIGSTOP : signo);
      } else {
        send(signo);
        if (terminating) {
          // A stopped child cannot act on the request: continue it. Checked
          // after the send, so the check is not in the forwarding latency;
          // a child seen stopped is continued only if it has yet to act on
          // the request, so a child that took it and was stopped afterwards
          // stays stopped (and job control follows that stop).
          refresh_stop_only();
          if (child_stopped && request_unacted(signo)) continue_child();
        }
      }
      if (terminating && options.kill_after.count() > 0 && !kill_at && !kill_left_stopped) {
        if (child_stopped)
          kill_left_stopped = options.kill_after;
        else
          kill_at = clock::now() + std::chrono::duration_cast<clock::duration>(options.kill_after);
      }
      if (signo == SIGCONT) refresh_child_state();
    }

    void loop(const std::stop_token& done) {
      std::stop_callback wake(done, [this]() noexcept { poke.notify(); });
      const detail::direct_queue direct(detail::directly_dequeued(options));
      // Whether the child may have exited: always without a pidfd; with one,
      // at the start and whenever poll() says it is readable (it stays so).
      bool exit_possible = true;
      while (!done.stop_requested()) {
        while (auto e = watch.try_recv()) on_event(*e);
        direct.drain([this](const event& e) { on_event(e); });
        if ((exit_possible || pidfd < 0) && child_exited()) {
          detail::fault_target.store(detail::fault_child_gone);
          take_terminal_back();
          return;
        }
        if (stop_to_follow) {  // a stop read where it could not be followed
          stop_to_follow = false;
          if (child_stopped) follow_stop();
          continue;
        }
        int ms = -1;
        if (kill_at) {
          const auto left = std::chrono::ceil<std::chrono::milliseconds>(*kill_at - clock::now()).count();
          if (left <= 0) {
            // A stop whose SIGCHLD is not handled yet (the handler may still
            // be on its way on another thread) pauses the escalation too.
            refresh_stop_only();
            if (!kill_at) continue;  // stopped: paused until it continues
            log("kill_after elapsed: killing the child");
            send(SIGKILL);
            kill_at.reset();
            continue;
          }
          ms = static_cast<int>(std::min<std::int64_t>(left, 1 << 30));
        } else if (kill_left_stopped) {
          // Escalation paused by a stop: look again every 100 ms as well as
          // on SIGCHLD, so a continue whose SIGCHLD is late or lost (TSan's
          // runtime drops deferred signals) still re-arms it.
          refresh_stop_only();
          if (kill_at) continue;
          ms = 100;
        }
        // Negative descriptors (no pidfd, no signalfd) are skipped by poll().
        pollfd fds[4] = {{watch.fd(), POLLIN, 0}, {poke.fd(), POLLIN, 0}, {pidfd, POLLIN, 0}, {direct.fd(), POLLIN, 0}};
        const int ready = ::poll(fds, 4, ms);
        exit_possible = ready < 0 || (ready > 0 && fds[2].revents != 0);  // EINTR: check anyway
        poke.drain();
      }
    }

    bool child_exited() const {
      siginfo_t info{};
      const int r = detail::wait_child(pid, pidfd, &info, WEXITED | WNOHANG | WNOWAIT);
      return r != 0 || info.si_pid != 0;  // an error (ECHILD): already reaped
    }
  };

  std::unique_ptr<state> st_;
  std::unique_ptr<std::jthread> thread_;
};

/// spawn + forward + wait.
struct run_options {
  spawn_options spawn;
  forward_options forward;
  /// Linux: become a child subreaper (PR_SET_CHILD_SUBREAPER) and reap every
  /// orphaned descendant, leaving no zombie behind.
  bool reap = false;
  /// With reap: when the child exits, send SIGTERM to its process group (if
  /// it has its own) and wait for every remaining descendant; after
  /// `descendants_grace`, SIGKILL the stragglers.
  bool wait_descendants = false;
  std::chrono::nanoseconds descendants_grace = std::chrono::seconds(10);
};

namespace detail {

/// The children of this process (ended ones that are not reaped yet
/// included), from /proc; empty where there is no /proc (SIGKIT_HAVE_PROC),
/// and then a zombie orphan stays until the main child has been reaped.
inline std::vector<pid_t> children_of_self() {
  std::error_code ec;
  return inspect_children(::getpid(), ec);
}

/// Reaps every exited child of this process except `keep`, without
/// blocking.
inline void reap_orphans(pid_t keep) {
  for (;;) {
    siginfo_t info{};
    if (::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0) return;
    if (info.si_pid == keep) {
      // The main child is a zombie: reap the others by pid.
      for (pid_t p : children_of_self()) {
        if (p == keep) continue;
        int status;
        ::waitpid(p, &status, WNOHANG);
      }
      return;
    }
    int status;
    ::waitpid(info.si_pid, &status, WNOHANG);
  }
}

}  // namespace detail

/// Runs argv like `uv run` or an init shim: subscribes the forwarder, spawns
/// the child, forwards signals until it exits, and returns how it ended
/// (call mirror() on the result to exit the same way).
inline exit_status run(std::span<const std::string> argv, const run_options& options = {}) {
  // Where there is no subreaper (ENOTSUP), orphans go to init as usual and
  // only this process's own children are reaped.
  if (options.reap && detail::become_subreaper() != 0 && errno != ENOTSUP)
    throw std::system_error(detail::last_error(), "sigkit::run: PR_SET_CHILD_SUBREAPER");
  std::optional<sigkit::stream> orphans;
  if (options.reap) orphans.emplace(signal_set{sigkit::child});
  forwarder fwd(options.forward);
  child_process c = child_process::spawn(argv, options.spawn);
  fwd.attach(c);
  // forward_options::dequeue_directly: the forwarder's thread reads the
  // forwarded signals from a signalfd, which sees them only while no thread
  // leaves them unblocked: block them in this thread too (after attach(),
  // so the forwarder's thread does not inherit the block). Without it
  // nothing is blocked: leaving the handler to whichever thread the kernel
  // picks is robust where a sanitizer's runtime keeps a thread's mask for
  // itself (TSan: a forwarder thread seen with every signal blocked).
  const signal_set deliver_elsewhere = detail::directly_dequeued(options.forward);
  std::error_code block_ec;
  std::optional<scoped_block> quiet;
  if (!deliver_elsewhere.empty()) quiet.emplace(deliver_elsewhere, block_ec);  // failure only costs latency
  exit_status status;
  if (!options.reap) {
    status = c.wait();
  } else {
    for (;;) {
      detail::reap_orphans(c.pid());
      if (auto st = c.wait_for(std::chrono::milliseconds(0))) {
        status = *st;
        break;
      }
      pollfd fds[2] = {{orphans->fd(), POLLIN, 0}, {c.pidfd(), POLLIN, 0}};
      ::poll(fds, c.pidfd() >= 0 ? 2 : 1, c.pidfd() >= 0 ? -1 : 10);
      while (orphans->try_recv()) {
      }
    }
    quiet.reset();  // the forwarder's thread is gone
    if (options.wait_descendants) {
      if (c.own_group()) ::kill(-c.pid(), SIGTERM);
      const auto deadline = std::chrono::steady_clock::now() + options.descendants_grace;
      bool killed = false;
      for (;;) {
        int st = 0;
        const pid_t p = ::waitpid(-1, &st, WNOHANG);
        if (p < 0 && errno == ECHILD) break;
        if (p > 0) continue;
        if (!killed && std::chrono::steady_clock::now() >= deadline) {
          for (pid_t q : detail::children_of_self()) ::kill(q, SIGKILL);
          if (c.own_group()) ::kill(-c.pid(), SIGKILL);
          killed = true;
        }
        pollfd pfd{orphans->fd(), POLLIN, 0};
        ::poll(&pfd, 1, 10);
        while (orphans->try_recv()) {
        }
      }
    } else {
      detail::reap_orphans(-1);
    }
  }
  return status;
}

inline exit_status run(std::initializer_list<std::string> argv, const run_options& options = {}) {
  const std::vector<std::string> v(argv);
  return run(std::span<const std::string>(v), options);
}

}  // namespace v1
}  // namespace sigkit
