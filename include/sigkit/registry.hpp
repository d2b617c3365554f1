// sigkit/registry.hpp - an RAII scope over subscriptions and dispositions.
//
// Everything made through a registry is released in reverse order when it
// dies, and every disposition it changed is restored.
#pragma once

#include <memory>
#include <utility>
#include <vector>

#include "action.hpp"
#include "flag.hpp"
#include "signal.hpp"
#include "stream.hpp"

namespace sigkit {
inline namespace v1 {

/// Owns streams, flags and scoped dispositions; releases them in reverse
/// order of creation. References it hands out stay valid until it dies.
/// Not thread-safe: use one registry from one thread at a time.
class registry {
 public:
  registry() = default;
  registry(registry&&) noexcept = default;
  registry& operator=(registry&& other) noexcept {
    if (this != &other) {
      clear();
      items_ = std::move(other.items_);
    }
    return *this;
  }
  registry(const registry&) = delete;
  registry& operator=(const registry&) = delete;
  ~registry() { clear(); }

  /// A stream owned by this registry (throws as stream's constructor does).
  sigkit::stream& stream(signal_set signals, stream_options options = {}) {
    return add<sigkit::stream>(signals, options);
  }
  /// A flag owned by this registry (throws as flag's constructor does).
  sigkit::flag& flag(signal_set signals) { return add<sigkit::flag>(signals); }
  /// Ignores `s` until the registry dies.
  void ignore(catchable_signal s) { add<scoped_action>(sigkit::ignore(s)); }
  /// Sets `s` to SIG_DFL until the registry dies.
  void use_default(catchable_signal s) { add<scoped_action>(sigkit::use_default(s)); }
  /// Installs `action` for `s` until the registry dies.
  void action(catchable_signal s, const struct sigaction& act) { add<scoped_action>(s, act); }

  /// How many things the registry holds.
  std::size_t size() const noexcept { return items_.size(); }

  /// Releases everything now, newest first.
  void clear() noexcept {
    while (!items_.empty()) items_.pop_back();
  }

 private:
  struct item {
    virtual ~item() = default;
  };
  template <class T>
  struct holder final : item {
    template <class... A>
    explicit holder(A&&... a) : value(std::forward<A>(a)...) {}
    T value;
  };
  template <class T, class... A>
  T& add(A&&... a) {
    items_.reserve(items_.size() + 1);  // so that push_back cannot throw after construction
    auto h = std::make_unique<holder<T>>(std::forward<A>(a)...);
    T& ref = h->value;
    items_.push_back(std::move(h));
    return ref;
  }

  std::vector<std::unique_ptr<item>> items_;
};

}  // namespace v1
}  // namespace sigkit
