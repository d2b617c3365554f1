// libFuzzer target for sigkit::parse_status, the /proc/PID/status parser
// (issue 7, item 5). Properties checked on every input:
//   * parse_status never crashes or reads out of bounds (ASan, UBSan);
//   * an accepted text: every mask holds only valid signals (1..NSIG-1),
//     numbers are >= 0, signals() is the documented union, and
//     parse_status(render_status(result)) gives the same result back;
//   * a refused text: the error has a code, a line within the text (or 0
//     for a missing field), a field name for every field error, an offset
//     inside the text and a non-empty message;
//   * the throwing overload agrees (std::invalid_argument iff refused);
//   * detail::parse_mask on the raw input: accepted masks hold only valid
//     signals and round-trip through detail::render_mask.
#include <sigkit/inspect.hpp>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace {
[[noreturn]] void fail() { __builtin_trap(); }

bool only_valid(const sigkit::signal_set& set) {
  return std::all_of(set.begin(), set.end(), [](sigkit::signal s) { return s.valid(); });
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  sigkit::status_error error;
  const auto status = sigkit::parse_status(text, error);
  if (status) {
    if (error) fail();
    for (const auto* set :
         {&status->thread_pending, &status->shared_pending, &status->blocked, &status->ignored, &status->caught})
      if (!only_valid(*set)) fail();
    if (status->pid < 0 || status->tgid < 0 || status->ppid < 0 || status->threads < 0) fail();
    const auto signals = status->signals();
    if (signals.pending != (status->thread_pending | status->shared_pending) || signals.blocked != status->blocked ||
        signals.ignored != status->ignored || signals.caught != status->caught)
      fail();
    const std::string rendered = sigkit::render_status(*status);
    sigkit::status_error again_error;
    const auto again = sigkit::parse_status(rendered, again_error);
    if (!again || !(*again == *status)) fail();
  } else {
    if (!error) fail();
    const auto lines = static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
    if (error.line > lines) fail();
    if (error.code == sigkit::status_errc::missing_field ? error.line != 0 : error.line == 0) fail();
    if (error.code != sigkit::status_errc::bad_line && error.field.empty()) fail();
    if (error.offset > size || error.length > size - error.offset) fail();
    if (error.message().empty() || error.message(text).empty()) fail();
  }
  bool threw = false;
  try {
    (void)sigkit::parse_status(text);
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  if (threw == status.has_value()) fail();

  if (size <= 2 * sigkit::detail::mask_digits) {
    sigkit::signal_set mask;
    int bad = 0;
    if (sigkit::detail::parse_mask(text, mask, bad) == sigkit::status_errc::ok) {
      if (!only_valid(mask)) fail();
      sigkit::signal_set back;
      if (sigkit::detail::parse_mask(sigkit::detail::render_mask(mask), back, bad) != sigkit::status_errc::ok ||
          back != mask)
        fail();
    }
  }
  return 0;
}
