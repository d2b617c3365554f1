// sigkit/detail/table.hpp - the process-wide signal table and the one
// signal handler sigkit installs.
//
// Layout
//   global() -> state: one slot per signal number, a writer lock, and the
//   process incarnation word. Each slot publishes an immutable snapshot (the
//   subscribers and the disposition that was there before sigkit) through
//   an atomic pointer. The handler reads the snapshot inside a two-bucket
//   reader count; writers replace the snapshot and then wait until both
//   buckets have drained once (a "double flip", as signal-hook-registry's
//   HalfLock does) before freeing the old snapshot or any subscriber it
//   named. New handlers never wait and writers never starve.
//
// Fork
//   Every subscriber records the incarnation of the process that made it.
//   On Linux the incarnation word lives in a MADV_WIPEONFORK page, so a child
//   made by any kind of fork reads 0 and treats every inherited subscriber
//   as inert; a pthread_atfork child handler does the same elsewhere. The
//   first subscriber made in the child gives it a new incarnation.
//
//   exec() resets a handled signal to SIG_DFL but keeps SIG_IGN. So that a
//   program exec'd from a child keeps a signal that was ignored before
//   sigkit ignored, the atfork child handler puts SIG_IGN back for every
//   signal whose kernel disposition is sigkit's handler and whose previous
//   one is SIG_IGN (the inherited, inert subscribers would have ignored it
//   anyway). That slot is then "withdrawn": sigkit's layer stays in the
//   stack, standing for the previous disposition, until a subscriber made in
//   the child re-arms it where it stands (in the kernel, or as the `below`
//   of the layer above it). The table in docs/fork-and-exec.md lists what a
//   child and an exec'd program see.
//
//   fork() may come at any moment, from any thread. The table lock is the
//   one lock sigkit holds across calls for process-wide state (the registry
//   of live traps is under it too): the atfork prepare handler takes it, so
//   no fork happens while another thread holds it, and the child handler
//   gives the child a fresh one. The handlers are registered once, before any
//   lock can be held: by a static initialiser at program start (or when a
//   library using sigkit is loaded) and, should sigkit be used before that
//   initialiser ran, by the first table_lock, before it locks (pthread_once,
//   which glibc makes fork-safe). Per-object mutexes (a shutdown's, a trap's)
//   belong to objects that are inert in a forked child.
//
// Known races (written up where they live)
//   * A process made by a raw clone()/syscall(SYS_fork), which skips the
//     pthread_atfork handlers, inherits the table lock and reader counts as
//     they were: if another thread held them at that instant, the child's
//     first subscribe can block. fork() and vfork()/posix_spawn()+exec are
//     fine.
//   * A signal handler that calls fork() while its own thread holds the
//     table lock (inside a sigkit call it interrupted) deadlocks in the
//     atfork prepare handler, as with any library that makes fork-safe
//     locks; the handler may call _Fork() or vfork()+exec instead.
//   * sigaction() has no compare-and-swap: between sigkit reading the
//     current disposition and restoring the saved one, another thread that
//     calls sigaction() directly can be overwritten. Code that changes
//     dispositions through sigkit is serialised by the table lock.
//   * "Exact restore" puts back the saved struct sigaction through
//     sigaction(). glibc adds SA_RESTORER (its signal-return trampoline) to
//     every call it makes, and the kernel reports that flag back, so a
//     disposition nobody had touched (SIG_DFL, flags 0) comes back as
//     SIG_DFL with SA_RESTORER: the same state any sigaction() call through
//     the C library produces. Handler, mask and every other flag are exact.
//   * Emulating a stop signal's default action briefly sets SIG_DFL: a
//     second delivery of that signal in that window gets the default
//     action, as it would have without sigkit.
#pragma once

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <memory>
#include <new>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

#include "../error.hpp"
#include "../signal.hpp"
#include "sys.hpp"

/// Test instrumentation: with SIGKIT_TEST_HANDLER_HOOKS defined, the signal
/// handler calls these first and last, so that a test build can prove that
/// nothing it runs allocates, locks or uses stdio (tests/safety/). Never
/// defined in user builds.
#if defined(SIGKIT_TEST_HANDLER_HOOKS)
extern "C" void sigkit_test_handler_enter() noexcept;
extern "C" void sigkit_test_handler_exit() noexcept;
#define SIGKIT_HANDLER_ENTER() sigkit_test_handler_enter()
#define SIGKIT_HANDLER_EXIT() sigkit_test_handler_exit()
#else
#define SIGKIT_HANDLER_ENTER() ((void)0)
#define SIGKIT_HANDLER_EXIT() ((void)0)
#endif

namespace sigkit {
inline namespace v1 {
namespace detail {

/// What the handler sees of a stream, flag or forwarder. The owner keeps it
/// at a fixed address from subscribe() until unsubscribe() returns.
struct subscriber {
  /// Records one delivery. Called from the signal handler, on any thread,
  /// possibly nested: must be async-signal-safe and lock-free.
  void (*deliver)(subscriber* self, int signo, const siginfo_t* info) noexcept = nullptr;
  /// The process incarnation this subscriber belongs to (set by subscribe).
  std::uint64_t incarnation = 0;
  /// Whether the handler that was there before sigkit runs too.
  bool chain = true;
};

/// An immutable view of one signal's subscribers, published to the handler.
struct snapshot {
  struct sigaction previous {};   // the disposition before sigkit
  std::vector<subscriber*> subs;  // take every delivery
  // Synchronous signals (SIGSEGV...) only: the subscribers (forwarders) that
  // take the deliveries another process sent with kill() or sigqueue(). A
  // real fault, and one with no live subscriber here, goes to the previous
  // disposition as if sigkit were not there. Apart from `subs` so that the
  // handler's common path never looks at them.
  std::vector<subscriber*> user_subs;
};

/// The list of `snap` that subscribers of `signo` go in.
inline std::vector<subscriber*>& subscribers_of(snapshot& snap, int signo) noexcept {
  return signal{signo}.synchronous() ? snap.user_subs : snap.subs;
}

/// One disposition sigkit put in the kernel for a signal: a scoped_action's,
/// or sigkit's own handler. Layers of a signal form a stack (bottom to top
/// in installation order) so that any of them can be undone in any order:
/// undoing the top one restores what was below it; undoing one in the
/// middle hands its `below` to the layer above it. Ordinary code only.
struct layer {
  struct sigaction installed {};  // what this layer put in the kernel
  struct sigaction below {};      // what was there when it did
  layer* down = nullptr;
  layer* up = nullptr;
};

struct slot {
  std::atomic<snapshot*> current{nullptr};
  std::atomic<unsigned> generation{0};
  std::atomic<unsigned> readers[2]{};
  std::atomic<bool> oneshot_used{false};  // an SA_RESETHAND previous has run
  // Ordinary code only, under state::lock:
  std::size_t subscribers = 0;  // entries in current->subs and current->user_subs
  bool displaced = false;       // a foreign handler was installed on top of ours
  bool withdrawn = false;       // forked child: ours stands aside for a previous SIG_IGN (atfork_child)
  layer* top = nullptr;         // the newest sigkit layer of this signal
  layer ours{};                 // sigkit's handler as a layer; below == current->previous
  bool ours_linked = false;
  // The incarnation of the process whose kernel-queue stream owns this
  // signal (detail/kernel_queue.hpp), 0 if none: it reads every delivery
  // from the kernel, so no handler-path subscriber of that process may
  // subscribe (subscribe() refuses with EBUSY). An inherited value is
  // another incarnation: a forked child is free to take the signal.
  std::uint64_t kernel_queue = 0;
};

struct state {
  pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;  // writers only
  slot slots[signal_limit];
  std::atomic<std::atomic<std::uint64_t>*> incarnation_word{nullptr};
  std::atomic<std::uint64_t> fallback_word{0};  // used without MADV_WIPEONFORK
  std::uint64_t incarnation_counter = 0;        // under lock
  pthread_once_t started = PTHREAD_ONCE_INIT;   // process_start() has run
  signal_set ignored_at_start;                  // SIG_IGN when process_start() ran
};
static_assert(std::is_trivially_destructible_v<state>,
              "the handler must reach global state without a guard or an exit-time destructor");

/// The one process-wide table. Constant-initialised, trivially destructible:
/// reaching it takes no guard variable and no lock. Async-signal-safe.
inline state& global() noexcept {
  static constinit state s{};
  return s;
}

/// The incarnation of this process, or 0 in a forked child that has not
/// made a subscriber yet. Async-signal-safe.
inline std::uint64_t current_incarnation() noexcept {
  auto* w = global().incarnation_word.load(std::memory_order_acquire);
  return w != nullptr ? w->load(std::memory_order_relaxed) : 0;
}

inline void ensure_started() noexcept;

/// Holds the table lock (ordinary code). The atfork handlers are registered
/// before the first lock, so a fork never copies it held.
class table_lock {
 public:
  table_lock() noexcept {
    ensure_started();
    pthread_mutex_lock(&global().lock);
  }
  ~table_lock() { pthread_mutex_unlock(&global().lock); }
  table_lock(const table_lock&) = delete;
  table_lock& operator=(const table_lock&) = delete;
};

/// Gives this process an incarnation if it has none (first use, or first
/// subscriber after fork). Call under the table lock. Never fails: without
/// mmap/MADV_WIPEONFORK it falls back to the atfork-cleared word.
inline std::uint64_t ensure_incarnation() noexcept {
  state& s = global();
  auto* w = s.incarnation_word.load(std::memory_order_acquire);
  if (w == nullptr) {
#if defined(MADV_WIPEONFORK)
    const long page = ::sysconf(_SC_PAGESIZE);
    void* p =
        ::mmap(nullptr, static_cast<std::size_t>(page), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p != MAP_FAILED) {
      if (::madvise(p, static_cast<std::size_t>(page), MADV_WIPEONFORK) == 0) {
        w = new (p) std::atomic<std::uint64_t>(0);
      } else {
        ::munmap(p, static_cast<std::size_t>(page));
      }
    }
#endif
    if (w == nullptr) w = &s.fallback_word;
    s.incarnation_word.store(w, std::memory_order_release);
  }
  if (w->load(std::memory_order_relaxed) == 0) w->store(++s.incarnation_counter, std::memory_order_relaxed);
  return w->load(std::memory_order_relaxed);
}

/// Waits until no handler can still be reading a snapshot that was replaced
/// before this call. Writers only (ordinary code, under the table lock).
inline void wait_for_readers(slot& s) noexcept {
  for (int flip = 0; flip < 2; ++flip) {
    const unsigned old = s.generation.fetch_add(1, std::memory_order_seq_cst);
    auto& bucket = s.readers[old & 1u];
    while (bucket.load(std::memory_order_seq_cst) != 0) sched_yield();
  }
}

extern "C" inline void sigkit_v1_handler(int signo, siginfo_t* info, void* context) noexcept;

/// True if `act` is sigkit's handler (this copy of sigkit).
inline bool is_ours(const struct sigaction& act) noexcept {
  return (act.sa_flags & SA_SIGINFO) != 0 && act.sa_sigaction == &sigkit_v1_handler;
}

/// The C library's own "signal return trampoline" flag (Linux), which it
/// adds to every sigaction() call; not the program's to set.
inline constexpr int libc_restorer_flag = SIGKIT_LIBC_RESTORER_FLAG;

/// True if `flags` (an sa_flags value) has `bit`. SA_RESETHAND does not
/// fit in int, so compare as unsigned.
inline bool has_flag(int flags, unsigned long bit) noexcept {
  return (static_cast<unsigned long>(static_cast<unsigned>(flags)) & bit) != 0;
}

/// True if `a` and `b` name the same handler (or SIG_DFL/SIG_IGN) with the
/// same calling convention. Masks and other flags are not compared.
inline bool same_handler(const struct sigaction& a, const struct sigaction& b) noexcept {
  const bool ai = (a.sa_flags & SA_SIGINFO) != 0, bi = (b.sa_flags & SA_SIGINFO) != 0;
  if (ai != bi) return false;
  return ai ? a.sa_sigaction == b.sa_sigaction : a.sa_handler == b.sa_handler;
}

/// True if `act` is a function (not SIG_DFL or SIG_IGN).
inline bool is_function(const struct sigaction& act) noexcept {
  if ((act.sa_flags & SA_SIGINFO) != 0) return act.sa_sigaction != nullptr;
  return act.sa_handler != SIG_DFL && act.sa_handler != SIG_IGN;
}

inline bool is_ignore(const struct sigaction& act) noexcept {
  return (act.sa_flags & SA_SIGINFO) == 0 && act.sa_handler == SIG_IGN;
}

/// True if every subscriber in `subs` was inherited across fork (inert
/// here). Ordinary code, or the atfork child handler.
inline bool only_inherited(const std::vector<subscriber*>& subs) noexcept {
  const std::uint64_t me = current_incarnation();
  for (const subscriber* x : subs)
    if (me != 0 && x->incarnation == me) return false;
  return true;
}

/// Makes sigkit's layer of `signo` stand for `previous` (a SIG_IGN) while
/// only inherited, inert subscribers remain, so that a program exec'd from
/// here keeps the signal ignored: `previous` goes back in the kernel if ours
/// is there, or becomes what the layer above ours restores. The slot is
/// then withdrawn until a subscriber of this process re-arms it. Under the
/// table lock, or in the atfork child handler. Async-signal-safe.
inline void withdraw(int signo, slot& s, const struct sigaction& previous) noexcept {
  if (s.ours.up != nullptr) {
    s.ours.up->below = previous;
    s.withdrawn = true;
    return;
  }
  struct sigaction cur {};
  if (sys().sigaction(signo, nullptr, &cur) != 0 || !is_ours(cur)) return;  // someone else's on top
  if (sys().sigaction(signo, &previous, nullptr) == 0) s.withdrawn = true;
}

/// In a forked child, where every inherited subscriber is inert: withdraws
/// every slot whose previous disposition is SIG_IGN (see withdraw()).
inline void withdraw_over_ignored() noexcept {
  for (int n = 1; n < signal_limit; ++n) {
    slot& sl = global().slots[n];
    const snapshot* snap = sl.current.load(std::memory_order_relaxed);
    if (snap != nullptr && sl.ours_linked && !sl.withdrawn && is_ignore(snap->previous))
      withdraw(n, sl, snap->previous);
  }
}

inline void atfork_prepare() noexcept { pthread_mutex_lock(&global().lock); }
inline void atfork_parent() noexcept { pthread_mutex_unlock(&global().lock); }
inline void atfork_child() noexcept {
  state& s = global();
  // The child's one thread is the one that forked, which took the lock in
  // atfork_prepare: it unlocks it, as in the parent. (Re-initialising it by
  // assignment works too, but ThreadSanitizer never sees that unlock and
  // then reports every later lock in the child as a double lock.)
  pthread_mutex_unlock(&s.lock);
  s.fallback_word.store(0, std::memory_order_relaxed);
  // Threads that were inside the handler at fork time do not exist here,
  // but their reader counts were copied: zero them, or the child's first
  // writer would wait for them forever. The forking thread holds no count
  // (the handler drops its count before it chains to a handler that might
  // fork), and with every signal blocked no handler can run meanwhile.
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  for (auto& sl : s.slots) {
    sl.readers[0].store(0, std::memory_order_relaxed);
    sl.readers[1].store(0, std::memory_order_relaxed);
  }
  withdraw_over_ignored();
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

/// What sigkit does once per process, before it takes any lock: records
/// which signals are ignored (what the process inherited through exec,
/// unless code that ran earlier changed it), then registers the atfork
/// handlers. (Should pthread_atfork fail, ENOMEM, a fork is then handled as
/// a raw clone() is: see "Known races" above.)
inline void process_start() noexcept {
  state& s = global();
  for (int n = 1; n < signal_limit; ++n) {
    struct sigaction cur {};
    if (::sigaction(n, nullptr, &cur) != 0 || !is_ignore(cur)) continue;
    try {
      s.ignored_at_start.insert(signal{n});
    } catch (...) {  // never: 1 <= n < signal_limit is a valid signal; insert() cannot tell
    }
  }
  (void)pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

/// Runs process_start() once per process (a forked child inherits it as
/// done). Cheap after the first call: one atomic load.
inline void ensure_started() noexcept { pthread_once(&global().started, process_start); }

/// Runs process_start() before main(), before any thread of the program
/// could hold a sigkit lock, and before the program's ordinary static
/// initialisers (constructor priority 101: only those of shared libraries
/// loaded earlier, and ones with a priority of 100 or less, come first).
/// Each translation unit that includes this header calls it once;
/// pthread_once makes the later calls cheap no-ops.
#if defined(__GNUC__)
[[gnu::constructor(101)]] inline void start_at_load() noexcept { ensure_started(); }
#else
inline const bool started_at_load = (ensure_started(), true);
#endif

/// Performs the default action of `signo` as if no handler were installed:
/// unblock it, set SIG_DFL, re-raise; for stop signals, put our handler back
/// once the process is continued. Async-signal-safe.
inline void emulate_default(int signo) noexcept {
  const signal::action a = signal{signo}.default_action();
  if (a == signal::action::ignore || a == signal::action::cont) return;  // nothing to do
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  struct sigaction mine {};
  ::sigaction(signo, &dfl, &mine);
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, signo);
  ::pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
  ::raise(signo);  // terminate/core: does not return; stop: returns once continued
  ::sigaction(signo, &mine, nullptr);
}

/// True if another process sent this delivery (kill(), sigqueue(); not a
/// fault the kernel raised, and not this process signalling itself, as
/// raise() or abort()-like crash paths do). Async-signal-safe.
inline bool sent_by_another_process(const siginfo_t* info) noexcept {
  return info != nullptr && info->si_code <= 0 && info->si_pid != ::getpid();
}

/// Hands a synchronous signal that another process sent to the live
/// subscribers that take those (forwarders); true if one did. Never chains:
/// the forwarder takes the signal instead of the process dying of it.
/// Async-signal-safe.
inline bool deliver_sent_fault(int signo, siginfo_t* info, const snapshot& snap) noexcept {
  if (snap.user_subs.empty() || !sent_by_another_process(info)) return false;
  const std::uint64_t me = current_incarnation();
  if (me == 0) return false;
  bool delivered = false;
  for (subscriber* sub : snap.user_subs) {
    if (sub->incarnation != me) continue;  // inherited across fork: inert
    sub->deliver(sub, signo, info);
    delivered = true;
  }
  return delivered;
}

/// Sets the mask the kernel would have given `prev` had it been installed
/// itself: the mask the delivery interrupted (from `context`), prev's
/// sa_mask, and `signo` unless SA_NODEFER. sigkit's own handler runs with
/// every signal blocked (our_action()), which a chained handler must not
/// inherit. No restore needed: returning from the handler restores the
/// interrupted mask. Async-signal-safe.
inline void mask_as_kernel_would(int signo, const void* context, const struct sigaction& prev) noexcept {
  sigset_t interrupted;
  if (context != nullptr)
    interrupted = static_cast<const ucontext_t*>(context)->uc_sigmask;
  else  // called directly, not by the kernel: our sa_mask never applied
    ::pthread_sigmask(SIG_BLOCK, nullptr, &interrupted);
  sigset_t m;
  sigemptyset(&m);
  // Signal by signal: the kernel fills only the first bytes of uc_sigmask
  // (its own sigset_t); the rest of glibc's larger one is not a mask.
  for (int n = 1; n < signal_limit; ++n)
    if (sigismember(&interrupted, n) == 1 || sigismember(&prev.sa_mask, n) == 1) sigaddset(&m, n);
  if ((prev.sa_flags & SA_NODEFER) == 0) sigaddset(&m, signo);
  ::pthread_sigmask(SIG_SETMASK, &m, nullptr);
}

/// Runs the disposition that was there before sigkit. `no_subscriber` says
/// that no live subscriber saw this delivery, so SIG_DFL must be emulated.
/// Async-signal-safe (apart from what a chained foreign handler does).
inline void run_previous(int signo, siginfo_t* info, void* context, const struct sigaction& prev, slot& s,
                         bool no_subscriber) noexcept {
  if (is_ignore(prev)) {
    // The kernel does not let a process ignore a fault it raised (it
    // resets the disposition and kills); returning would re-run the
    // faulting instruction for ever.
    if (no_subscriber && signal{signo}.synchronous() && info != nullptr && info->si_code > 0) emulate_default(signo);
    return;
  }
  if (!is_function(prev)) {
    if (no_subscriber) emulate_default(signo);
    return;
  }
  if (signo == SIGCHLD && (prev.sa_flags & SA_NOCLDSTOP) != 0 && info != nullptr &&
      (info->si_code == CLD_STOPPED || info->si_code == CLD_CONTINUED))
    return;  // it asked not to hear about stops; sigkit listens for them
  if (has_flag(prev.sa_flags, SA_RESETHAND) && s.oneshot_used.exchange(true, std::memory_order_acq_rel)) {
    // A one-shot handler has had its turn; its disposition is now SIG_DFL.
    if (no_subscriber) emulate_default(signo);
    return;
  }
  mask_as_kernel_would(signo, context, prev);
  if ((prev.sa_flags & SA_SIGINFO) != 0)
    prev.sa_sigaction(signo, info, context);
  else
    prev.sa_handler(signo);
}

/// The handler's slow path: hands a synchronous signal another process
/// sent to the forwarders that take it; otherwise copies what chaining
/// needs out of `snap`, leaves the read section (a chained handler may run
/// long or siglongjmp away), and runs the disposition that was there before
/// sigkit. Kept out of line so that the common delivery (nothing to chain)
/// carries neither the copy of a struct sigaction nor the stack frame of
/// emulate_default(), and never looks at the synchronous signals'
/// subscribers. Async-signal-safe (apart from what a chained foreign
/// handler does).
[[gnu::noinline]] inline void leave_and_run_previous(int signo, siginfo_t* info, void* context, slot& s,
                                                     std::atomic<unsigned>& bucket, const snapshot& snap,
                                                     bool delivered) noexcept {
  if (!delivered && deliver_sent_fault(signo, info, snap)) {
    bucket.fetch_sub(1, std::memory_order_seq_cst);
    return;
  }
  const struct sigaction prev = snap.previous;
  bucket.fetch_sub(1, std::memory_order_seq_cst);
  run_previous(signo, info, context, prev, s, !delivered);
}

/// The handler sigkit installs for every subscribed signal. Records the
/// delivery with every live subscriber (store, then wake: each subscriber's
/// deliver() does both), then chains. Keeps errno.
/// Async-signal-safe: no allocation, no lock, no exception.
extern "C" inline void sigkit_v1_handler(int signo, siginfo_t* info, void* context) noexcept {
  const int saved_errno = errno;
  SIGKIT_HANDLER_ENTER();
  if (signo > 0 && signo < signal_limit) {
    slot& s = global().slots[signo];
    auto& bucket = s.readers[s.generation.load(std::memory_order_seq_cst) & 1u];
    bucket.fetch_add(1, std::memory_order_seq_cst);
    const snapshot* snap = s.current.load(std::memory_order_seq_cst);
    bool delivered = false;
    bool chain = false;
    if (snap != nullptr) {
      const std::uint64_t me = current_incarnation();
      if (me != 0) {
        for (subscriber* sub : snap->subs) {
          if (sub->incarnation != me) continue;  // inherited across fork: inert
          sub->deliver(sub, signo, info);
          delivered = true;
          chain = chain || sub->chain;
        }
      }
    }
    // The previous disposition matters if no live subscriber took the
    // delivery (SIG_DFL must then be emulated, SIG_IGN honoured), or if a
    // subscriber asked to chain and there is a function to chain to; a
    // previous SIG_DFL or SIG_IGN after a delivery does nothing.
    if (snap != nullptr && (!delivered || (chain && is_function(snap->previous))))
      leave_and_run_previous(signo, info, context, s, bucket, *snap, delivered);
    else
      bucket.fetch_sub(1, std::memory_order_seq_cst);
  }
  SIGKIT_HANDLER_EXIT();
  errno = saved_errno;
}

/// Runs sigkit's handler for a signal that a thread took with
/// sigtimedwait() instead of having it delivered (run()'s forwarding
/// thread, detail/direct_wait.hpp): every subscriber records it, and what
/// was there before sigkit runs as the delivery would have run it. The
/// handler is called as a function, with no context: a chained handler
/// changes this thread's mask (mask_as_kernel_would), which a real delivery
/// restores on return; so is this.
inline void deliver_as_if_caught(int signo, siginfo_t& info) noexcept {
  sigset_t mask;
  ::pthread_sigmask(SIG_BLOCK, nullptr, &mask);
  sigkit_v1_handler(signo, &info, nullptr);
  ::pthread_sigmask(SIG_SETMASK, &mask, nullptr);
}

/// The struct sigaction sigkit installs over `previous` for `signo`.
inline struct sigaction our_action(int signo, const struct sigaction& previous) noexcept {
  struct sigaction act {};
  act.sa_sigaction = &sigkit_v1_handler;
  // Every signal blocked while the handler runs: otherwise a burst of N
  // different signals nests N signal frames on one thread, and on a small
  // alternate stack (SA_ONSTACK; ASan's runtime installs one, so do Rust's
  // and programs that catch stack overflows) that overflowed it: the kernel
  // killed the process with SIGSEGV. A chained handler gets its own mask
  // back (mask_as_kernel_would).
  sigfillset(&act.sa_mask);
  act.sa_flags = SA_SIGINFO | SA_ONSTACK;
  // Keep a chained handler's choice about restarting system calls (it may
  // rely on EINTR); restart otherwise.
  act.sa_flags |= is_function(previous) ? (previous.sa_flags & SA_RESTART) : SA_RESTART;
  // Reaping policy is process-wide: keep it. SIG_IGN for SIGCHLD means the
  // kernel reaps exited children; SA_NOCLDWAIT keeps that under a handler,
  // and Linux still delivers SIGCHLD to it (POSIX leaves that open).
  if (signo == SIGCHLD) {
    act.sa_flags |= previous.sa_flags & SA_NOCLDWAIT;
    if (is_ignore(previous)) act.sa_flags |= SA_NOCLDWAIT;
  }
  return act;
}

/// Names the signal and the reason no disposition can be set for it
/// (invalid, SIGKILL or SIGSTOP, reserved by the C library); empty if one
/// can.
inline std::string uncatchable_reason(signal s) {
  if (!s.valid())
    return "signal " + std::to_string(s.number()) + " is not a valid signal number (1.." +
           std::to_string(signal_limit - 1) + ")";
  if (s.number() == SIGKILL || s.number() == SIGSTOP)
    return std::string(s.name()) + " cannot be caught, blocked or ignored";
  if (!s.catchable()) return std::string(s.name()) + " is reserved by the C library";
  return {};
}

/// Names the signal and the reason a stream/flag cannot subscribe to it
/// (as uncatchable_reason, or synchronous unless `allow_synchronous`);
/// empty if it can.
inline std::string unsubscribable_reason(signal s, bool allow_synchronous = false) {
  std::string why = uncatchable_reason(s);
  if (why.empty() && s.synchronous() && !allow_synchronous)
    why = std::string(s.name()) +
          " is synchronous (the kernel raises it in the faulting thread, which re-runs the fault before any "
          "consumer could act); handle it with scoped_action instead";
  return why;
}

/// Throws std::invalid_argument ("sigkit::<who>: <reason>") if any signal of
/// `set` cannot be subscribed to, or `set` is empty. `allow_synchronous`:
/// the forwarder's subscription, which takes only the synchronous signals
/// another process sent (see snapshot::user_subs).
inline void check_subscribable(const signal_set& set, const char* who, bool allow_synchronous = false) {
  if (set.empty()) throw std::invalid_argument(std::string("sigkit::") + who + ": the signal set is empty");
  for (signal s : set) {
    auto why = unsubscribable_reason(s, allow_synchronous);
    if (!why.empty()) throw std::invalid_argument(std::string("sigkit::") + who + ": " + why);
  }
}

inline void link_layer(slot& s, layer* l) noexcept {
  l->down = s.top;
  l->up = nullptr;
  if (s.top != nullptr) s.top->up = l;
  s.top = l;
}

inline void unlink_layer(slot& s, layer* l) noexcept {
  if (l->down != nullptr) l->down->up = l->up;
  if (l->up != nullptr)
    l->up->down = l->down;
  else
    s.top = l->down;
  l->up = l->down = nullptr;
}

/// Publishes a copy of the current snapshot with a new previous disposition
/// and retires the old one. What sigkit's layer puts in the kernel follows
/// the previous disposition (our_action() takes its SA_RESTART choice and
/// SIGCHLD's reaping from it; a withdrawn layer stands for it as it is), so
/// that is updated too: in the kernel if the layer is on top, else as what
/// the layer above restores. Under the table lock.
inline void replace_previous(int signo, slot& s, const struct sigaction& previous) {
  snapshot* old = s.current.load(std::memory_order_relaxed);
  auto* next = new snapshot{previous, old != nullptr ? old->subs : std::vector<subscriber*>{},
                            old != nullptr ? old->user_subs : std::vector<subscriber*>{}};
  const struct sigaction stood_for = s.withdrawn ? s.ours.below : s.ours.installed;
  const struct sigaction mine = our_action(signo, previous);
  const struct sigaction& stands_for = s.withdrawn ? previous : mine;
  if (s.ours.up != nullptr) {
    s.ours.up->below = stands_for;
  } else {
    struct sigaction cur {};
    if (sys().sigaction(signo, nullptr, &cur) == 0 && same_handler(cur, stood_for))
      sys().sigaction(signo, &stands_for, nullptr);
    // Otherwise a foreign handler sits on top: leave it alone.
  }
  s.ours.installed = mine;
  s.ours.below = previous;
  s.oneshot_used.store(false, std::memory_order_release);
  s.current.store(next, std::memory_order_seq_cst);
  if (old != nullptr) {
    wait_for_readers(s);
    delete old;
  }
}

/// Hands `below` to the layer above `l` (the disposition it must restore
/// when it goes). Under the table lock.
inline void hand_down(int signo, slot& s, layer* above, const struct sigaction& below) {
  if (above == &s.ours)
    replace_previous(signo, s, below);
  else
    above->below = below;
}

/// Installs `action` for `signo` as a new top layer `l`. Under the table
/// lock. Returns the sigaction error, if any (nothing changed then).
inline std::error_code push_action(int signo, layer* l, const struct sigaction& action) {
  slot& s = global().slots[signo];
  struct sigaction old {};
  if (sys().sigaction(signo, &action, &old) != 0) return last_error();
  l->installed = action;
  l->below = old;
  link_layer(s, l);
  return {};
}

/// Undoes layer `l` of `signo`, in any order. With `restore` false the
/// layer's action stays in place and is only forgotten. Under the table lock.
inline void pop_action(int signo, layer* l, bool restore) {
  slot& s = global().slots[signo];
  if (l->up != nullptr) {
    // Someone sigkit knows is above: they restore our `below` later.
    if (restore) hand_down(signo, s, l->up, l->below);
  } else if (restore) {
    struct sigaction cur {};
    if (sys().sigaction(signo, nullptr, &cur) == 0 && same_handler(cur, l->installed))
      sys().sigaction(signo, &l->below, nullptr);
    // Otherwise a foreign handler sits on top: leave it alone.
  }
  unlink_layer(s, l);
}

/// Removes `sub` from one signal; restores the previous disposition when it
/// was the last subscriber and ours is still the installed handler. Call
/// under the table lock.
inline void unsubscribe_one(int signo, subscriber* sub) noexcept {
  slot& s = global().slots[signo];
  snapshot* old = s.current.load(std::memory_order_relaxed);
  if (old == nullptr) return;
  // OOM here terminates (noexcept): there is no way to report it from a destructor.
  auto* next = new snapshot{*old};  // NOLINT(bugprone-unhandled-exception-at-new)
  std::vector<subscriber*>& list = subscribers_of(*next, signo);
  const auto found = std::find(list.begin(), list.end(), sub);
  if (found == list.end()) {
    delete next;
    return;
  }
  list.erase(found);
  if (list.empty()) {
    struct sigaction restore = old->previous;
    if (has_flag(restore.sa_flags, SA_RESETHAND) && s.oneshot_used.load(std::memory_order_acquire)) {
      // The one-shot handler already ran: the kernel would have reset it.
      restore.sa_flags =
          static_cast<int>(static_cast<unsigned>(restore.sa_flags) & ~static_cast<unsigned>(SA_SIGINFO | SA_RESETHAND));
      restore.sa_handler = SIG_DFL;
    }
    if (s.ours_linked && s.ours.up != nullptr) {
      // A scoped action sigkit made sits on top of our handler: it will
      // restore what we would have.
      s.ours.up->below = restore;
    } else {
      struct sigaction cur {};
      if (sys().sigaction(signo, nullptr, &cur) == 0) {
        if (is_ours(cur)) {
          sys().sigaction(signo, &restore, nullptr);
          s.displaced = false;
        } else {
          // Someone installed over us. Leave theirs alone; if it chains to
          // us, the kept snapshot makes us act as the previous disposition.
          s.displaced = is_function(cur);
        }
      }
    }
    if (s.ours_linked) {
      unlink_layer(s, &s.ours);
      s.ours_linked = false;
    }
    s.withdrawn = false;
  } else if (!s.withdrawn && s.ours_linked && is_ignore(old->previous) && only_inherited(next->subs)) {
    // A forked child's last own subscriber went; the inherited ones are
    // inert: SIG_IGN goes back, as the atfork handler did at the fork.
    withdraw(signo, s, old->previous);
  }
  s.current.store(next, std::memory_order_seq_cst);
  --s.subscribers;
  wait_for_readers(s);
  delete old;
}

/// Removes `sub` from every signal of `set`. Never fails.
inline void unsubscribe(subscriber* sub, const signal_set& set) noexcept {
  table_lock lock;
  for (signal sig : set) unsubscribe_one(sig.number(), sub);
}

/// Adds `sub` to one signal, installing sigkit's handler if this is the
/// first subscriber. Call under the table lock. Reports sigaction failure
/// through the return value (errno code); throws only std::bad_alloc, with
/// nothing changed.
inline std::error_code subscribe_one(int signo, subscriber* sub) {
  slot& s = global().slots[signo];
  snapshot* old = s.current.load(std::memory_order_relaxed);
  auto next = std::make_unique<snapshot>();
  if (old != nullptr) {
    next->previous = old->previous;
    next->subs = old->subs;
    next->user_subs = old->user_subs;
  }
  subscribers_of(*next, signo).push_back(sub);  // may throw bad_alloc: nothing changed yet
  if (s.withdrawn && s.ours.up != nullptr) {
    // A forked child's first own subscriber, with a layer above ours: that
    // layer restores ours again when it goes.
    s.ours.up->below = s.ours.installed;
    s.withdrawn = false;
  }
  if (s.subscribers == 0 || s.withdrawn) {
    // First subscriber, or a forked child's first own one with ours
    // withdrawn on top (the previous disposition is in the kernel).
    struct sigaction cur {};
    if (sys().sigaction(signo, nullptr, &cur) != 0) return last_error();
    const bool keep_previous = old != nullptr && !s.withdrawn && (is_ours(cur) || (s.displaced && is_function(cur)));
    if (!keep_previous) {
      const struct sigaction mine = our_action(signo, cur);
      if (sys().sigaction(signo, &mine, nullptr) != 0) return last_error();
      next->previous = cur;
      s.oneshot_used.store(false, std::memory_order_release);
      s.displaced = false;
    }
    s.ours.installed = our_action(signo, next->previous);
    s.ours.below = next->previous;
    if (!s.ours_linked) {
      link_layer(s, &s.ours);
      s.ours_linked = true;
    }
    s.withdrawn = false;
  }
  s.current.store(next.release(), std::memory_order_seq_cst);
  ++s.subscribers;
  if (old != nullptr) {
    wait_for_readers(s);
    delete old;
  }
  return {};
}

/// True if a subscriber of incarnation `me` takes `signo` through the
/// handler. Under the table lock.
inline bool has_live_subscriber(int signo, std::uint64_t me) noexcept {
  const snapshot* snap = global().slots[signo].current.load(std::memory_order_relaxed);
  if (snap == nullptr) return false;
  for (const std::vector<subscriber*>* list : {&snap->subs, &snap->user_subs})
    for (const subscriber* sub : *list)
      if (sub->incarnation == me) return true;
  return false;
}

/// Subscribes `sub` to every signal of `set` (which the caller has
/// validated). All or nothing: on failure every signal already done is
/// undone, and the error names the failing signal: its system call, or
/// EBUSY if a kernel-queue stream owns it (see subscribe_failure()).
inline std::error_code subscribe(subscriber* sub, const signal_set& set, signal* failed = nullptr) {
  table_lock lock;
  sub->incarnation = ensure_incarnation();
  for (signal sig : set) {
    if (global().slots[sig.number()].kernel_queue == sub->incarnation) {
      if (failed != nullptr) *failed = sig;
      return std::make_error_code(std::errc::device_or_resource_busy);
    }
  }
  signal_set done;
  for (signal sig : set) {
    std::error_code ec;
    try {
      ec = subscribe_one(sig.number(), sub);
    } catch (...) {
      for (signal d : done) unsubscribe_one(d.number(), sub);
      throw;
    }
    if (ec) {
      for (signal d : done) unsubscribe_one(d.number(), sub);
      if (failed != nullptr) *failed = sig;
      return ec;
    }
    done.insert(sig);
  }
  return {};
}

/// The message of a failed subscribe() for `who` ("stream", "flag"):
/// what is in the way of signal `failed`.
inline std::string subscribe_failure(const char* who, signal failed, std::error_code ec) {
  if (ec == std::errc::device_or_resource_busy)
    return std::string(who) + ": " + std::string(failed.name()) +
           " has a kernel-queue stream (stream_options::queue = queue_kind::kernel), which takes every delivery "
           "from the kernel: a subscriber through the handler would never see one";
  return std::string(who) + ": sigaction(" + std::string(failed.name()) + ") failed";
}

}  // namespace detail
}  // namespace v1
}  // namespace sigkit
