// sigkit/inspect.hpp - what a process does with signals, as the kernel
// reports it: /proc/PID/status and /proc/PID/task/TID/status decoded. This
// is sigkit's one /proc reader: the forwarder, run(), the tools, the tests
// and the benchmarks all read process state (state letter, parent,
// children, queued signals, masks) through it.
//
// Two layers:
//  - parse_status(): a pure, total parser of the status text (no system
//    call; the only allocation is the process name). Any input gives either
//    a proc_status or a status_error saying which line and field is wrong.
//  - inspect(), inspect_status(), inspect_threads(), inspect_children():
//    read the files of live processes (SIGKIT_HAVE_PROC: Linux). Elsewhere
//    they fail with ENOTSUP.
//
// What the kernel shows (fs/proc/array.c): SigPnd is pending for one thread
// only, ShdPnd for the whole process; SigBlk is one thread's mask; SigIgn
// and SigCgt are process-wide. In /proc/PID/status "one thread" is the
// process's main thread (the thread-group leader); in
// /proc/PID/task/TID/status it is thread TID. Every mask is hexadecimal
// with bit n-1 standing for signal n.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstddef>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "detail/platform.hpp"
#include "error.hpp"
#include "signal.hpp"

namespace sigkit {
inline namespace v1 {

/// The signal state of a process, decoded from /proc/PID/status.
struct process_signals {
  /// SigPnd ∪ ShdPnd: signals pending for the process as a whole (sent with
  /// kill()) or for its main thread (raise()/tgkill() there). A signal
  /// pending for another thread only shows in inspect_threads().
  signal_set pending;
  /// SigBlk: the signals the process's main thread blocks (each thread has
  /// its own mask: see inspect_threads()).
  signal_set blocked;
  /// SigIgn: the signals whose disposition is SIG_IGN (process-wide).
  signal_set ignored;
  /// SigCgt: the signals with a handler installed (process-wide).
  signal_set caught;

  friend bool operator==(const process_signals&, const process_signals&) = default;
};

/// The fields of a /proc/PID/status (or /proc/PID/task/TID/status) text that
/// sigkit decodes. Other fields are skipped.
struct proc_status {
  /// Name: the command name, exactly as the kernel writes it (it escapes a
  /// newline as "\n" and a backslash as "\\"; nothing is unescaped here).
  std::string name;
  /// State: the scheduler state letter: 'R' running, 'S' sleeping, 'D'
  /// disk sleep, 'T' stopped, 't' tracing stop, 'Z' zombie, 'X' dead, 'I'
  /// idle, 'P' parked. Optional in the text: 0 if it has no State line.
  char state = 0;
  /// Tgid: the process id (thread-group id).
  pid_t tgid = 0;
  /// Pid: the thread id; equal to tgid for a process's main thread.
  pid_t pid = 0;
  /// PPid: the parent's process id (0 for the first process and for
  /// kernel threads started by the kernel itself).
  pid_t ppid = 0;
  /// Threads: how many threads the process has (0 for a process that has
  /// exited but has not been reaped yet).
  int threads = 0;
  /// SigQ, first number: the signals queued for the process's real user id
  /// (every process of that user counts), against queued_limit.
  /// Optional in the text: 0 if it has no SigQ line.
  int queued = 0;
  /// SigQ, second number: that user's limit (RLIMIT_SIGPENDING); 0 if the
  /// text has no SigQ line.
  int queued_limit = 0;
  /// SigPnd: pending for this thread only (raise(), tgkill(), faults).
  signal_set thread_pending;
  /// ShdPnd: pending for the process as a whole (kill(), sigqueue()).
  signal_set shared_pending;
  /// SigBlk: blocked by this thread.
  signal_set blocked;
  /// SigIgn: ignored (SIG_IGN), process-wide.
  signal_set ignored;
  /// SigCgt: caught by a handler, process-wide.
  signal_set caught;

  /// The process view: pending = thread_pending ∪ shared_pending.
  process_signals signals() const { return {thread_pending | shared_pending, blocked, ignored, caught}; }

  friend bool operator==(const proc_status&, const proc_status&) = default;
};

/// Why parse_status() refused a text.
enum class status_errc {
  ok = 0,               ///< no error
  bad_line,             ///< a non-empty line without "Key:" at its start
  duplicate_field,      ///< a decoded field appears twice
  missing_field,        ///< a decoded field does not appear
  empty_value,          ///< a number or mask field has nothing after the ':'
  not_a_number,         ///< not decimal digits (no sign, no leading zero)
  number_too_large,     ///< a number above INT_MAX
  not_hex,              ///< a mask with a character that is not a hex digit
  mask_too_long,        ///< a mask with more hex digits than signals need
  signal_out_of_range,  ///< a mask bit for a signal number >= NSIG
  out_of_memory,        ///< the name could not be stored
  bad_state,            ///< State is not a letter and an optional "(name)"
  bad_queue,            ///< SigQ is not "queued/limit" in decimal
};

/// Where and why parse_status() refused a text.
struct status_error {
  /// What is wrong; status_errc::ok if nothing is.
  status_errc code = status_errc::ok;
  /// The 1-based line it is on (0 for missing_field).
  std::size_t line = 0;
  /// The field concerned ("SigBlk"), or empty for bad_line. Points to
  /// static storage.
  std::string_view field;
  /// Byte offset and length of the offending text (the line for bad_line,
  /// the value otherwise) in the parsed text.
  std::size_t offset = 0;
  /// See offset.
  std::size_t length = 0;
  /// For signal_out_of_range: the signal number the mask names.
  int signal_number = 0;

  /// True if there is an error.
  explicit operator bool() const noexcept { return code != status_errc::ok; }

  /// "line 41 (SigBlk): not a hexadecimal signal mask". Given the parsed `text`,
  /// the offending text is quoted too (at most 40 bytes of it).
  std::string message(std::string_view text = {}) const;
};

namespace detail {

/// The fields parse_status() decodes, in the order the kernel prints them.
enum status_field : std::size_t {
  f_name,
  f_state,
  f_tgid,
  f_pid,
  f_ppid,
  f_threads,
  f_sigq,
  f_sigpnd,
  f_shdpnd,
  f_sigblk,
  f_sigign,
  f_sigcgt,
  status_field_count
};
inline constexpr std::array<std::string_view, status_field_count> status_field_names = {
    "Name", "State", "Tgid", "Pid", "PPid", "Threads", "SigQ", "SigPnd", "ShdPnd", "SigBlk", "SigIgn", "SigCgt"};

/// Fields that may be missing (decoded when there): hand-written and older
/// texts have no State or SigQ.
constexpr bool optional_field(std::size_t id) noexcept { return id == f_state || id == f_sigq; }

/// The kernel's name for each state letter (fs/proc/array.c); "" for one it
/// does not use.
constexpr std::string_view state_name(char state) noexcept {
  switch (state) {
    case 'R':
      return "running";
    case 'S':
      return "sleeping";
    case 'D':
      return "disk sleep";
    case 'T':
      return "stopped";
    case 't':
      return "tracing stop";
    case 'X':
      return "dead";
    case 'Z':
      return "zombie";
    case 'P':
      return "parked";
    case 'I':
      return "idle";
    default:
      return "";
  }
}

/// Hex digits in a kernel signal mask: one per 4 signals (16 on Linux with
/// 64 signals). Shorter masks are accepted, longer ones are not.
inline constexpr std::size_t mask_digits = (static_cast<std::size_t>(signal_limit) - 1 + 3) / 4;

/// The value of one hex digit, or -1.
constexpr int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// Decodes a kernel signal mask: 1..mask_digits hex digits (either case,
/// leading zeros allowed, nothing else), bit n-1 standing for signal n.
/// On failure `out` is unspecified and `bad_signal` names the signal of a
/// bit past the last signal (signal_out_of_range).
constexpr status_errc parse_mask(std::string_view hex, signal_set& out, int& bad_signal) noexcept {
  out.clear();
  if (hex.empty()) return status_errc::empty_value;
  for (char c : hex)
    if (hex_value(c) < 0) return status_errc::not_hex;
  if (hex.size() > mask_digits) return status_errc::mask_too_long;
  // Bit n-1 of the mask is bit (n-1)%4 of the ((n-1)/4)-th digit from the right.
  auto bit_of = [&](int n) {
    const auto i = static_cast<std::size_t>(n - 1);
    return i / 4 < hex.size() && (hex_value(hex[hex.size() - 1 - i / 4]) & (1 << (i % 4))) != 0;
  };
  for (int n = signal_limit; n <= static_cast<int>(4 * hex.size()); ++n) {
    if (bit_of(n)) {
      bad_signal = n;
      return status_errc::signal_out_of_range;
    }
  }
  out = signal_set::full();  // then take out what is not there: erase() cannot throw, insert() could
  for (int n = 1; n < signal_limit; ++n)
    if (!bit_of(n)) out.erase(signal{n});
  return status_errc::ok;
}

/// Encodes a set the way the kernel does: mask_digits lower-case hex digits.
inline std::string render_mask(const signal_set& set) {
  std::string out(mask_digits, '0');
  for (signal s : set) {
    const auto bit = static_cast<std::size_t>(s.number() - 1);
    char& digit = out[mask_digits - 1 - bit / 4];
    const int v = hex_value(digit) | (1 << (bit % 4));
    digit = "0123456789abcdef"[v];
  }
  return out;
}

/// Decodes a non-negative decimal int: digits only, no sign, no leading
/// zero (but "0"), at most INT_MAX.
constexpr status_errc parse_decimal(std::string_view text, int& out) noexcept {
  if (text.empty()) return status_errc::empty_value;
  for (char c : text)
    if (c < '0' || c > '9') return status_errc::not_a_number;
  if (text.size() > 1 && text[0] == '0') return status_errc::not_a_number;
  long long v = 0;
  for (char c : text) {
    v = v * 10 + (c - '0');
    if (v > INT_MAX) return status_errc::number_too_large;
  }
  out = static_cast<int>(v);
  return status_errc::ok;
}

/// Decodes a State value: one ASCII letter, then nothing or " (name)" with
/// no parenthesis or control character inside.
constexpr status_errc parse_state(std::string_view text, char& out) noexcept {
  if (text.empty()) return status_errc::empty_value;
  const char c = text[0];
  if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) return status_errc::bad_state;
  const std::string_view rest = text.substr(1);
  if (!rest.empty()) {
    if (rest.size() < 3 || rest.substr(0, 2) != " (" || rest.back() != ')') return status_errc::bad_state;
    for (const char n : rest.substr(2, rest.size() - 3))
      if (n == '(' || n == ')' || static_cast<unsigned char>(n) < 0x20 || n == 0x7f) return status_errc::bad_state;
  }
  out = c;
  return status_errc::ok;
}

/// Decodes a SigQ value: "queued/limit", two decimal numbers.
constexpr status_errc parse_queue(std::string_view text, int& queued, int& limit) noexcept {
  if (text.empty()) return status_errc::empty_value;
  const std::size_t slash = text.find('/');
  if (slash == std::string_view::npos) return status_errc::bad_queue;
  int q = 0, l = 0;
  if (parse_decimal(text.substr(0, slash), q) != status_errc::ok ||
      parse_decimal(text.substr(slash + 1), l) != status_errc::ok)
    return status_errc::bad_queue;
  queued = q;
  limit = l;
  return status_errc::ok;
}

/// True for the blanks allowed around a number or mask: space, tab and the
/// carriage return of a "\r\n" line end.
constexpr bool is_blank(char c) noexcept { return c == ' ' || c == '\t' || c == '\r'; }

/// `s` without leading and trailing blanks.
constexpr std::string_view trim_blanks(std::string_view s) noexcept {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace detail

inline std::string status_error::message(std::string_view text) const {
  std::string out;
  if (line != 0) out = "line " + std::to_string(line);
  if (!field.empty()) out += line != 0 ? " (" + std::string(field) + ")" : std::string(field);
  out += out.empty() ? "" : ": ";
  switch (code) {
    case status_errc::ok:
      return "no error";
    case status_errc::bad_line:
      out += "not a \"Key: value\" line";
      break;
    case status_errc::duplicate_field:
      out += "appears twice";
      break;
    case status_errc::missing_field:
      out += "missing";
      break;
    case status_errc::empty_value:
      out += "no value";
      break;
    case status_errc::not_a_number:
      out += "not a decimal number";
      break;
    case status_errc::number_too_large:
      out += "number too large";
      break;
    case status_errc::not_hex:
      out += "not a hexadecimal signal mask";
      break;
    case status_errc::mask_too_long:
      out += "signal mask longer than " + std::to_string(detail::mask_digits) + " hex digits";
      break;
    case status_errc::signal_out_of_range:
      out += "signal mask names signal " + std::to_string(signal_number) + ", past the last one (" +
             std::to_string(detail::signal_limit - 1) + ")";
      break;
    case status_errc::out_of_memory:
      out += "out of memory";
      break;
    case status_errc::bad_state:
      out += "not a process state (a letter, then an optional \"(name)\")";
      break;
    case status_errc::bad_queue:
      out += "not \"queued/limit\" (two decimal numbers)";
      break;
  }
  if (!text.empty() && length != 0 && offset < text.size() && code != status_errc::missing_field) {
    const std::string_view bad = text.substr(offset, std::min<std::size_t>(length, 40));
    out += ": \"";
    for (char c : bad) out += (c >= 0x20 && c < 0x7f) ? c : '?';
    out += length > 40 ? "...\"" : "\"";
  }
  return out;
}

/// Decodes the text of a /proc/PID/status or /proc/PID/task/TID/status
/// file. Strict and total: every field listed in proc_status must appear
/// exactly once but State and SigQ, which may be missing (others are
/// skipped), numbers are plain decimal, masks are
/// 1..16 hex digits (on Linux x86_64: one per 4 signals) naming only valid
/// signals. Spaces, tabs and carriage returns around a number or mask are
/// ignored (so "\r\n" line ends are accepted) and empty lines are skipped.
/// The name is everything after "Name:" and one tab up to the newline,
/// verbatim (the kernel writes a carriage return in a name as is).
/// Returns nullopt and fills `error` on anything else; never reads outside
/// `text`.
inline std::optional<proc_status> parse_status(std::string_view text, status_error& error) noexcept {
  error = {};
  proc_status out;
  std::array<bool, detail::status_field_count> seen{};
  auto fail = [&](status_errc code, std::size_t line, std::string_view field, std::size_t offset,
                  std::size_t length) -> std::optional<proc_status> {
    error.code = code;
    error.line = line;
    error.field = field;
    error.offset = offset;
    error.length = length;
    return std::nullopt;
  };

  std::size_t pos = 0;
  std::size_t line_no = 0;
  while (pos < text.size()) {
    const std::size_t nl = text.find('\n', pos);
    const std::size_t end = nl == std::string_view::npos ? text.size() : nl;
    const std::size_t start = pos;
    const std::string_view line = text.substr(start, end - start);
    pos = end == text.size() ? end : end + 1;
    ++line_no;
    if (line.empty() || line == "\r") continue;

    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0)
      return fail(status_errc::bad_line, line_no, {}, start, line.size());
    const std::string_view key = line.substr(0, colon);
    const auto* it = std::find(detail::status_field_names.begin(), detail::status_field_names.end(), key);
    if (it == detail::status_field_names.end()) continue;  // a field sigkit does not decode
    const auto id = static_cast<std::size_t>(it - detail::status_field_names.begin());
    const std::string_view field = *it;  // static storage, unlike `key`
    if (seen[id]) return fail(status_errc::duplicate_field, line_no, field, start, line.size());
    seen[id] = true;

    std::string_view raw = line.substr(colon + 1);
    if (id == detail::f_name) {
      if (!raw.empty() && raw.front() == '\t') raw.remove_prefix(1);
      try {
        out.name.assign(raw);
      } catch (...) {  // std::bad_alloc
        return fail(status_errc::out_of_memory, line_no, field, start, line.size());
      }
      continue;
    }
    const std::string_view value = detail::trim_blanks(raw);
    std::size_t lead = 0;  // blanks before the value
    while (lead < raw.size() && detail::is_blank(raw[lead])) ++lead;
    const std::size_t value_at = start + colon + 1 + lead;  // where the value starts in `text`
    status_errc rc = status_errc::ok;
    int bad_signal = 0;
    switch (id) {
      case detail::f_tgid:
        rc = detail::parse_decimal(value, out.tgid);
        break;
      case detail::f_pid:
        rc = detail::parse_decimal(value, out.pid);
        break;
      case detail::f_ppid:
        rc = detail::parse_decimal(value, out.ppid);
        break;
      case detail::f_threads:
        rc = detail::parse_decimal(value, out.threads);
        break;
      case detail::f_state:
        rc = detail::parse_state(value, out.state);
        break;
      case detail::f_sigq:
        rc = detail::parse_queue(value, out.queued, out.queued_limit);
        break;
      case detail::f_sigpnd:
        rc = detail::parse_mask(value, out.thread_pending, bad_signal);
        break;
      case detail::f_shdpnd:
        rc = detail::parse_mask(value, out.shared_pending, bad_signal);
        break;
      case detail::f_sigblk:
        rc = detail::parse_mask(value, out.blocked, bad_signal);
        break;
      case detail::f_sigign:
        rc = detail::parse_mask(value, out.ignored, bad_signal);
        break;
      case detail::f_sigcgt:
        rc = detail::parse_mask(value, out.caught, bad_signal);
        break;
      default:
        break;
    }
    if (rc != status_errc::ok) {
      error.signal_number = bad_signal;
      return fail(rc, line_no, field, value_at, value.size());
    }
  }
  for (std::size_t id = 0; id < detail::status_field_count; ++id)
    if (!seen[id] && !detail::optional_field(id))
      return fail(status_errc::missing_field, 0, detail::status_field_names[id], 0, 0);
  return out;
}

/// parse_status(), throwing std::invalid_argument on a malformed text:
/// "sigkit: not a /proc status text: line 41 (SigBlk): not a hexadecimal
/// signal mask: \"00zz\"".
inline proc_status parse_status(std::string_view text) {
  status_error error;
  auto status = parse_status(text, error);
  if (!status) throw std::invalid_argument("sigkit: not a /proc status text: " + error.message(text));
  return std::move(*status);
}

/// The fields parse_status() decodes, written the way the kernel writes
/// them ("Name:\t...\n", masks as 16 lower-case hex digits), so that
/// parse_status(render_status(s)) == s. A newline in the name is written as
/// "\n" (backslash, n), as the kernel does. State is written only if set
/// (state != 0), SigQ only if either number is not 0.
inline std::string render_status(const proc_status& s) {
  std::string name;
  for (char c : s.name) name += c == '\n' ? std::string_view("\\n") : std::string_view(&c, 1);
  std::string out = "Name:\t" + name + "\n";
  if (s.state != 0) {
    out += "State:\t";
    out += s.state;
    const std::string_view long_name = detail::state_name(s.state);
    if (!long_name.empty()) out += " (" + std::string(long_name) + ")";
    out += "\n";
  }
  out += "Tgid:\t" + std::to_string(s.tgid) + "\n";
  out += "Pid:\t" + std::to_string(s.pid) + "\n";
  out += "PPid:\t" + std::to_string(s.ppid) + "\n";
  out += "Threads:\t" + std::to_string(s.threads) + "\n";
  if (s.queued != 0 || s.queued_limit != 0)
    out += "SigQ:\t" + std::to_string(s.queued) + "/" + std::to_string(s.queued_limit) + "\n";
  out += "SigPnd:\t" + detail::render_mask(s.thread_pending) + "\n";
  out += "ShdPnd:\t" + detail::render_mask(s.shared_pending) + "\n";
  out += "SigBlk:\t" + detail::render_mask(s.blocked) + "\n";
  out += "SigIgn:\t" + detail::render_mask(s.ignored) + "\n";
  out += "SigCgt:\t" + detail::render_mask(s.caught) + "\n";
  return out;
}

/// One thread of a process, from /proc/PID/task/TID/status.
struct thread_signals {
  /// The thread id (what gettid() returns in that thread).
  pid_t tid = 0;
  /// The thread's name (pthread_setname_np), as the kernel writes it.
  std::string name;
  /// The signals this thread blocks.
  signal_set blocked;
  /// The signals pending for this thread only (not those pending for the
  /// whole process: see process_signals::pending).
  signal_set pending;

  friend bool operator==(const thread_signals&, const thread_signals&) = default;
};

/// The threads that can take delivery of `s` sent to the process: those
/// that do not block it, in the order given. The kernel picks one of them
/// (the thread it was sent to, the main thread for kill(), if that one
/// can). Empty if every thread blocks `s`: then it stays pending. Whether
/// delivery runs a handler, is ignored or takes the default action depends
/// on the disposition (process_signals).
inline std::vector<pid_t> receiving_threads(const std::vector<thread_signals>& threads, signal s) {
  std::vector<pid_t> out;
  for (const auto& t : threads)
    if (!t.blocked.contains(s)) out.push_back(t.tid);
  return out;
}

namespace detail {

/// True where /proc has the Linux layout read below (SIGKIT_HAVE_PROC;
/// SIGKIT_NO_PROC gives Linux the ENOTSUP path of other systems, so that it
/// is tested).
inline constexpr bool have_proc_status = SIGKIT_HAVE_PROC != 0;

/// Reads a whole file into `out` (O_CLOEXEC, EINTR retried, closed on every
/// path). Returns 0 or an errno value.
inline int read_whole_file(const std::string& path, std::string& out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  out.clear();
  char chunk[4096];
  int err = 0;
  for (;;) {
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n > 0) {
      try {
        out.append(chunk, static_cast<std::size_t>(n));
      } catch (...) {
        ::close(fd);
        throw;
      }
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) err = errno;
    break;
  }
  ::close(fd);
  return err;
}

/// ENOENT for /proc/PID/...: the process does not exist (ESRCH), unless
/// /proc itself is missing (then ENOENT stands).
inline int missing_process_error(std::string_view root, int err) {
  if (err != ENOENT) return err;
  struct stat st {};
  const std::string self = std::string(root) + "/self";
  return ::stat(self.c_str(), &st) == 0 ? ESRCH : ENOENT;
}

/// /proc/PID/status under `root` ("/proc"), decoded. On failure returns
/// nullopt, sets `ec` and names the file in `where` (and appends the parse
/// error to it, for EBADMSG). Never throws.
inline std::optional<proc_status> read_status_at(std::string_view root, std::string_view file_below_root, pid_t pid,
                                                 std::error_code& ec, std::string& where) noexcept {
  ec.clear();
  try {
    where.clear();
    if (pid <= 0) {
      ec = std::make_error_code(std::errc::invalid_argument);
      return std::nullopt;
    }
    where = std::string(root) + "/" + std::string(file_below_root);
    if (!have_proc_status) {
      ec = std::make_error_code(std::errc::not_supported);
      return std::nullopt;
    }
    std::string text;
    if (const int err = read_whole_file(where, text); err != 0) {
      ec = errno_code(missing_process_error(root, err));
      return std::nullopt;
    }
    status_error perr;
    auto status = parse_status(text, perr);
    if (!status) {
      where += ": " + perr.message(text);
      ec = std::make_error_code(std::errc::bad_message);
    }
    return status;
  } catch (...) {  // only allocation can fail here
    ec = std::make_error_code(std::errc::not_enough_memory);
    return std::nullopt;
  }
}

/// The numeric entries (process or thread ids) of directory `dir` under
/// `root`, ascending. On failure sets `ec` (ESRCH if `dir` is gone).
inline std::vector<pid_t> list_ids(std::string_view root, const std::string& dir_path, std::error_code& ec) {
  ec.clear();
  std::vector<pid_t> ids;
  const std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(dir_path.c_str()), ::closedir);  // O_CLOEXEC (glibc)
  if (!dir) {
    ec = errno_code(missing_process_error(root, errno));
    return {};
  }
  for (;;) {
    errno = 0;
    const dirent* entry = ::readdir(dir.get());  // NOLINT(concurrency-mt-unsafe): this DIR is ours alone
    if (entry == nullptr) {
      if (errno != 0) {
        ec = errno_code(missing_process_error(root, errno));
        return {};
      }
      break;
    }
    int id = 0;
    if (parse_decimal(entry->d_name, id) == status_errc::ok && id > 0) ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

/// The processes under `root` whose parent is `parent`, ascending; those
/// that end while this runs are left out. On failure returns an empty
/// vector, sets `ec` and names the directory in `where`.
inline std::vector<pid_t> read_children_at(std::string_view root, pid_t parent, std::error_code& ec,
                                           std::string& where) noexcept {
  ec.clear();
  try {
    where.clear();
    if (parent <= 0) {
      ec = std::make_error_code(std::errc::invalid_argument);
      return {};
    }
    where = std::string(root);
    if (!have_proc_status) {
      ec = std::make_error_code(std::errc::not_supported);
      return {};
    }
    std::vector<pid_t> out;
    for (const pid_t pid : list_ids(root, where, ec)) {
      std::error_code pec;
      std::string pwhere;
      const auto status = read_status_at(root, std::to_string(pid) + "/status", pid, pec, pwhere);
      if (status && status->ppid == parent) out.push_back(pid);  // gone or unreadable meanwhile: not ours to report
    }
    return out;
  } catch (...) {  // only allocation can fail here
    ec = std::make_error_code(std::errc::not_enough_memory);
    return {};
  }
}

/// Every thread of process `pid` under `root`, by ascending tid. Threads
/// that end while this runs are left out. On failure returns an empty
/// vector, sets `ec` and names the file or directory in `where`.
inline std::vector<thread_signals> read_threads_at(std::string_view root, pid_t pid, std::error_code& ec,
                                                   std::string& where) noexcept {
  ec.clear();
  std::vector<thread_signals> out;
  try {
    where.clear();
    if (pid <= 0) {
      ec = std::make_error_code(std::errc::invalid_argument);
      return {};
    }
    const std::string task_dir = std::to_string(pid) + "/task";
    where = std::string(root) + "/" + task_dir;
    if (!have_proc_status) {
      ec = std::make_error_code(std::errc::not_supported);
      return {};
    }
    const std::vector<pid_t> tids = list_ids(root, where, ec);
    if (ec) return {};
    for (const pid_t tid : tids) {
      std::error_code tec;
      std::string twhere;
      auto status = read_status_at(root, task_dir + "/" + std::to_string(tid) + "/status", pid, tec, twhere);
      if (!status) {
        if (tec == std::errc::no_such_process) continue;  // the thread has ended meanwhile
        ec = tec;
        where = std::move(twhere);
        return {};
      }
      out.push_back(thread_signals{tid, std::move(status->name), status->blocked, status->thread_pending});
    }
    if (out.empty()) {  // every thread ended: so has the process
      ec = std::make_error_code(std::errc::no_such_process);
      return {};
    }
    return out;
  } catch (...) {  // only allocation can fail here
    ec = std::make_error_code(std::errc::not_enough_memory);
    return {};
  }
}

/// Throws what an inspect function reports: std::invalid_argument for a
/// pid <= 0, else std::system_error naming the function, the pid and the
/// file: "sigkit: inspect(123): /proc/123/status: No such process".
[[noreturn]] inline void throw_inspect_error(const char* function, pid_t pid, const std::string& where,
                                             std::error_code ec) {
  const std::string call = std::string(function) + "(" + std::to_string(pid) + ")";
  if (pid <= 0 && ec == std::errc::invalid_argument)
    throw std::invalid_argument("sigkit: " + call + ": not a process id (it must be > 0)");
  throw_error(ec, call + (where.empty() ? "" : ": " + where));
}

/// inspect_status() reading `root` instead of /proc (for tests).
inline std::optional<proc_status> inspect_status_at(std::string_view root, pid_t pid, std::error_code& ec,
                                                    std::string& where) noexcept {
  try {
    return read_status_at(root, std::to_string(pid) + "/status", pid, ec, where);
  } catch (...) {  // only allocation can fail here
    ec = std::make_error_code(std::errc::not_enough_memory);
    return std::nullopt;
  }
}

}  // namespace detail

/// Everything sigkit decodes from /proc/PID/status: name, ids, thread count
/// and the signal masks. Throws std::invalid_argument for pid <= 0 and
/// std::system_error naming the pid and file otherwise: ESRCH if there is
/// no such process, EACCES if /proc hides it, EBADMSG if the file cannot be
/// parsed, ENOTSUP where there is no Linux /proc. A thread id (of a thread
/// that is not its process's main thread) gives that thread's view.
inline proc_status inspect_status(pid_t pid) {
  std::error_code ec;
  std::string where;
  auto status = detail::inspect_status_at("/proc", pid, ec, where);
  if (!status) detail::throw_inspect_error("inspect_status", pid, where, ec);
  return std::move(*status);
}

/// inspect_status(), reporting failure in `ec` (errc::invalid_argument for
/// pid <= 0) and returning nullopt.
inline std::optional<proc_status> inspect_status(pid_t pid, std::error_code& ec) noexcept {
  std::string where;
  return detail::inspect_status_at("/proc", pid, ec, where);
}

/// The signal state of process `pid`: what is pending, what its main thread
/// blocks, what it ignores and what it catches (decoded /proc/PID/status).
/// Errors as inspect_status().
inline process_signals inspect(pid_t pid) {
  std::error_code ec;
  std::string where;
  const auto status = detail::inspect_status_at("/proc", pid, ec, where);
  if (!status) detail::throw_inspect_error("inspect", pid, where, ec);
  return status->signals();
}

/// inspect(), reporting failure in `ec` and returning empty sets.
inline process_signals inspect(pid_t pid, std::error_code& ec) noexcept {
  std::string where;
  const auto status = detail::inspect_status_at("/proc", pid, ec, where);
  return status ? status->signals() : process_signals{};
}

/// Every thread of process `pid` with its own mask and pending signals
/// (from /proc/PID/task/*/status), by ascending thread id; threads that end
/// meanwhile are left out. Errors as inspect_status(), naming
/// /proc/PID/task or the file that failed.
inline std::vector<thread_signals> inspect_threads(pid_t pid) {
  std::error_code ec;
  std::string where;
  auto threads = detail::read_threads_at("/proc", pid, ec, where);
  if (ec) detail::throw_inspect_error("inspect_threads", pid, where, ec);
  return threads;
}

/// inspect_threads(), reporting failure in `ec` and returning an empty
/// vector.
inline std::vector<thread_signals> inspect_threads(pid_t pid, std::error_code& ec) noexcept {
  std::string where;
  return detail::read_threads_at("/proc", pid, ec, where);
}

/// The live processes whose parent is `parent` (zombies included: they
/// are children until reaped), by ascending pid, from every
/// /proc/PID/status. A process that ends while this runs is left out.
/// Errors as inspect_status(), naming /proc (ENOTSUP where there is no
/// Linux /proc).
inline std::vector<pid_t> inspect_children(pid_t parent) {
  std::error_code ec;
  std::string where;
  auto children = detail::read_children_at("/proc", parent, ec, where);
  if (ec) detail::throw_inspect_error("inspect_children", parent, where, ec);
  return children;
}

/// inspect_children(), reporting failure in `ec` and returning an empty
/// vector.
inline std::vector<pid_t> inspect_children(pid_t parent, std::error_code& ec) noexcept {
  std::string where;
  return detail::read_children_at("/proc", parent, ec, where);
}

}  // namespace v1
}  // namespace sigkit
