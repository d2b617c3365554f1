// sigkit/detail/ring.hpp - a bounded lock-free multi-producer,
// single-consumer queue of trivially copyable records.
//
// Producers are signal handlers (any thread, possibly nested on one thread);
// the consumer is ordinary code. The algorithm is the bounded sequence-number
// queue (one sequence word per cell): a producer claims a position with a CAS
// and publishes the cell by storing its sequence. No producer ever waits for
// another, so a handler interrupted mid-push by a nested handler cannot
// deadlock: the consumer simply sees the unpublished cell as "not yet there",
// and the interrupted producer's own notify() wakes it once it publishes.
//
// Sequence encoding
//   A cell's word is 2*pos while the cell is free for the producer of
//   position pos, and 2*pos + 1 once the record of position pos is published
//   in it; the consumer frees it for pos + capacity with 2*(pos + capacity).
//   Free and published states of any two positions are different numbers,
//   whatever the capacity. (The textbook encoding, "free for pos" = pos and
//   "published at pos" = pos + 1, makes "published at pos" equal "free for
//   pos + 1" when there is one cell: a second push then overwrote an unread
//   record and the consumer never saw the cell as published again.) The
//   producer pays one shift for it; nothing else changes on the handler path.
//
// Order
//   Records come out in the order producers claimed their positions. Two
//   handlers running at once on different threads claim in whatever order
//   they reach the CAS, which need not be the order the kernel dequeued their
//   signals in: nothing in a siginfo_t tells that order, so no handler-path
//   queue can restore it (see the README, "What arrives").
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace sigkit {
inline namespace v1 {
namespace detail {

inline constexpr std::size_t cache_line = 64;

/// The largest ring: 1 Mi records (40 MiB of cells for a stream's 32-byte
/// events). More than the kernel queues for a user by default
/// (RLIMIT_SIGPENDING: 96 367 on a 23 GiB development machine); a consumer that
/// falls further behind than that is not served by a bigger buffer. Small
/// enough that 2 * (position + capacity) never comes near wrapping.
inline constexpr std::size_t max_ring_capacity = std::size_t{1} << 20;

/// Throws std::invalid_argument for capacity 0 and std::length_error above
/// max_ring_capacity, naming `who` and the value.
inline void check_ring_capacity(std::size_t capacity, const char* who) {
  if (capacity == 0) throw std::invalid_argument(std::string("sigkit::") + who + ": capacity 0: must be at least 1");
  if (capacity > max_ring_capacity)
    throw std::length_error(std::string("sigkit::") + who + ": capacity " + std::to_string(capacity) +
                            " is more than the maximum, " + std::to_string(max_ring_capacity));
}

template <class T>
class mpsc_ring {
  static_assert(std::is_trivially_copyable_v<T>, "ring records are copied inside signal handlers");

 public:
  /// Allocates `capacity` cells (1..max_ring_capacity; otherwise throws as
  /// check_ring_capacity() does). Ordinary code only.
  explicit mpsc_ring(std::size_t capacity) : capacity_(checked(capacity)), cells_(std::make_unique<cell[]>(capacity_)) {
    for (std::size_t i = 0; i < capacity_; ++i) cells_[i].seq.store(2 * i, std::memory_order_relaxed);
  }

  std::size_t capacity() const noexcept { return capacity_; }

  /// Appends `value`; false if the ring is full. Async-signal-safe,
  /// lock-free, never waits for another producer.
  bool try_push(const T& value) noexcept {
    std::size_t pos = tail_.load(std::memory_order_relaxed);
    for (;;) {
      cell& c = cells_[pos % capacity_];
      const std::size_t seq = c.seq.load(std::memory_order_acquire);
      const auto diff = static_cast<std::ptrdiff_t>(seq - 2 * pos);
      if (diff == 0) {
        if (tail_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          c.value = value;
          c.seq.store(2 * pos + 1, std::memory_order_release);  // publish
          return true;
        }
      } else if (diff < 0) {
        return false;  // full: the record of pos - capacity is still unread (or unpublished)
      } else {
        pos = tail_.load(std::memory_order_relaxed);  // another producer took it
      }
    }
  }

  /// Removes the oldest published record into `out`; false if there is none
  /// (or the oldest claimed cell is not published yet). One consumer only.
  bool try_pop(T& out) noexcept {
    const std::size_t pos = head_.load(std::memory_order_relaxed);
    cell& c = cells_[pos % capacity_];
    const std::size_t seq = c.seq.load(std::memory_order_acquire);
    if (seq != 2 * pos + 1) return false;
    out = c.value;
    c.seq.store(2 * (pos + capacity_), std::memory_order_release);  // free the cell
    head_.store(pos + 1, std::memory_order_relaxed);
    return true;
  }

 private:
  static std::size_t checked(std::size_t capacity) {
    check_ring_capacity(capacity, "ring");
    return capacity;
  }

  struct cell {
    std::atomic<std::size_t> seq{0};
    T value{};
  };
  const std::size_t capacity_;
  std::unique_ptr<cell[]> cells_;
  alignas(cache_line) std::atomic<std::size_t> tail_{0};  // producers
  alignas(cache_line) std::atomic<std::size_t> head_{0};  // consumer
};

}  // namespace detail
}  // namespace v1
}  // namespace sigkit
