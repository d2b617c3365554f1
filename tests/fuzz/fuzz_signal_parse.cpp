// libFuzzer target for sigkit::signal::parse (issue 7, item 5).
// Properties checked on every input:
//   * parse never crashes or reads out of bounds (ASan, UBSan);
//   * a parsed signal is valid, and parse(name()) gives it back (round trip);
//   * parse is case-insensitive: the upper-cased text parses the same;
//   * from_name agrees with parse (throws std::invalid_argument iff nullopt);
//   * the first bytes as an int: name()/description() of any number are
//     non-empty, and valid numbers round-trip through name() and decimal.
#include <sigkit/signal.hpp>

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>

namespace {
[[noreturn]] void fail() { __builtin_trap(); }
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto parsed = sigkit::signal::parse(text);
  if (parsed) {
    if (!parsed->valid()) fail();
    const auto back = sigkit::signal::parse(parsed->name());
    if (!back || *back != *parsed) fail();
    if (sigkit::signal::from_name(text) != *parsed) fail();
  } else {
    bool threw = false;
    try {
      (void)sigkit::signal::from_name(text);
    } catch (const std::invalid_argument&) {
      threw = true;
    }
    if (!threw) fail();
  }
  std::string upper(text);
  for (char& c : upper)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  if (sigkit::signal::parse(upper) != parsed) fail();

  if (size >= sizeof(int)) {
    int n;
    std::memcpy(&n, data, sizeof n);
    const sigkit::signal s{n};
    if (s.name().empty() || s.description().empty()) fail();
    (void)s.default_action();
    if (s.valid()) {
      if (sigkit::signal::parse(s.name()) != s) fail();
      if (sigkit::signal::parse(std::to_string(n)) != s) fail();
    } else {
      if (sigkit::signal::parse(std::to_string(n)).has_value()) fail();
      sigkit::signal_set set;
      bool threw = false;
      try {
        set.insert(s);
      } catch (const std::invalid_argument&) {
        threw = true;
      }
      if (!threw || !set.empty()) fail();
    }
  }
  return 0;
}
