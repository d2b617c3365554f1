// sigkit/signal.hpp - the signal value type, names <-> numbers, properties,
// and signal_set.
//
// Nothing here touches process state; everything is a value.
#pragma once

#include <signal.h>

#include <array>
#include <compare>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "detail/platform.hpp"

namespace sigkit {
inline namespace v1 {

namespace detail {

/// One past the largest signal number this platform has (NSIG).
inline constexpr int signal_limit = NSIG;

/// The first real-time signal the kernel has (glibc reserves a few of them
/// for itself, so SIGRTMIN may be larger). Signals in [kernel_rtmin,
/// SIGRTMIN) exist but cannot be handled through the C library.
inline constexpr int kernel_rtmin = SIGKIT_KERNEL_RTMIN;

inline int rtmin() noexcept {
#if defined(SIGRTMIN)
  return SIGRTMIN;
#else
  return signal_limit;
#endif
}
inline int rtmax() noexcept {
#if defined(SIGRTMAX)
  return SIGRTMAX;
#else
  return signal_limit - 1;
#endif
}

// Called only from the consteval constructors of signal and
// catchable_signal, when their argument is wrong. Not constexpr (and never
// defined), so compilation stops at the call, and the compiler's message
// names the function, which says what is wrong.
void not_a_signal_number_it_must_be_1_to_NSIG_minus_1();
void SIGKILL_and_SIGSTOP_cannot_be_caught_blocked_or_ignored();

constexpr char ascii_upper(char c) noexcept { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

constexpr bool iequal(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_upper(a[i]) != ascii_upper(b[i])) return false;
  return true;
}

/// Parses a non-empty run of decimal digits with no sign and no leading zero
/// (other than "0" itself). Returns -1 on anything else or above 9999.
constexpr int parse_small_uint(std::string_view s) noexcept {
  if (s.empty() || s.size() > 4) return -1;
  if (s.size() > 1 && s[0] == '0') return -1;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

/// A fixed-capacity, NUL-terminated name such as "SIGRTMIN+12" or "SIG32".
struct name_buf {
  std::array<char, 16> text{};
  std::size_t size = 0;
  constexpr void append(std::string_view s) noexcept {
    for (char c : s) text[size++] = c;
  }
  constexpr void append_number(int v) noexcept {
    char digits[8]{};
    int n = 0;
    do {
      digits[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    while (n > 0) text[size++] = digits[--n];
  }
  constexpr std::string_view view() const noexcept { return {text.data(), size}; }
};

/// Names for signals that have no fixed name: "SIG<n>", "SIGRTMIN+<k>" and
/// "SIGRTMAX-<k>" for every k, computed at compile time so that name() can
/// return a string_view into static storage without allocating.
struct generated_names {
  std::array<name_buf, signal_limit> plain{};  // "SIG<n>"
  std::array<name_buf, signal_limit> rtmin{};  // "SIGRTMIN+<k>"
  std::array<name_buf, signal_limit> rtmax{};  // "SIGRTMAX-<k>"
  constexpr generated_names() noexcept {
    for (int n = 0; n < signal_limit; ++n) {
      auto i = static_cast<std::size_t>(n);
      plain[i].append("SIG");
      plain[i].append_number(n);
      rtmin[i].append("SIGRTMIN+");
      rtmin[i].append_number(n);
      rtmax[i].append("SIGRTMAX-");
      rtmax[i].append_number(n);
    }
  }
};
inline constexpr generated_names generated_signal_names{};

}  // namespace detail

/// A signal number as a strong, ordered, constexpr value type.
class signal {
 public:
  /// What the kernel does with a signal whose disposition is SIG_DFL.
  enum class action { terminate, core, stop, cont, ignore };

  /// Signal 0: not a valid signal (valid() is false). Exists so that
  /// aggregates holding a signal are default-constructible.
  constexpr signal() noexcept = default;

  /// A signal number known only at run time, taken as it is (valid() says
  /// whether it names a signal; whatever uses it checks). Explicit: write
  /// `sigkit::signal{n}`.
  constexpr explicit signal(int number) noexcept : number_(number) {}

  /// An int constant converts implicitly and is checked at compile time, so
  /// that `ignore(SIGPIPE)`, `stream s{{SIGINT, SIGTERM}}` and
  /// `child.send(SIGKILL)` read like the C API. A number outside 1..NSIG-1
  /// does not compile (the error names
  /// not_a_signal_number_it_must_be_1_to_NSIG_minus_1). A run-time int does
  /// not convert (the compiler says it "is not a constant expression"):
  /// write `sigkit::signal{n}`. SIGRTMIN is a function call in glibc, not a
  /// constant: write `sigkit::realtime(k)` for SIGRTMIN+k (checked), or
  /// `sigkit::signal{SIGRTMIN + k}`.
  template <class Int>
  requires std::same_as<Int, int>
  consteval signal(Int number) : number_(number) {  // NOLINT(google-explicit-constructor): on purpose
    if (number < 1 || number >= detail::signal_limit) detail::not_a_signal_number_it_must_be_1_to_NSIG_minus_1();
  }

  /// The signal number (SIGINT is 2 on Linux).
  constexpr int number() const noexcept { return number_; }

  /// The canonical name: "SIGINT", "SIGRTMIN+3", "SIGRTMAX-2", "SIG32";
  /// "SIG<n>" for numbers out of range. Never allocates.
  std::string_view name() const noexcept;

  /// Parses "INT", "SIGINT", "sigint", "2", "RTMIN+1", "SIGRTMAX-2",
  /// "SIGRTMIN", aliases ("SIGIOT", "SIGPOLL", "SIGCLD"), and "SIG<n>".
  /// Strict: no surrounding white space, no trailing characters, no sign or
  /// leading zero on numbers; numbers and offsets must name a valid signal.
  static std::optional<signal> parse(std::string_view text) noexcept;

  /// parse(), throwing std::invalid_argument naming the text on failure.
  static signal from_name(std::string_view text);

  /// True for 1..NSIG-1.
  constexpr bool valid() const noexcept { return number_ >= 1 && number_ < detail::signal_limit; }

  /// True if a handler can be installed: valid, not SIGKILL or SIGSTOP, and
  /// not one of the real-time signals the C library reserves for itself.
  bool catchable() const noexcept {
    if (!valid() || number_ == SIGKILL || number_ == SIGSTOP) return false;
    return !(number_ >= detail::kernel_rtmin && number_ < detail::rtmin());
  }

  /// True for signals the kernel raises in the thread that caused a fault
  /// (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS). They cannot be
  /// streamed: the faulting instruction would re-run before any consumer.
  constexpr bool synchronous() const noexcept {
    return number_ == SIGSEGV || number_ == SIGBUS || number_ == SIGILL || number_ == SIGFPE || number_ == SIGTRAP ||
           number_ == SIGSYS;
  }

  /// True for SIGRTMIN..SIGRTMAX (the real-time signals the program may use).
  bool realtime() const noexcept { return number_ >= detail::rtmin() && number_ <= detail::rtmax(); }

  /// What SIG_DFL does with this signal (terminate for unknown numbers).
  action default_action() const noexcept;

  /// A human description, as strsignal() words it: "Interrupt".
  std::string_view description() const noexcept;

  friend constexpr bool operator==(signal, signal) noexcept = default;
  friend constexpr auto operator<=>(signal, signal) noexcept = default;
  /// Comparing with a signal number is harmless, and what <signal.h> code
  /// writes: `e.signal == SIGINT`, `e.signal >= SIGRTMIN`.
  friend constexpr bool operator==(signal s, int number) noexcept { return s.number_ == number; }
  friend constexpr std::strong_ordering operator<=>(signal s, int number) noexcept { return s.number_ <=> number; }

 private:
  int number_ = 0;
};

/// Named constants for the signals most programs care about.
inline constexpr signal interrupt{SIGINT};
inline constexpr signal terminate{SIGTERM};
inline constexpr signal hangup{SIGHUP};
inline constexpr signal quit{SIGQUIT};
inline constexpr signal user1{SIGUSR1};
inline constexpr signal user2{SIGUSR2};
inline constexpr signal child{SIGCHLD};
inline constexpr signal pipe{SIGPIPE};
inline constexpr signal alarm{SIGALRM};
inline constexpr signal terminal_stop{SIGTSTP};
inline constexpr signal cont{SIGCONT};
inline constexpr signal window_change{SIGWINCH};

namespace detail {

struct signal_info {
  int number;
  std::string_view name;  // canonical, "SIGINT"
  std::string_view description;
  signal::action action;
};

using sa = signal::action;
// Ordered by number on Linux; lookups scan it (it is small).
inline constexpr signal_info signal_table[] = {
    {SIGHUP, "SIGHUP", "Hangup", sa::terminate},
    {SIGINT, "SIGINT", "Interrupt", sa::terminate},
    {SIGQUIT, "SIGQUIT", "Quit", sa::core},
    {SIGILL, "SIGILL", "Illegal instruction", sa::core},
    {SIGTRAP, "SIGTRAP", "Trace/breakpoint trap", sa::core},
    {SIGABRT, "SIGABRT", "Aborted", sa::core},
    {SIGBUS, "SIGBUS", "Bus error", sa::core},
    {SIGFPE, "SIGFPE", "Floating point exception", sa::core},
    {SIGKILL, "SIGKILL", "Killed", sa::terminate},
    {SIGUSR1, "SIGUSR1", "User defined signal 1", sa::terminate},
    {SIGSEGV, "SIGSEGV", "Segmentation fault", sa::core},
    {SIGUSR2, "SIGUSR2", "User defined signal 2", sa::terminate},
    {SIGPIPE, "SIGPIPE", "Broken pipe", sa::terminate},
    {SIGALRM, "SIGALRM", "Alarm clock", sa::terminate},
    {SIGTERM, "SIGTERM", "Terminated", sa::terminate},
#if defined(SIGSTKFLT)
    {SIGSTKFLT, "SIGSTKFLT", "Stack fault", sa::terminate},
#endif
    {SIGCHLD, "SIGCHLD", "Child exited", sa::ignore},
    {SIGCONT, "SIGCONT", "Continued", sa::cont},
    {SIGSTOP, "SIGSTOP", "Stopped (signal)", sa::stop},
    {SIGTSTP, "SIGTSTP", "Stopped", sa::stop},
    {SIGTTIN, "SIGTTIN", "Stopped (tty input)", sa::stop},
    {SIGTTOU, "SIGTTOU", "Stopped (tty output)", sa::stop},
    {SIGURG, "SIGURG", "Urgent I/O condition", sa::ignore},
    {SIGXCPU, "SIGXCPU", "CPU time limit exceeded", sa::core},
    {SIGXFSZ, "SIGXFSZ", "File size limit exceeded", sa::core},
    {SIGVTALRM, "SIGVTALRM", "Virtual timer expired", sa::terminate},
    {SIGPROF, "SIGPROF", "Profiling timer expired", sa::terminate},
    {SIGWINCH, "SIGWINCH", "Window changed", sa::ignore},
#if defined(SIGIO)
    {SIGIO, "SIGIO", "I/O possible", sa::terminate},
#endif
#if defined(SIGPWR)
    {SIGPWR, "SIGPWR", "Power failure", sa::terminate},
#endif
    {SIGSYS, "SIGSYS", "Bad system call", sa::core},
#if defined(SIGEMT)
    {SIGEMT, "SIGEMT", "EMT trap", sa::core},
#endif
#if defined(SIGINFO) && (!defined(SIGPWR) || SIGINFO != SIGPWR)
    {SIGINFO, "SIGINFO", "Information request", sa::ignore},
#endif
};

/// Other names accepted by parse() (never produced by name()).
struct signal_alias {
  std::string_view name;
  int number;
};
inline constexpr signal_alias signal_aliases[] = {
    {"IOT", SIGABRT},
#if defined(SIGPOLL)
    {"POLL", SIGPOLL},
#endif
#if defined(SIGCLD)
    {"CLD", SIGCLD},
#endif
};

inline const signal_info* find_info(int number) noexcept {
  for (const auto& e : signal_table)
    if (e.number == number) return &e;
  return nullptr;
}

}  // namespace detail

inline std::string_view signal::name() const noexcept {
  if (const auto* info = detail::find_info(number_)) return info->name;
  const auto& gen = detail::generated_signal_names;
  if (realtime()) {
    const int lo = detail::rtmin(), hi = detail::rtmax();
    if (number_ == lo) return "SIGRTMIN";
    if (number_ == hi) return "SIGRTMAX";
    if (number_ - lo <= (hi - lo) / 2) return gen.rtmin[static_cast<std::size_t>(number_ - lo)].view();
    return gen.rtmax[static_cast<std::size_t>(hi - number_)].view();
  }
  if (valid()) return gen.plain[static_cast<std::size_t>(number_)].view();
  return number_ == 0 ? std::string_view("SIG0") : std::string_view("SIG?");
}

inline std::optional<signal> signal::parse(std::string_view text) noexcept {
  auto checked = [](int n) -> std::optional<signal> {
    if (n >= 1 && n < detail::signal_limit) return signal{n};
    return std::nullopt;
  };
  if (text.empty()) return std::nullopt;
  if (text[0] >= '0' && text[0] <= '9') return checked(detail::parse_small_uint(text));

  std::string_view rest = text;
  if (rest.size() >= 3 && detail::iequal(rest.substr(0, 3), "SIG")) rest.remove_prefix(3);
  if (rest.empty()) return std::nullopt;
  if (rest[0] >= '0' && rest[0] <= '9') return checked(detail::parse_small_uint(rest));  // "SIG32"

  for (const auto& e : detail::signal_table)
    if (detail::iequal(rest, e.name.substr(3))) return signal{e.number};
  for (const auto& a : detail::signal_aliases)
    if (detail::iequal(rest, a.name)) return signal{a.number};

#if defined(SIGRTMIN)
  // RTMIN, RTMIN+k, RTMAX, RTMAX-k.
  if (rest.size() >= 5) {
    const bool is_min = detail::iequal(rest.substr(0, 5), "RTMIN");
    const bool is_max = detail::iequal(rest.substr(0, 5), "RTMAX");
    if (is_min || is_max) {
      std::string_view off = rest.substr(5);
      int k = 0;
      if (!off.empty()) {
        if (off[0] != (is_min ? '+' : '-')) return std::nullopt;
        k = detail::parse_small_uint(off.substr(1));
        if (k < 0) return std::nullopt;
      }
      const int lo = detail::rtmin(), hi = detail::rtmax();
      const int n = is_min ? lo + k : hi - k;
      if (n < lo || n > hi) return std::nullopt;
      return signal{n};
    }
  }
#endif
  return std::nullopt;
}

inline signal signal::from_name(std::string_view text) {
  if (auto s = parse(text)) return *s;
  throw std::invalid_argument("sigkit: \"" + std::string(text) +
                              R"(" is not a signal name or number (try "INT", "SIGTERM", "15" or "RTMIN+1"))");
}

inline signal::action signal::default_action() const noexcept {
  if (const auto* info = detail::find_info(number_)) return info->action;
  return action::terminate;  // real-time and unnamed signals terminate
}

inline std::string_view signal::description() const noexcept {
  if (const auto* info = detail::find_info(number_)) return info->description;
  if (realtime()) return "Real-time signal";
  if (valid()) return "Real-time signal reserved by the C library";
  return "Invalid signal";
}

/// A set of signals: iterable in ascending order, convertible to and from
/// sigset_t, with set algebra. Holds only valid signals.
class signal_set {
  static constexpr std::size_t word_bits = 64;
  static constexpr std::size_t word_count =
      (static_cast<std::size_t>(detail::signal_limit) + word_bits - 1) / word_bits;
  using words = std::array<std::uint64_t, word_count>;

 public:
  /// Iterates the signals of a set in ascending order.
  class iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = signal;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = signal;

    constexpr iterator() noexcept = default;
    constexpr signal operator*() const noexcept { return signal{n_}; }
    constexpr iterator& operator++() noexcept {
      n_ = set_->next_from(n_ + 1);
      return *this;
    }
    constexpr iterator operator++(int) noexcept {
      auto old = *this;
      ++*this;
      return old;
    }
    friend constexpr bool operator==(const iterator& a, const iterator& b) noexcept { return a.n_ == b.n_; }

   private:
    friend class signal_set;
    constexpr iterator(const signal_set* s, int n) noexcept : set_(s), n_(n) {}
    const signal_set* set_ = nullptr;
    int n_ = detail::signal_limit;
  };
  using const_iterator = iterator;
  using value_type = signal;
  using size_type = std::size_t;

  constexpr signal_set() noexcept = default;

  /// Throws std::invalid_argument if any signal is invalid (out of 1..NSIG-1).
  constexpr signal_set(std::initializer_list<signal> signals) {
    for (signal s : signals) insert(s);
  }

  /// The valid signals that are members of `set`.
  explicit signal_set(const sigset_t& set) noexcept {
    for (int n = 1; n < detail::signal_limit; ++n)
      if (sigismember(&set, n) == 1) bits_[index(n)] |= bit(n);
  }

  /// Every valid signal, 1..NSIG-1.
  static constexpr signal_set full() noexcept {
    signal_set s;
    for (int n = 1; n < detail::signal_limit; ++n) s.bits_[index(n)] |= bit(n);
    return s;
  }

  /// The sigset_t with exactly these signals, except that glibc's sigaddset
  /// refuses the real-time signals it reserves for itself (32 and 33 on
  /// Linux): they are left out, so `signal_set(s.to_sigset()) == s` holds for
  /// every set of catchable() signals but not for one that holds those two.
  sigset_t to_sigset() const noexcept {
    sigset_t out;
    sigemptyset(&out);
    for (signal s : *this) sigaddset(&out, s.number());
    return out;
  }

  /// Adds `s`; returns true if it was not there. Throws
  /// std::invalid_argument for an invalid signal.
  constexpr bool insert(signal s) {
    if (!s.valid())
      throw std::invalid_argument("sigkit: signal " + std::to_string(s.number()) +
                                  " is not a valid signal number (1.." + std::to_string(detail::signal_limit - 1) +
                                  ")");
    const bool had = contains(s);
    bits_[index(s.number())] |= bit(s.number());
    return !had;
  }
  /// Removes `s`; returns true if it was there.
  constexpr bool erase(signal s) noexcept {
    if (!contains(s)) return false;
    bits_[index(s.number())] &= ~bit(s.number());
    return true;
  }
  constexpr bool contains(signal s) const noexcept {
    return s.valid() && (bits_[index(s.number())] & bit(s.number())) != 0;
  }
  constexpr bool empty() const noexcept {
    for (auto w : bits_)
      if (w != 0) return false;
    return true;
  }
  constexpr std::size_t size() const noexcept {
    std::size_t n = 0;
    for (auto w : bits_)
      for (; w != 0; w &= w - 1) ++n;
    return n;
  }
  constexpr void clear() noexcept { bits_ = {}; }

  constexpr iterator begin() const noexcept { return iterator(this, next_from(1)); }
  constexpr iterator end() const noexcept { return iterator(this, detail::signal_limit); }

  constexpr signal_set& operator|=(const signal_set& o) noexcept {
    for (std::size_t i = 0; i < word_count; ++i) bits_[i] |= o.bits_[i];
    return *this;
  }
  constexpr signal_set& operator&=(const signal_set& o) noexcept {
    for (std::size_t i = 0; i < word_count; ++i) bits_[i] &= o.bits_[i];
    return *this;
  }
  constexpr signal_set& operator-=(const signal_set& o) noexcept {
    for (std::size_t i = 0; i < word_count; ++i) bits_[i] &= ~o.bits_[i];
    return *this;
  }
  constexpr signal_set& operator^=(const signal_set& o) noexcept {
    for (std::size_t i = 0; i < word_count; ++i) bits_[i] ^= o.bits_[i];
    return *this;
  }
  /// Union, intersection, difference, symmetric difference.
  friend constexpr signal_set operator|(signal_set a, const signal_set& b) noexcept { return a |= b; }
  friend constexpr signal_set operator&(signal_set a, const signal_set& b) noexcept { return a &= b; }
  friend constexpr signal_set operator-(signal_set a, const signal_set& b) noexcept { return a -= b; }
  friend constexpr signal_set operator^(signal_set a, const signal_set& b) noexcept { return a ^= b; }
  /// Complement relative to full().
  friend constexpr signal_set operator~(const signal_set& a) noexcept { return full() - a; }
  friend constexpr bool operator==(const signal_set&, const signal_set&) noexcept = default;

  /// "{SIGINT, SIGTERM}".
  std::string to_string() const {
    std::string out = "{";
    for (signal s : *this) {
      if (out.size() > 1) out += ", ";
      out += s.name();
    }
    return out + "}";
  }

 private:
  static constexpr std::size_t index(int n) noexcept { return static_cast<std::size_t>(n) / word_bits; }
  static constexpr std::uint64_t bit(int n) noexcept {
    return std::uint64_t{1} << (static_cast<std::size_t>(n) % word_bits);
  }
  constexpr int next_from(int n) const noexcept {
    for (; n < detail::signal_limit; ++n)
      if ((bits_[index(n)] & bit(n)) != 0) return n;
    return detail::signal_limit;
  }
  words bits_{};
};

/// SIGRTMIN + offset. Throws std::invalid_argument if that is past SIGRTMAX
/// or offset is negative. (SIGRTMIN is not a constant in glibc, so
/// `sigkit::signal` cannot take SIGRTMIN + k implicitly: this is the
/// checked way to name one.)
inline signal realtime(int offset) {
  const int lo = detail::rtmin(), hi = detail::rtmax();
  if (offset < 0 || offset > hi - lo)
    throw std::invalid_argument("sigkit: realtime(" + std::to_string(offset) + ") is out of range: offsets run 0.." +
                                std::to_string(hi - lo) + " (SIGRTMIN..SIGRTMAX)");
  return signal{lo + offset};
}

/// How ignore(), use_default(), scoped_action and registry take the
/// signal whose disposition they set: a sigkit::signal (checked when used:
/// std::invalid_argument for SIGKILL, SIGSTOP, invalid or reserved
/// signals), or an int constant checked at compile time, so that
/// `ignore(SIGKILL)` and `ignore(0)` do not compile (the error names
/// SIGKILL_and_SIGSTOP_cannot_be_caught_blocked_or_ignored or
/// not_a_signal_number_it_must_be_1_to_NSIG_minus_1).
class catchable_signal {
 public:
  constexpr catchable_signal(signal s) noexcept : signal_(s) {}  // NOLINT(google-explicit-constructor)
  template <class Int>
  requires std::same_as<Int, int>
  consteval catchable_signal(Int number) : signal_(number) {  // NOLINT(google-explicit-constructor)
    if (number < 1 || number >= detail::signal_limit) detail::not_a_signal_number_it_must_be_1_to_NSIG_minus_1();
    if (number == SIGKILL || number == SIGSTOP) detail::SIGKILL_and_SIGSTOP_cannot_be_caught_blocked_or_ignored();
  }
  constexpr operator signal() const noexcept { return signal_; }  // NOLINT(google-explicit-constructor)

 private:
  signal signal_;
};

/// What a forwarder forwards by default: every catchable signal, real-time
/// ones included, except SIGCHLD and the synchronous ones (SIGSEGV, SIGBUS,
/// SIGILL, SIGFPE, SIGTRAP, SIGSYS). SIGIO (SIGPOLL) is included: a process
/// may send it with kill(), and its default action would kill the
/// forwarder; one the kernel raises for the forwarder's own descriptor
/// (O_ASYNC) is not forwarded.
inline signal_set all_forwardable() {
  signal_set out;
  for (int n = 1; n < detail::signal_limit; ++n) {
    const signal s{n};
    if (!s.catchable() || s.synchronous() || n == SIGCHLD) continue;
    out.insert(s);
  }
  return out;
}

}  // namespace v1
}  // namespace sigkit
