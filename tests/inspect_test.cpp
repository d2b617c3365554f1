// Tests for sigkit/inspect.hpp: the /proc status parser (texts captured
// from real processes, hand-written edge cases, round trips) and inspect(),
// inspect_status(), inspect_threads() on live processes whose signal state
// the test changes, each in a forked child.
#include <sigkit/action.hpp>
#include <sigkit/inspect.hpp>
#include <sigkit/mask.hpp>
#include <sigkit/stream.hpp>

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using sig = sigkit::signal;  // a plain `signal` would clash with ::signal()
using sigkit::signal_set;
using sigkit_test::in_child;

namespace {

// /proc/self/status of a process (named "pending demo" with
// prctl(PR_SET_NAME)) that blocked SIGUSR1, SIGUSR2 and SIGRTMIN+3 (37),
// ignored SIGPIPE, caught SIGHUP, then did raise(SIGUSR1),
// kill(getpid(), SIGUSR2) and kill(getpid(), SIGRTMIN+3). Captured on the
// development machine (Linux 6.18, x86_64); the same text is a fuzz seed
// (tests/fuzz/corpus/proc_status/pending_usr1_usr2_rt).
constexpr std::string_view pending_demo = R"status(Name:	pending demo
Umask:	0022
State:	R (running)
Tgid:	24474
Ngid:	0
Pid:	24474
PPid:	24456
TracerPid:	0
Uid:	0	0	0	0
Gid:	0	0	0	0
FDSize:	256
Groups:	 
NStgid:	24474
NSpid:	24474
NSpgid:	24456
NSsid:	11316
Kthread:	0
VmPeak:	    2476 kB
VmSize:	    2476 kB
VmLck:	       0 kB
VmPin:	       0 kB
VmHWM:	    1312 kB
VmRSS:	    1312 kB
RssAnon:	     100 kB
RssFile:	    1212 kB
RssShmem:	       0 kB
VmData:	     224 kB
VmStk:	     132 kB
VmExe:	       4 kB
VmLib:	    1528 kB
VmPTE:	      40 kB
VmSwap:	       0 kB
HugetlbPages:	       0 kB
CoreDumping:	0
THP_enabled:	1
untag_mask:	0xffffffffffffffff
Threads:	1
SigQ:	3/96362
SigPnd:	0000000000000200
ShdPnd:	0000001000000800
SigBlk:	0000001000000a00
SigIgn:	0000000000001000
SigCgt:	0000000000000001
CapInh:	0000000000000000
CapPrm:	000001fffeffffff
CapEff:	000001fffeffffff
CapBnd:	000001fffeffffff
CapAmb:	0000000000000000
NoNewPrivs:	0
Seccomp:	0
Seccomp_filters:	0
Speculation_Store_Bypass:	vulnerable
SpeculationIndirectBranch:	always enabled
Cpus_allowed:	3
Cpus_allowed_list:	0-1
Mems_allowed:	00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000001
Mems_allowed_list:	0
voluntary_ctxt_switches:	0
nonvoluntary_ctxt_switches:	2
)status";

// /proc/2/status: kthreadd ignores every signal.
constexpr std::string_view kthreadd = R"status(Name:	kthreadd
Umask:	0022
State:	S (sleeping)
Tgid:	2
Ngid:	0
Pid:	2
PPid:	0
TracerPid:	0
Uid:	0	0	0	0
Gid:	0	0	0	0
FDSize:	64
Groups:	 
NStgid:	2
NSpid:	2
NSpgid:	0
NSsid:	0
Kthread:	1
Threads:	1
SigQ:	0/96362
SigPnd:	0000000000000000
ShdPnd:	0000000000000000
SigBlk:	0000000000000000
SigIgn:	ffffffffffffffff
SigCgt:	0000000000000000
CapInh:	0000000000000000
CapPrm:	000001ffffffffff
CapEff:	000001ffffffffff
CapBnd:	000001ffffffffff
CapAmb:	0000000000000000
NoNewPrivs:	0
Seccomp:	0
Seccomp_filters:	0
Speculation_Store_Bypass:	vulnerable
SpeculationIndirectBranch:	always enabled
Cpus_allowed:	3
Cpus_allowed_list:	0-1
Mems_allowed:	00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000001
Mems_allowed_list:	0
voluntary_ctxt_switches:	59
nonvoluntary_ctxt_switches:	0
)status";

// /proc/1/task/61/status: a thread of a 14-thread process (pid 1) that
// blocks nearly everything.
constexpr std::string_view blocking_thread = R"status(Name:	stop-step
Umask:	0022
State:	S (sleeping)
Tgid:	1
Ngid:	0
Pid:	61
PPid:	0
TracerPid:	0
Uid:	0	0	0	0
Gid:	0	0	0	0
FDSize:	512
Groups:	 
NStgid:	1
NSpid:	61
NSpgid:	0
NSsid:	0
Kthread:	0
VmPeak:	   52668 kB
VmSize:	   43652 kB
VmLck:	   43620 kB
VmPin:	       0 kB
VmHWM:	   17880 kB
VmRSS:	   11948 kB
RssAnon:	    5064 kB
RssFile:	       8 kB
RssShmem:	    6876 kB
VmData:	   35648 kB
VmStk:	     132 kB
VmExe:	    5684 kB
VmLib:	       8 kB
VmPTE:	     120 kB
VmSwap:	       0 kB
HugetlbPages:	       0 kB
CoreDumping:	0
THP_enabled:	1
untag_mask:	0xffffffffffffffff
Threads:	14
SigQ:	0/96362
SigPnd:	0000000000000000
ShdPnd:	0000000000000000
SigBlk:	fffffffc7ffbfa37
SigIgn:	0000000000001000
SigCgt:	00000000000004e8
CapInh:	0000000000000000
CapPrm:	000001ffffffffff
CapEff:	000001ffffffffff
CapBnd:	000001fffeffffff
CapAmb:	0000000000000000
NoNewPrivs:	0
Seccomp:	0
Seccomp_filters:	0
Speculation_Store_Bypass:	vulnerable
SpeculationIndirectBranch:	always enabled
Cpus_allowed:	3
Cpus_allowed_list:	0-1
Mems_allowed:	00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000001
Mems_allowed_list:	0
voluntary_ctxt_switches:	3
nonvoluntary_ctxt_switches:	0
)status";

// The set with signal n for every bit n-1 of `bits` (an oracle independent
// of the parser).
signal_set from_bits(std::uint64_t bits) {
  signal_set out;
  for (int n = 1; n <= 64 && n < NSIG; ++n)
    if (((bits >> (n - 1)) & 1U) != 0) out.insert(sig{n});
  return out;
}

// `text` with the line starting "key:" replaced by `line` (removed if empty).
std::string with_line(std::string_view text, std::string_view key, std::string_view line) {
  std::string out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size() - 1;
    const std::string_view current = text.substr(pos, nl - pos + 1);
    if (current.substr(0, key.size() + 1) == std::string(key) + ":") {
      if (!line.empty()) out += std::string(line) + "\n";
    } else {
      out += current;
    }
    pos = nl + 1;
  }
  return out;
}

// A minimal valid text with every decoded field.
const std::string minimal =
    "Name:\tmini\nTgid:\t10\nPid:\t11\nPPid:\t1\nThreads:\t2\n"
    "SigPnd:\t0\nShdPnd:\t0\nSigBlk:\t0\nSigIgn:\t0\nSigCgt:\t0\n";

sigkit::status_error parse_error(std::string_view text) {
  sigkit::status_error error;
  const auto status = sigkit::parse_status(text, error);
  CHECK_FALSE(status.has_value());
  return error;
}

sigkit::status_errc mask_result(std::string_view hex, signal_set* out = nullptr) {
  signal_set set;
  int bad = 0;
  const auto rc = sigkit::detail::parse_mask(hex, set, bad);
  if (out != nullptr) *out = set;
  return rc;
}

#if defined(SIGKIT_TEST_SANITIZED)
constexpr bool sanitized = true;
#else
constexpr bool sanitized = false;
#endif

// False in the inspect_test_noproc build (SIGKIT_NO_PROC): there the live
// cases are skipped and the ENOTSUP fallback of non-Linux systems is tested.
constexpr bool have_proc = sigkit::detail::have_proc_status;

pid_t this_thread_id() { return static_cast<pid_t>(::syscall(SYS_gettid)); }

const sigkit::thread_signals* find_thread(const std::vector<sigkit::thread_signals>& threads, pid_t tid) {
  const auto it = std::find_if(threads.begin(), threads.end(), [&](const auto& t) { return t.tid == tid; });
  return it == threads.end() ? nullptr : &*it;
}

// Takes a pending, blocked signal off this thread (or the process).
bool consume(int signo) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, signo);
  const timespec zero{};
  return ::sigtimedwait(&set, nullptr, &zero) == signo;
}

pid_t above_pid_max() {
  std::ifstream in("/proc/sys/kernel/pid_max");
  long max = 0;
  in >> max;
  REQUIRE(max > 0);
  return static_cast<pid_t>(max + 1);  // pids are always below pid_max
}

}  // namespace

// ---- the parser: captured texts

TEST_CASE("parse_status decodes a captured status with pending, blocked, ignored and caught signals") {
  const sigkit::proc_status s = sigkit::parse_status(pending_demo);
  CHECK(s.name == "pending demo");
  CHECK(s.tgid == 24474);
  CHECK(s.pid == 24474);
  CHECK(s.ppid == 24456);
  CHECK(s.threads == 1);
  CHECK(s.thread_pending == signal_set{sigkit::user1});
  CHECK(s.shared_pending == signal_set{sigkit::user2, sig{37}});
  CHECK(s.blocked == signal_set{sigkit::user1, sigkit::user2, sig{37}});
  CHECK(s.ignored == signal_set{sigkit::pipe});
  CHECK(s.caught == signal_set{sigkit::hangup});
  CHECK(s.shared_pending == from_bits(0x0000001000000800ULL));
  CHECK(s.blocked == from_bits(0x0000001000000a00ULL));
  const sigkit::process_signals p = s.signals();
  CHECK(p.pending == signal_set{sigkit::user1, sigkit::user2, sig{37}});
  CHECK(p.blocked == s.blocked);
  CHECK(p.ignored == s.ignored);
  CHECK(p.caught == s.caught);
}

TEST_CASE("parse_status decodes a captured kernel thread that ignores every signal") {
  const sigkit::proc_status s = sigkit::parse_status(kthreadd);
  CHECK(s.name == "kthreadd");
  CHECK(s.pid == 2);
  CHECK(s.tgid == 2);
  CHECK(s.ppid == 0);
  CHECK(s.ignored == signal_set::full());
  CHECK(s.ignored.size() == 64);
  CHECK(s.caught.empty());
  CHECK(s.blocked.empty());
  CHECK(s.signals().pending.empty());
}

TEST_CASE("parse_status decodes a captured thread of a multi-threaded process") {
  const sigkit::proc_status s = sigkit::parse_status(blocking_thread);
  CHECK(s.name == "stop-step");
  CHECK(s.pid == 61);  // the thread
  CHECK(s.tgid == 1);  // its process
  CHECK(s.threads == 14);
  CHECK(s.blocked == from_bits(0xfffffffc7ffbfa37ULL));
  CHECK_FALSE(s.blocked.contains(sig{SIGKILL}));
  CHECK_FALSE(s.blocked.contains(sig{SIGSTOP}));
  CHECK(s.blocked.contains(sig{64}));
  CHECK(s.ignored == signal_set{sigkit::pipe});
  CHECK(s.caught == from_bits(0x4e8));
  CHECK(s.caught == signal_set{sig{SIGILL}, sig{SIGABRT}, sig{SIGBUS}, sig{SIGFPE}, sig{SIGSEGV}});
}

TEST_CASE("parse_status decodes State and SigQ, and a text without them still parses") {
  const sigkit::proc_status demo = sigkit::parse_status(pending_demo);
  CHECK(demo.state == 'R');
  CHECK(demo.queued == 3);
  CHECK(demo.queued_limit == 96362);
  const sigkit::proc_status kernel = sigkit::parse_status(kthreadd);
  CHECK(kernel.state == 'S');
  CHECK(kernel.queued == 0);
  CHECK(kernel.queued_limit == 96362);
  const sigkit::proc_status bare = sigkit::parse_status(minimal);  // hand-written: no State, no SigQ
  CHECK(bare.state == 0);
  CHECK(bare.queued == 0);
  CHECK(bare.queued_limit == 0);
  for (const char* state : {"T (stopped)", "t (tracing stop)", "Z (zombie)", "I (idle)", "D", " S (sleeping) "}) {
    CAPTURE(state);
    const auto s = sigkit::parse_status(minimal + "State:\t" + state + "\n");
    CHECK(s.state == std::string_view(state).substr(std::string_view(state).find_first_not_of(' '), 1)[0]);
  }
  const auto q = sigkit::parse_status(minimal + "SigQ:\t0/2147483647\n");
  CHECK(q.queued == 0);
  CHECK(q.queued_limit == 2147483647);
}

TEST_CASE("a malformed State or SigQ is refused with the reason, and neither may appear twice") {
  using sigkit::status_errc;
  for (const char* bad : {"1 (one)", "S(sleeping)", "S (", "S ()x", "SS", "S (a(b))", "? (odd)"}) {
    CAPTURE(bad);
    CHECK(parse_error(minimal + "State:\t" + bad + "\n").code == status_errc::bad_state);
  }
  CHECK(parse_error(minimal + "State:\t\n").code == status_errc::empty_value);
  const std::string text = minimal + "State:\tS (sleeping)\nState:\tR (running)\n";
  CHECK(parse_error(text).code == status_errc::duplicate_field);
  for (const char* bad : {"3", "3/", "/3", "-1/5", "3/5/7", "03/5", "3 / 5", "1/99999999999"}) {
    CAPTURE(bad);
    CHECK(parse_error(minimal + "SigQ:\t" + bad + "\n").code == status_errc::bad_queue);
  }
  const std::string queue = minimal + "SigQ:\tx/1\n";
  CHECK(parse_error(queue).message(queue) == "line 11 (SigQ): not \"queued/limit\" (two decimal numbers): \"x/1\"");
  CHECK(parse_error(minimal + "State:\t\x01\n").message() ==
        "line 11 (State): not a process state (a letter, then an optional \"(name)\")");
}

// ---- the parser: masks

TEST_CASE("in a mask, bit n-1 stands for signal n, for every signal") {
  for (int n = 1; n < NSIG; ++n) {
    CAPTURE(n);
    char hex[32];
    std::snprintf(hex, sizeof hex, "%llx", 1ULL << (n - 1));
    signal_set set;
    REQUIRE(mask_result(hex, &set) == sigkit::status_errc::ok);
    CHECK(set == signal_set{sig{n}});
    std::snprintf(hex, sizeof hex, "%016llX", 1ULL << (n - 1));  // padded, upper case
    REQUIRE(mask_result(hex, &set) == sigkit::status_errc::ok);
    CHECK(set == signal_set{sig{n}});
    CHECK(sigkit::detail::render_mask(set).size() == 16);
  }
}

TEST_CASE("short masks, leading zeros and upper-case digits are accepted") {
  signal_set set;
  CHECK(mask_result("0", &set) == sigkit::status_errc::ok);
  CHECK(set.empty());
  CHECK(mask_result("1", &set) == sigkit::status_errc::ok);
  CHECK(set == signal_set{sigkit::hangup});
  CHECK(mask_result("A00", &set) == sigkit::status_errc::ok);
  CHECK(set == signal_set{sigkit::user1, sigkit::user2});
  CHECK(mask_result("0000000000000a00", &set) == sigkit::status_errc::ok);
  CHECK(set == signal_set{sigkit::user1, sigkit::user2});
  CHECK(mask_result("ffffffffffffffff", &set) == sigkit::status_errc::ok);
  CHECK(set == signal_set::full());
  CHECK(mask_result("8000000000000000", &set) == sigkit::status_errc::ok);
  CHECK(set == signal_set{sig{64}});
}

TEST_CASE("malformed masks are refused with the reason") {
  using sigkit::status_errc;
  CHECK(mask_result("") == status_errc::empty_value);
  CHECK(mask_result("0x1") == status_errc::not_hex);
  CHECK(mask_result("-1") == status_errc::not_hex);
  CHECK(mask_result("+1") == status_errc::not_hex);
  CHECK(mask_result("12 34") == status_errc::not_hex);
  CHECK(mask_result("g") == status_errc::not_hex);
  CHECK(mask_result(std::string_view("0\0", 2)) == status_errc::not_hex);
  CHECK(mask_result("00000000000000000") == status_errc::mask_too_long);  // 17 digits, even if zero
  CHECK(mask_result("1ffffffffffffffff") == status_errc::mask_too_long);
  CHECK(mask_result(std::string(1000, 'f')) == status_errc::mask_too_long);
  CHECK(mask_result(std::string(1000, 'f') + "z") == status_errc::not_hex);

  // In a status text: the line, the field and the value are reported.
  const std::string text = with_line(minimal, "SigBlk", "SigBlk:\t00zz");
  const auto error = parse_error(text);
  CHECK(error.code == status_errc::not_hex);
  CHECK(error.line == 8);
  CHECK(error.field == "SigBlk");
  CHECK(text.substr(error.offset, error.length) == "00zz");
  CHECK(error.message(text) == "line 8 (SigBlk): not a hexadecimal signal mask: \"00zz\"");
  CHECK(parse_error(with_line(minimal, "SigIgn", "SigIgn:\t")).code == status_errc::empty_value);
  CHECK(parse_error(with_line(minimal, "SigCgt", "SigCgt:  \t ")).code == status_errc::empty_value);
  const auto long_error = parse_error(with_line(minimal, "ShdPnd", "ShdPnd:\t" + std::string(17, '0')));
  CHECK(long_error.code == status_errc::mask_too_long);
  CHECK(long_error.message() == "line 7 (ShdPnd): signal mask longer than 16 hex digits");
}

TEST_CASE("parse_mask works at compile time") {
  constexpr bool ok = [] {
    signal_set set;
    int bad = 0;
    return sigkit::detail::parse_mask("a00", set, bad) == sigkit::status_errc::ok &&
           set == signal_set{sigkit::user1, sigkit::user2};
  }();
  static_assert(ok);
  CHECK(ok);
}

// ---- the parser: fields and lines

TEST_CASE("every decoded field is required, and only once") {
  CHECK(sigkit::parse_status(minimal).pid == 11);
  const char* keys[] = {"Name", "Tgid", "Pid", "PPid", "Threads", "SigPnd", "ShdPnd", "SigBlk", "SigIgn", "SigCgt"};
  for (const char* key : keys) {
    CAPTURE(key);
    const auto missing = parse_error(with_line(minimal, key, ""));
    CHECK(missing.code == sigkit::status_errc::missing_field);
    CHECK(missing.field == key);
    CHECK(missing.line == 0);
    CHECK(missing.message() == std::string(key) + ": missing");

    const auto twice = parse_error(minimal + std::string(key) + ":\t1\n");
    CHECK(twice.code == sigkit::status_errc::duplicate_field);
    CHECK(twice.field == key);
    CHECK(twice.line == 11);
  }
  CHECK(parse_error("").code == sigkit::status_errc::missing_field);
  CHECK(parse_error("\n\n\n").code == sigkit::status_errc::missing_field);
}

TEST_CASE("numbers are plain decimal, from 0 to INT_MAX") {
  using sigkit::status_errc;
  auto pid_of = [](std::string_view value) {
    sigkit::status_error error;
    const auto s = sigkit::parse_status(with_line(minimal, "Pid", "Pid:\t" + std::string(value)), error);
    return s ? s->pid : -static_cast<int>(error.code);
  };
  CHECK(pid_of("0") == 0);
  CHECK(pid_of("42") == 42);
  CHECK(pid_of("  42 \t") == 42);
  CHECK(pid_of("2147483647") == 2147483647);
  CHECK(pid_of("2147483648") == -static_cast<int>(status_errc::number_too_large));
  CHECK(pid_of("99999999999999999999999") == -static_cast<int>(status_errc::number_too_large));
  CHECK(pid_of("-1") == -static_cast<int>(status_errc::not_a_number));
  CHECK(pid_of("+1") == -static_cast<int>(status_errc::not_a_number));
  CHECK(pid_of("007") == -static_cast<int>(status_errc::not_a_number));
  CHECK(pid_of("1e3") == -static_cast<int>(status_errc::not_a_number));
  CHECK(pid_of("0x10") == -static_cast<int>(status_errc::not_a_number));
  CHECK(pid_of("4 2") == -static_cast<int>(status_errc::not_a_number));
  CHECK(pid_of("") == -static_cast<int>(status_errc::empty_value));
  const auto error = parse_error(with_line(minimal, "Threads", "Threads:\t-3"));
  CHECK(error.message() == "line 5 (Threads): not a decimal number");
}

TEST_CASE("CRLF line ends, blanks, unknown fields and empty lines are accepted") {
  const sigkit::proc_status lf = sigkit::parse_status(pending_demo);
  std::string crlf;
  for (char c : pending_demo) {
    if (c == '\n') crlf += '\r';
    crlf += c;
  }
  sigkit::proc_status from_crlf = sigkit::parse_status(crlf);
  CHECK(from_crlf.name == "pending demo\r");  // the name is verbatim: the kernel writes '\r' in a name as is
  from_crlf.name = lf.name;
  CHECK(from_crlf == lf);

  // Blank-padded values, unknown and empty lines, no final newline.
  const auto s = sigkit::parse_status(
      "Unknown:\tstuff: with colons\n\nName:\tx\n\r\nTgid:  5\nPid:\t5\t\nPPid:\t4\nThreads:\t1\nSigPnd: 0 \n"
      "ShdPnd:\t0\nSigBlk:\t\t200\nSigIgn:\t0\nSigCgt:\t1");
  CHECK(s.tgid == 5);
  CHECK(s.blocked == signal_set{sigkit::user1});
  CHECK(s.caught == signal_set{sigkit::hangup});
}

TEST_CASE("a line that is not \"Key: value\" is refused with its number") {
  const auto error = parse_error(minimal + "garbage\n");
  CHECK(error.code == sigkit::status_errc::bad_line);
  CHECK(error.line == 11);
  CHECK(error.field.empty());
  CHECK(error.message(minimal + "garbage\n") == "line 11: not a \"Key: value\" line: \"garbage\"");
  CHECK(parse_error(":\t5\n" + minimal).line == 1);
  const auto binary = parse_error(std::string("Name:\tx\n\x01\x02\xff\n"));
  CHECK(binary.code == sigkit::status_errc::bad_line);
  CHECK(binary.message(std::string("Name:\tx\n\x01\x02\xff\n")) == "line 2: not a \"Key: value\" line: \"???\"");
}

TEST_CASE("the name is everything after one tab, verbatim") {
  auto name_of = [](std::string_view line) { return sigkit::parse_status(with_line(minimal, "Name", line)).name; };
  CHECK(name_of("Name:\tkworker/R-kvfree_rcu_reclaim") == "kworker/R-kvfree_rcu_reclaim");
  CHECK(name_of("Name:\t\tx y ") == "\tx y ");
  CHECK(name_of("Name:\ta\\nb\\\\") == "a\\nb\\\\");  // the kernel's escapes are kept
  CHECK(name_of("Name:\t") == "");
  CHECK(name_of("Name:") == "");
  CHECK(name_of("Name:x:y") == "x:y");
}

TEST_CASE("the throwing parse_status names the line, the field and the value") {
  try {
    (void)sigkit::parse_status(with_line(pending_demo, "SigBlk", "SigBlk:\t0000001000000a0g"));
    FAIL_CHECK("no exception");
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()) ==
          "sigkit: not a /proc status text: line 41 (SigBlk): not a hexadecimal signal mask: \"0000001000000a0g\"");
  }
  CHECK_THROWS_AS((void)sigkit::parse_status("Name:\tx\n"), std::invalid_argument);
  const std::string long_value = with_line(minimal, "SigCgt", "SigCgt:\t" + std::string(100, 'f'));
  CHECK(parse_error(long_value).message(long_value) ==
        "line 10 (SigCgt): signal mask longer than 16 hex digits: \"" + std::string(40, 'f') + "...\"");
}

// ---- the parser: round trips

TEST_CASE("render_status writes what parse_status reads back, in the kernel's format") {
  for (std::string_view text : {pending_demo, kthreadd, blocking_thread, std::string_view(minimal)}) {
    const sigkit::proc_status s = sigkit::parse_status(text);
    const std::string rendered = sigkit::render_status(s);
    CHECK(sigkit::parse_status(rendered) == s);
    // Every decoded line of a kernel text comes back byte for byte.
    if (text != minimal) {
      std::size_t pos = 0;
      while (pos < rendered.size()) {
        const std::size_t nl = rendered.find('\n', pos);
        const std::string line = rendered.substr(pos, nl - pos + 1);
        CHECK_MESSAGE(text.find(line) != std::string_view::npos, line);
        pos = nl + 1;
      }
    }
  }
  sigkit::proc_status odd;
  odd.name = "\t a\\nb:c \r";
  odd.state = 'q';  // a letter the kernel does not use: written without a name
  odd.queued = 7;
  odd.queued_limit = 0;
  odd.tgid = 2147483647;
  odd.pid = 1;
  odd.threads = 0;
  odd.thread_pending = signal_set::full();
  odd.blocked = signal_set{sig{1}, sig{32}, sig{33}, sig{64}};
  odd.caught = ~odd.blocked;
  CHECK(sigkit::parse_status(sigkit::render_status(odd)) == odd);
  odd.name = "new\nline";  // not something the kernel writes: rendered escaped
  CHECK(sigkit::parse_status(sigkit::render_status(odd)).name == "new\\nline");
}

TEST_CASE("receiving_threads lists the threads that do not block the signal") {
  const std::vector<sigkit::thread_signals> threads = {
      {10, "main", {sigkit::user2}, {}},
      {11, "worker", {sigkit::user1, sigkit::user2}, {}},
      {12, "io", {}, {}},
  };
  CHECK(sigkit::receiving_threads(threads, sigkit::user1) == std::vector<pid_t>{10, 12});
  CHECK(sigkit::receiving_threads(threads, sigkit::user2) == std::vector<pid_t>{12});
  CHECK(sigkit::receiving_threads(threads, sigkit::terminate) == std::vector<pid_t>{10, 11, 12});
  CHECK(sigkit::receiving_threads({threads[1]}, sigkit::user1).empty());
  CHECK(sigkit::receiving_threads({}, sigkit::user1).empty());
}

// ---- live processes

TEST_CASE("inspect agrees with sigaction, the signal mask and sigpending for every signal" *
          doctest::skip(!have_proc)) {
  in_child([] {
    auto check_all = [](const char* when) {
      CAPTURE(when);
      const sigkit::process_signals p = sigkit::inspect(::getpid());
      sigset_t mask, pending;
      REQUIRE(::pthread_sigmask(SIG_SETMASK, nullptr, &mask) == 0);
      REQUIRE(::sigpending(&pending) == 0);
      for (int n = 1; n < NSIG; ++n) {
        CAPTURE(n);
        const sig s{n};
        CHECK(p.blocked.contains(s) == (sigismember(&mask, n) == 1));
        CHECK(p.pending.contains(s) == (sigismember(&pending, n) == 1));
        struct sigaction act {};
        if (::sigaction(n, nullptr, &act) != 0) continue;  // the C library's own real-time signals
        // The sanitizers install handlers of their own for the fault signals.
        if (sanitized && (s.synchronous() || n == SIGABRT)) continue;
        const bool info = (act.sa_flags & SA_SIGINFO) != 0;
        const bool ign = !info && act.sa_handler == SIG_IGN;
        const bool dfl = !info && act.sa_handler == SIG_DFL;
        CHECK(p.ignored.contains(s) == ign);
        CHECK(p.caught.contains(s) == (!ign && !dfl));
      }
    };
    check_all("as forked");
    auto ignored = sigkit::ignore(sigkit::user2);
    sigkit::stream stream{{sigkit::hangup, sig{SIGRTMIN + 1}}};
    sigkit::scoped_block block{{sigkit::user1, sigkit::terminate}};
    ::raise(SIGUSR1);
    check_all("after changes");
    CHECK(consume(SIGUSR1));
    check_all("after consuming");
  });
}

TEST_CASE("ignoring SIGUSR2 with sigkit::ignore shows in ignored until the scope ends" * doctest::skip(!have_proc)) {
  in_child([] {
    const pid_t me = ::getpid();
    CHECK_FALSE(sigkit::inspect(me).ignored.contains(sigkit::user2));
    {
      auto ignored = sigkit::ignore(sigkit::user2);
      const auto p = sigkit::inspect(me);
      CHECK(p.ignored.contains(sigkit::user2));
      CHECK_FALSE(p.caught.contains(sigkit::user2));
    }
    CHECK_FALSE(sigkit::inspect(me).ignored.contains(sigkit::user2));
  });
}

TEST_CASE("a stream on SIGHUP shows in caught until it is destroyed" * doctest::skip(!have_proc)) {
  in_child([] {
    const pid_t me = ::getpid();
    const auto before = sigkit::inspect(me);
    CHECK_FALSE(before.caught.contains(sigkit::hangup));
    {
      sigkit::stream hup{{sigkit::hangup}};
      const auto during = sigkit::inspect(me);
      CHECK(during.caught.contains(sigkit::hangup));
      CHECK((during.caught - before.caught) == signal_set{sigkit::hangup});
      CHECK(during.ignored == before.ignored);
    }
    CHECK(sigkit::inspect(me) == before);
  });
}

TEST_CASE("a blocked raise() is pending for the thread, a blocked kill() for the whole process" *
          doctest::skip(!have_proc)) {
  in_child([] {
    const pid_t me = ::getpid();
    sigkit::scoped_block block{{sigkit::user1, sigkit::user2}};
    REQUIRE(::raise(SIGUSR1) == 0);     // tgkill(me, this thread)
    REQUIRE(::kill(me, SIGUSR2) == 0);  // the process
    const sigkit::proc_status s = sigkit::inspect_status(me);
    CHECK(s.thread_pending == signal_set{sigkit::user1});
    CHECK(s.shared_pending == signal_set{sigkit::user2});
    CHECK(sigkit::inspect(me).pending == signal_set{sigkit::user1, sigkit::user2});
    // (No REQUIRE before the signals are consumed: unwinding would unblock
    // them, and their default action would kill the test.)
    const auto threads = sigkit::inspect_threads(me);
    if (!sigkit_test::under_tsan) CHECK(threads.size() == 1);  // TSan runs a thread of its own
    const auto* main_thread = find_thread(threads, me);
    CHECK(main_thread != nullptr);
    if (main_thread != nullptr) {
      CHECK(main_thread->pending == signal_set{sigkit::user1});  // a thread's own pending only
      CHECK(main_thread->blocked == signal_set{sigkit::user1, sigkit::user2});
    }
    CHECK(consume(SIGUSR1));
    CHECK(consume(SIGUSR2));
    CHECK(sigkit::inspect(me).pending.empty());
  });
}

TEST_CASE("blocking SIGUSR1 in one thread shows in that thread's mask only" * doctest::skip(!have_proc)) {
  in_child([] {
    const pid_t me = ::getpid();
    std::mutex m;
    std::condition_variable cv;
    int stage = 0;  // 1: the worker has blocked SIGUSR1 and made it pending; 2: it may finish
    pid_t worker_tid = 0;
    bool worker_consumed = false;
    std::thread worker([&] {
      sigkit::scoped_block block{{sigkit::user1}};
      const pid_t tid = this_thread_id();
      ::syscall(SYS_tgkill, me, tid, SIGUSR1);  // pending for this thread only
      std::unique_lock lock(m);
      worker_tid = tid;
      stage = 1;
      cv.notify_all();
      cv.wait_for(lock, 15s, [&] { return stage == 2; });
      worker_consumed = consume(SIGUSR1);
    });
    {
      std::unique_lock lock(m);
      REQUIRE(cv.wait_for(lock, 15s, [&] { return stage == 1; }));
    }
    sigkit::scoped_block main_block{{sigkit::user2}};  // after the worker started: it does not inherit this

    const auto p = sigkit::inspect(me);
    CHECK(p.blocked.contains(sigkit::user2));        // the main thread's mask
    CHECK_FALSE(p.blocked.contains(sigkit::user1));  // only the worker blocks it
    CHECK_FALSE(p.pending.contains(sigkit::user1));  // pending for the worker, not the process

    const auto threads = sigkit::inspect_threads(me);
    const auto* main_thread = find_thread(threads, me);
    const auto* worker_thread = find_thread(threads, worker_tid);
    REQUIRE(main_thread != nullptr);
    REQUIRE(worker_thread != nullptr);
    CHECK(main_thread->blocked == signal_set{sigkit::user2});
    CHECK(worker_thread->blocked == signal_set{sigkit::user1});
    CHECK(worker_thread->pending == signal_set{sigkit::user1});
    CHECK(main_thread->pending.empty());
    std::vector<pid_t> blocking_user1;
    for (const auto& t : threads) {
      // TSan's own background thread blocks every signal: not ours to count.
      if (sigkit_test::under_tsan && t.tid != me && t.tid != worker_tid) continue;
      if (t.blocked.contains(sigkit::user1)) blocking_user1.push_back(t.tid);
    }
    CHECK(blocking_user1 == std::vector<pid_t>{worker_tid});   // exactly that thread
    if (!sigkit_test::under_tsan) CHECK(threads.size() == 2);  // TSan may add a thread of its own

    const auto user1 = sigkit::receiving_threads(threads, sigkit::user1);
    CHECK(std::find(user1.begin(), user1.end(), me) != user1.end());
    CHECK(std::find(user1.begin(), user1.end(), worker_tid) == user1.end());
    const auto user2 = sigkit::receiving_threads(threads, sigkit::user2);
    CHECK(std::find(user2.begin(), user2.end(), me) == user2.end());
    CHECK(std::find(user2.begin(), user2.end(), worker_tid) != user2.end());

    {
      std::lock_guard lock(m);
      stage = 2;
    }
    cv.notify_all();
    worker.join();
    CHECK(worker_consumed);
  });
}

TEST_CASE("inspecting a child process shows its name, parent, thread and signal state" * doctest::skip(!have_proc)) {
  in_child([] {
    int ready[2], hold[2];
    REQUIRE(::pipe2(ready, O_CLOEXEC) == 0);
    REQUIRE(::pipe2(hold, O_CLOEXEC) == 0);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      ::close(ready[0]);
      ::close(hold[1]);
      ::prctl(PR_SET_NAME, "sigkit-target");
      auto ignored = sigkit::ignore(sigkit::terminate);
      sigkit::stream usr2{{sigkit::user2}};
      sigkit::scoped_block block{{sigkit::quit}};
      ::kill(::getpid(), SIGQUIT);  // stays pending for the process
      (void)!::write(ready[1], "r", 1);
      char c;
      while (::read(hold[0], &c, 1) < 0 && errno == EINTR) {
      }
      ::_exit(consume(SIGQUIT) ? 0 : 3);
    }
    ::close(ready[1]);
    ::close(hold[0]);
    char c = 0;
    REQUIRE(::read(ready[0], &c, 1) == 1);

    const sigkit::proc_status s = sigkit::inspect_status(child);
    CHECK(s.name == "sigkit-target");
    CHECK(s.pid == child);
    CHECK(s.tgid == child);
    CHECK(s.ppid == ::getpid());
    if (sigkit_test::under_tsan)
      CHECK(s.threads >= 1);  // TSan starts a thread of its own in a forked child
    else
      CHECK(s.threads == 1);
    CHECK(s.ignored.contains(sigkit::terminate));
    CHECK(s.caught.contains(sigkit::user2));
    CHECK(s.blocked == signal_set{sigkit::quit});
    CHECK(s.shared_pending == signal_set{sigkit::quit});
    CHECK(sigkit::inspect(child) == s.signals());
    auto threads = sigkit::inspect_threads(child);
    if (sigkit_test::under_tsan)  // leave out TSan's own thread
      std::erase_if(threads, [&](const sigkit::thread_signals& t) { return t.tid != child; });
    REQUIRE(threads.size() == 1);
    CHECK(threads[0].tid == child);
    CHECK(threads[0].name == "sigkit-target");
    CHECK(threads[0].blocked == signal_set{sigkit::quit});
    CHECK(sigkit::receiving_threads(threads, sigkit::quit).empty());
    CHECK(sigkit::receiving_threads(threads, sigkit::user2) == std::vector<pid_t>{child});

    ::close(hold[1]);  // lets the child end
    ::close(ready[0]);
    const int status = sigkit_test::wait_pid_for(child, 10s);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  });
}

TEST_CASE("inspect_status follows a child from running to stopped to zombie, and inspect_children lists it" *
          doctest::skip(!have_proc)) {
  in_child([] {
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      for (;;) ::pause();
    }
    CHECK(sigkit::inspect_children(::getpid()) == std::vector<pid_t>{child});
    CHECK(sigkit::inspect_status(child).ppid == ::getpid());
    REQUIRE(::kill(child, SIGSTOP) == 0);
    CHECK(sigkit_test::wait_until([&] { return sigkit::inspect_status(child).state == 'T'; }, 5s));
    REQUIRE(::kill(child, SIGKILL) == 0);
    CHECK(sigkit_test::wait_until([&] { return sigkit::inspect_status(child).state == 'Z'; }, 5s));
    CHECK(sigkit::inspect_children(::getpid()) == std::vector<pid_t>{child});  // a child until reaped
    CHECK(WIFSIGNALED(sigkit_test::wait_pid_for(child, 5s)));
    CHECK(sigkit::inspect_children(::getpid()).empty());
    CHECK(sigkit::inspect_status(::getpid()).state == 'R');  // this thread, reading its own state
  });
}

TEST_CASE("SigQ counts a queued signal against RLIMIT_SIGPENDING" * doctest::skip(!have_proc)) {
  in_child([] {
    const sigkit::signal rt = sigkit::realtime(2);
    sigkit::scoped_block hold{{rt}};
    rlimit lim{};
    REQUIRE(::getrlimit(RLIMIT_SIGPENDING, &lim) == 0);
    const sigkit::proc_status before = sigkit::inspect_status(::getpid());
    CHECK(static_cast<rlim_t>(before.queued_limit) == lim.rlim_cur);
    REQUIRE(::sigqueue(::getpid(), rt.number(), sigval{}) == 0);
    const sigkit::proc_status after = sigkit::inspect_status(::getpid());
    CHECK(after.queued >= 1);  // every process of this user counts: only a lower bound holds
    CHECK(after.shared_pending.contains(rt));
    CHECK(consume(rt.number()));
  });
}

// ---- errors

TEST_CASE("a pid that does not exist gives ESRCH naming the pid and the file" * doctest::skip(!have_proc)) {
  const pid_t none = above_pid_max();
  const std::string n = std::to_string(none);
  const int fds = sigkit_test::open_fd_count();
  auto expect_esrch = [&](auto call, const std::string& what) {
    try {
      call();
      FAIL_CHECK("no exception for " << what);
    } catch (const std::system_error& e) {
      CHECK(e.code() == std::errc::no_such_process);
      CHECK_MESSAGE(std::string(e.what()).find(what) != std::string::npos, e.what());
    }
  };
  expect_esrch([&] { (void)sigkit::inspect(none); }, "sigkit: inspect(" + n + "): /proc/" + n + "/status: ");
  expect_esrch([&] { (void)sigkit::inspect_status(none); }, "inspect_status(" + n + "): /proc/" + n + "/status");
  expect_esrch([&] { (void)sigkit::inspect_threads(none); }, "inspect_threads(" + n + "): /proc/" + n + "/task");

  std::error_code ec;
  CHECK(sigkit::inspect(none, ec) == sigkit::process_signals{});
  CHECK(ec == std::errc::no_such_process);
  ec.clear();
  CHECK_FALSE(sigkit::inspect_status(none, ec).has_value());
  CHECK(ec == std::errc::no_such_process);
  ec.clear();
  CHECK(sigkit::inspect_threads(none, ec).empty());
  CHECK(ec == std::errc::no_such_process);
  CHECK(sigkit_test::open_fd_count() == fds);
}

TEST_CASE("pid 0 and negative pids are refused with invalid_argument") {
  for (pid_t bad : {0, -1, -12345, static_cast<pid_t>(INT32_MIN)}) {
    CAPTURE(bad);
    const std::string message = "sigkit: inspect(" + std::to_string(bad) + "): not a process id (it must be > 0)";
    CHECK_THROWS_WITH_AS((void)sigkit::inspect(bad), message.c_str(), std::invalid_argument);
    CHECK_THROWS_AS((void)sigkit::inspect_status(bad), std::invalid_argument);
    CHECK_THROWS_AS((void)sigkit::inspect_threads(bad), std::invalid_argument);
    std::error_code ec;
    (void)sigkit::inspect(bad, ec);
    CHECK(ec == std::errc::invalid_argument);
    ec.clear();
    CHECK_FALSE(sigkit::inspect_status(bad, ec).has_value());
    CHECK(ec == std::errc::invalid_argument);
    ec.clear();
    CHECK(sigkit::inspect_threads(bad, ec).empty());
    CHECK(ec == std::errc::invalid_argument);
    CHECK_THROWS_AS((void)sigkit::inspect_children(bad), std::invalid_argument);
  }
}

TEST_CASE("unreadable, malformed and vanishing /proc files give clear errors" * doctest::skip(!have_proc)) {
  // A fake /proc tree: pid 100 is unreadable, 200 is malformed, 300 has one
  // live thread and one that ended, 400's threads have all ended.
  char dir_template[] = "/tmp/sigkit-inspect-XXXXXX";
  REQUIRE(::mkdtemp(dir_template) != nullptr);
  const std::filesystem::path root = dir_template;
  namespace fs = std::filesystem;
  fs::permissions(root, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec | fs::perms::others_read |
                            fs::perms::others_exec);
  auto put_file = [](const fs::path& path, std::string_view text) {
    fs::create_directories(path.parent_path());
    std::ofstream(path) << text;
  };
  fs::create_directories(root / "self");
  put_file(root / "100/status", minimal);
  fs::permissions(root / "100/status", fs::perms::none);
  put_file(root / "200/status", with_line(minimal, "SigIgn", "SigIgn:\tnope"));
  put_file(root / "300/status", minimal);
  put_file(root / "300/task/300/status", minimal);
  fs::create_directories(root / "300/task/301");  // ended: no status file
  fs::create_directories(root / "300/task/not-a-tid");
  fs::create_directories(root / "400/task/401");
  const std::string r = root.string();

  const auto result = sigkit_test::run_child([&] {
    if (::geteuid() == 0) {  // root reads anything: become nobody
      REQUIRE(::setgid(65534) == 0);
      REQUIRE(::setuid(65534) == 0);
    }
    std::error_code ec;
    std::string where;
    CHECK_FALSE(sigkit::detail::inspect_status_at(r, 100, ec, where).has_value());
    CHECK(ec == std::errc::permission_denied);
    CHECK(where == r + "/100/status");
    try {
      sigkit::detail::throw_inspect_error("inspect", 100, where, ec);
    } catch (const std::system_error& e) {
      CHECK(std::string(e.what()) == "sigkit: inspect(100): " + r + "/100/status: Permission denied");
    }
  });
  CHECK_MESSAGE((result.exited && result.code == 0), "forked test body " << result.describe());

  std::error_code ec;
  std::string where;
  CHECK_FALSE(sigkit::detail::inspect_status_at(r, 200, ec, where).has_value());
  CHECK(ec == std::errc::bad_message);
  CHECK(where == r + "/200/status: line 9 (SigIgn): not a hexadecimal signal mask: \"nope\"");

  const auto threads = sigkit::detail::read_threads_at(r, 300, ec, where);
  CHECK_FALSE(ec);
  REQUIRE(threads.size() == 1);
  CHECK(threads[0].tid == 300);
  CHECK(threads[0].name == "mini");

  CHECK(sigkit::detail::read_threads_at(r, 400, ec, where).empty());
  CHECK(ec == std::errc::no_such_process);
  CHECK(sigkit::detail::read_threads_at(r, 500, ec, where).empty());
  CHECK(ec == std::errc::no_such_process);
  CHECK(where == r + "/500/task");

  // Without a "self" entry the tree is not a /proc: ENOENT stands.
  fs::remove(root / "self");
  CHECK_FALSE(sigkit::detail::inspect_status_at(r, 500, ec, where).has_value());
  CHECK(ec == std::errc::no_such_file_or_directory);
  fs::remove_all(root);
}

TEST_CASE("inspecting leaves no descriptor open, on success or failure" * doctest::skip(!have_proc)) {
  const int fds = sigkit_test::open_fd_count();
  const pid_t none = above_pid_max();
  for (int i = 0; i < 50; ++i) {
    std::error_code ec;
    (void)sigkit::inspect(::getpid());
    (void)sigkit::inspect_threads(::getpid());
    (void)sigkit::inspect(none, ec);
    (void)sigkit::inspect_threads(none, ec);
  }
  CHECK(sigkit_test::open_fd_count() == fds);
}

TEST_CASE("without /proc every inspect call fails with ENOTSUP naming the pid" * doctest::skip(have_proc)) {
  const pid_t me = ::getpid();
  const std::string file = "/proc/" + std::to_string(me) + "/";
  try {
    (void)sigkit::inspect(me);
    FAIL_CHECK("no exception");
  } catch (const std::system_error& e) {
    CHECK(e.code() == std::errc::not_supported);
    CHECK_MESSAGE(
        std::string(e.what()).find("inspect(" + std::to_string(me) + "): " + file + "status") != std::string::npos,
        e.what());
  }
  CHECK_THROWS_AS((void)sigkit::inspect_status(me), std::system_error);
  CHECK_THROWS_AS((void)sigkit::inspect_threads(me), std::system_error);
  std::error_code ec;
  CHECK(sigkit::inspect(me, ec) == sigkit::process_signals{});
  CHECK(ec == std::errc::not_supported);
  ec.clear();
  CHECK_FALSE(sigkit::inspect_status(me, ec).has_value());
  CHECK(ec == std::errc::not_supported);
  ec.clear();
  CHECK(sigkit::inspect_threads(me, ec).empty());
  CHECK(ec == std::errc::not_supported);
  ec.clear();
  CHECK(sigkit::inspect_children(me, ec).empty());
  CHECK(ec == std::errc::not_supported);
  CHECK_THROWS_AS((void)sigkit::inspect_children(me), std::system_error);
  CHECK_THROWS_AS((void)sigkit::inspect(0), std::invalid_argument);  // bad input is still bad input
}
