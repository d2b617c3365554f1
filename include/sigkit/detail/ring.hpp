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
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <new>
#include <type_traits>

namespace sigkit {
inline namespace v1 {
namespace detail {

inline constexpr std::size_t cache_line = 64;

template <class T>
class mpsc_ring {
  static_assert(std::is_trivially_copyable_v<T>, "ring records are copied inside signal handlers");

 public:
  /// Allocates `capacity` cells (at least 1). Ordinary code only.
  explicit mpsc_ring(std::size_t capacity)
      : capacity_(capacity == 0 ? 1 : capacity), cells_(std::make_unique<cell[]>(capacity_)) {
    for (std::size_t i = 0; i < capacity_; ++i) cells_[i].seq.store(i, std::memory_order_relaxed);
  }

  std::size_t capacity() const noexcept { return capacity_; }

  /// Appends `value`; false if the ring is full. Async-signal-safe,
  /// lock-free, never waits for another producer.
  bool try_push(const T& value) noexcept {
    std::size_t pos = tail_.load(std::memory_order_relaxed);
    for (;;) {
      cell& c = cells_[pos % capacity_];
      const std::size_t seq = c.seq.load(std::memory_order_acquire);
      const auto diff = static_cast<std::ptrdiff_t>(seq - pos);
      if (diff == 0) {
        if (tail_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          c.value = value;
          c.seq.store(pos + 1, std::memory_order_release);  // publish
          return true;
        }
      } else if (diff < 0) {
        return false;  // full: the consumer has not freed this cell yet
      } else {
        pos = tail_.load(std::memory_order_relaxed);  // another producer took it
      }
    }
  }

  /// Removes the oldest published record into `out`; false if there is none
  /// (or the oldest claimed cell is not published yet). One consumer only.
  bool try_pop(T& out) noexcept {
    const std::size_t pos = head_;
    cell& c = cells_[pos % capacity_];
    const std::size_t seq = c.seq.load(std::memory_order_acquire);
    if (seq != pos + 1) return false;
    out = c.value;
    c.seq.store(pos + capacity_, std::memory_order_release);  // free the cell
    head_ = pos + 1;
    return true;
  }

 private:
  struct cell {
    std::atomic<std::size_t> seq{0};
    T value{};
  };
  const std::size_t capacity_;
  std::unique_ptr<cell[]> cells_;
  alignas(cache_line) std::atomic<std::size_t> tail_{0};  // producers
  alignas(cache_line) std::size_t head_ = 0;              // consumer
};

}  // namespace detail
}  // namespace v1
}  // namespace sigkit
