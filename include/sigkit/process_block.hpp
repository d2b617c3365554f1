// sigkit/process_block.hpp - blocking signals in every thread of the
// process, which a kernel-queue stream (stream_options::queue =
// queue_kind::kernel) needs: made in main() before any other thread starts,
// a process_block is inherited by every thread started afterwards.
//
// State shared across threads
//   A per-signal count of the live process_blocks that blocked it (added it
//   to a mask that did not have it). spawn() with reset_signals = false
//   takes those signals out of the child's mask, so that an exec'd program
//   gets the mask from before sigkit blocked them (the blocked mask
//   survives exec). The counts are plain atomics: no lock, and a forked
//   child's copy stays right as each inherited object gives back what it
//   took.
#pragma once

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "error.hpp"
#include "inspect.hpp"
#include "mask.hpp"
#include "signal.hpp"

namespace sigkit {
inline namespace v1 {
namespace detail {

/// How many live process_blocks blocked each signal (see the file comment).
inline std::atomic<unsigned>* process_block_counts() noexcept {
  static constinit std::atomic<unsigned> counts[signal_limit]{};
  return counts;
}

/// The signals that some live process_block of this process blocked.
inline signal_set blocked_by_process_block() noexcept {
  sigset_t set;
  sigemptyset(&set);
  const std::atomic<unsigned>* counts = process_block_counts();
  for (int n = 1; n < signal_limit; ++n)
    if (counts[n].load(std::memory_order_relaxed) != 0) sigaddset(&set, n);
  return signal_set(set);
}

/// A thread that leaves some signals of a set unblocked.
struct unblocking_thread {
  pid_t tid = 0;         // 0: the calling thread, where there is no /proc to name it by
  std::string name;      // as the kernel has it (pthread_setname_np)
  signal_set unblocked;  // the signals of the set it does not block
};

/// The threads of this process that do not block every signal of
/// `signals`: the calling thread (its own mask) and, where there is a
/// Linux /proc, every other thread (/proc/self/task/*/status). Where /proc
/// is missing or unreadable only the calling thread is checked.
inline std::vector<unblocking_thread> threads_not_blocking(const signal_set& signals) {
  std::vector<unblocking_thread> out;
  std::error_code ec;
  const std::vector<thread_signals> threads = inspect_threads(::getpid(), ec);
  if (ec) {
    const signal_set mine = signals - blocked_signals();
    if (!mine.empty()) out.push_back({0, "the calling thread", mine});
    return out;
  }
  for (const thread_signals& t : threads) {
    const signal_set open = signals - t.blocked;
    if (!open.empty()) out.push_back({t.tid, t.name, open});
  }
  return out;
}

/// "thread 123 (worker) does not block SIGTERM; thread 124 (...) ..." for
/// at most three threads, then how many more.
inline std::string describe(const std::vector<unblocking_thread>& threads) {
  std::string out;
  std::size_t shown = 0;
  for (const unblocking_thread& t : threads) {
    if (shown == 3) {
      out += "; and " + std::to_string(threads.size() - shown) + " more";
      break;
    }
    if (shown++ != 0) out += "; ";
    out += t.tid != 0 ? "thread " + std::to_string(t.tid) + " (" + t.name + ")" : t.name;
    out += " does not block " + t.unblocked.to_string();
  }
  return out;
}

}  // namespace detail

/// Blocks signals in every thread of the process: in the calling thread for
/// its lifetime, and, since a new thread inherits its creator's mask, in
/// every thread started from here while it lives. Make it in main() before
/// any other thread starts; that is what a kernel-queue stream
/// (stream_options::queue = queue_kind::kernel) needs. On destruction it
/// unblocks, in the calling thread, exactly the signals it blocked (threads
/// started meanwhile keep their own masks). Must be destroyed on the thread
/// that made it. Move-only.
///
/// A child made by fork() inherits the block (POSIX), and so does a program
/// it execs. sigkit's spawn() clears the mask (spawn_options::reset_signals),
/// or with reset_signals = false gives the child the mask from before the
/// live process_blocks blocked anything; mask_before_process_block() gives
/// that mask for posix_spawnattr_setsigmask() or a fork() + exec of your own.
class process_block {
 public:
  /// Blocks `signals` in the calling thread. Throws std::system_error
  /// (errc::operation_not_permitted) naming the threads if another thread
  /// of the process does not block them already (it would take their
  /// deliveries), and nothing has changed then; std::system_error if
  /// pthread_sigmask fails.
  explicit process_block(const signal_set& signals) {
    std::error_code ec;
    std::string why;
    open(signals, ec, why);
    detail::throw_if(ec, "process_block: " + why);
  }
  /// As above, reporting failure through `ec` (valid() is then false).
  process_block(const signal_set& signals, std::error_code& ec) noexcept {
    try {
      std::string why;
      open(signals, ec, why);
    } catch (...) {  // only allocation can fail
      ec = std::make_error_code(std::errc::not_enough_memory);
    }
  }

  process_block(process_block&& other) noexcept
      : block_(std::exchange(other.block_, std::nullopt)), counted_(std::exchange(other.counted_, signal_set{})) {}
  process_block& operator=(process_block&& other) noexcept {
    if (this != &other) {
      reset();
      block_ = std::exchange(other.block_, std::nullopt);
      counted_ = std::exchange(other.counted_, signal_set{});
    }
    return *this;
  }
  process_block(const process_block&) = delete;
  process_block& operator=(const process_block&) = delete;
  ~process_block() { reset(); }

  /// True unless moved from, reset, or made by a failed error_code
  /// constructor.
  bool valid() const noexcept { return block_.has_value(); }

  /// The signals this block added to the calling thread's mask (and will
  /// take out again).
  signal_set added() const noexcept { return counted_; }

  /// Unblocks now (in the calling thread).
  void reset() noexcept {
    std::atomic<unsigned>* counts = detail::process_block_counts();
    for (signal s : counted_) counts[s.number()].fetch_sub(1, std::memory_order_relaxed);
    counted_ = signal_set{};
    block_.reset();  // scoped_block's destructor unblocks
  }

 private:
  void open(const signal_set& signals, std::error_code& ec, std::string& why) {
    ec.clear();
    scoped_block block(signals, ec);
    if (ec) {
      why = "pthread_sigmask(SIG_BLOCK, " + signals.to_string() + ") failed";
      return;
    }
    // Blocked here first: a thread that still leaves one unblocked is
    // another thread.
    const std::vector<detail::unblocking_thread> others = detail::threads_not_blocking(signals);
    if (!others.empty()) {
      ec = std::make_error_code(std::errc::operation_not_permitted);
      why = detail::describe(others) +
            ": a thread that leaves a signal unblocked takes its deliveries; make the process_block before "
            "starting threads";
      return;  // `block` unblocks again
    }
    counted_ = block.added();
    std::atomic<unsigned>* counts = detail::process_block_counts();
    for (signal s : counted_) counts[s.number()].fetch_add(1, std::memory_order_relaxed);
    block_.emplace(std::move(block));
  }

  std::optional<scoped_block> block_;
  signal_set counted_;
};

/// The calling thread's mask without the signals that live process_blocks
/// blocked: what a program exec'd from here should start with (sigkit's
/// spawn() with reset_signals = false uses it).
inline sigset_t mask_before_process_block() noexcept {
  sigset_t mask;
  ::pthread_sigmask(SIG_BLOCK, nullptr, &mask);
  for (signal s : detail::blocked_by_process_block()) sigdelset(&mask, s.number());
  return mask;
}

}  // namespace v1
}  // namespace sigkit
