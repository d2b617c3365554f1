// tools/common/duration.hpp - the duration syntax every sigkit tool accepts
// on its command line ("10s", "500ms", "2m", "1.5" for seconds), parsed
// once for all of them.
//
// Boundaries: zero is zero (each tool says what zero means for its option);
// a positive value too small for a nanosecond is one nanosecond, never zero;
// a value past what nanoseconds can count (2^63 ns, about 292 years), "inf"
// included, is nanoseconds::max(), which sigkit takes as "never"; others are
// rounded to the nearest nanosecond. Negative values,
// "nan", an empty text and unknown units are refused.
#pragma once

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace sigkit_tools {

/// `text` as a duration; nullopt with `why` set (a sentence naming `text`)
/// if it is not one.
inline std::optional<std::chrono::nanoseconds> parse_duration(std::string_view text, std::string& why) {
  double value = 0;
  const char* const end = text.data() + text.size();
  const auto [rest, ec] = std::from_chars(text.data(), end, value);
  if (ec == std::errc::result_out_of_range) {
    // Too large (+-HUGE_VAL) or too small (0 or a subnormal) for a double;
    // from_chars does not say which, strtod does. The tools keep the "C"
    // locale, so strtod reads the same syntax.
    value = std::strtod(std::string(text.substr(0, static_cast<std::size_t>(rest - text.data()))).c_str(), nullptr);
    if (value == 0)
      value = text.front() == '-' ? -std::numeric_limits<double>::denorm_min()  // still negative
                                  : std::numeric_limits<double>::denorm_min();  // still positive
  }
  if ((ec != std::errc() && ec != std::errc::result_out_of_range) || !(value >= 0)) {  // !(>= 0): NaN too
    why = "bad duration '" + std::string(text) + "' (try 10s, 500ms or 2m)";
    return std::nullopt;
  }
  const std::string_view unit(rest, static_cast<std::size_t>(end - rest));
  double seconds = value;
  if (unit == "ms") {
    seconds = value / 1000;
  } else if (unit == "m") {
    seconds = value * 60;
  } else if (unit != "s" && !unit.empty()) {
    why = "bad duration unit '" + std::string(unit) + "' in '" + std::string(text) + "' (use ms, s or m)";
    return std::nullopt;
  }
  // From 2^63 ns on (about 9.22e9 s), converting would overflow. 2^63 is
  // exact in a double; the next double below it converts exactly.
  const double nanoseconds = seconds * 1e9;
  if (!(nanoseconds < 0x1p63)) return std::chrono::nanoseconds::max();
  // Rounded, not truncated: 1.001 s is 1 001 000 000 ns, although its double
  // times 1e9 lies just below that.
  const auto ns = std::chrono::nanoseconds(std::llround(nanoseconds));
  if (ns.count() == 0 && value > 0) return std::chrono::nanoseconds(1);
  return ns;
}

}  // namespace sigkit_tools
