// Tests for sigkit/signal.hpp: names both ways, strict parsing, properties,
// signal_set algebra and conversions.
#include <sigkit/signal.hpp>

#include <cstring>
#include <set>
#include <string>

#include <doctest/doctest.h>

// `using sigkit::signal;` at global scope would clash with ::signal() from
// <signal.h>, so this file says `sig`.
using sig = sigkit::signal;
using sigkit::signal_set;

TEST_CASE("every valid signal's name parses back to the same number") {
  for (int n = 1; n < NSIG; ++n) {
    const sig s{n};
    const std::string name(s.name());
    CAPTURE(name);
    REQUIRE(s.valid());
    auto p = sig::parse(name);
    REQUIRE(p.has_value());
    CHECK(p->number() == n);
    // Without the SIG prefix, lower-case, and as a number.
    CHECK(sig::parse(name.substr(3))->number() == n);
    std::string lower = name;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    CHECK(sig::parse(lower)->number() == n);
    CHECK(sig::parse(std::to_string(n))->number() == n);
    CHECK(sig::from_name(name) == s);
  }
}

TEST_CASE("names are unique and canonical") {
  std::set<std::string> seen;
  for (int n = 1; n < NSIG; ++n) CHECK(seen.insert(std::string(sig{n}.name())).second);
  CHECK(sigkit::interrupt.name() == "SIGINT");
  CHECK(sigkit::terminate.name() == "SIGTERM");
  CHECK(sig{SIGRTMIN}.name() == "SIGRTMIN");
  CHECK(sig{SIGRTMIN + 3}.name() == "SIGRTMIN+3");
  CHECK(sig{SIGRTMAX - 2}.name() == "SIGRTMAX-2");
  CHECK(sig{SIGRTMAX}.name() == "SIGRTMAX");
}

TEST_CASE("parse accepts the documented spellings") {
  CHECK(sig::parse("INT")->number() == SIGINT);
  CHECK(sig::parse("SIGINT")->number() == SIGINT);
  CHECK(sig::parse("sigint")->number() == SIGINT);
  CHECK(sig::parse("SigInt")->number() == SIGINT);
  CHECK(sig::parse("2")->number() == SIGINT);
  CHECK(sig::parse("RTMIN+1")->number() == SIGRTMIN + 1);
  CHECK(sig::parse("SIGRTMAX-2")->number() == SIGRTMAX - 2);
  CHECK(sig::parse("rtmin")->number() == SIGRTMIN);
  CHECK(sig::parse("SIGRTMIN+0")->number() == SIGRTMIN);
  CHECK(sig::parse("RTMAX-0")->number() == SIGRTMAX);
  CHECK(sig::parse("IOT")->number() == SIGABRT);
  CHECK(sig::parse("SIGCLD")->number() == SIGCHLD);
  CHECK(sig::parse("POLL")->number() == SIGIO);
  CHECK(sig::parse(std::to_string(NSIG - 1))->number() == NSIG - 1);
}

TEST_CASE("parse refuses garbage, padding, junk and out-of-range numbers") {
  const char* garbage[] = {"",         " ",       "SIG",       "sig",      "INT ",     " INT",        "INT\n",
                           "SIGINTX",  "XSIGINT", "SIG INT",   "SIG-INT",  "0",        "-2",          "+2",
                           "02",       "2x",      "2 ",        "65",       "99999",    "1e1",         "0x2",
                           "RTMIN+",   "RTMIN-1", "RTMAX+1",   "RTMIN+99", "RTMAX-99", "SIGRTMIN++1", "RTMIN+ 1",
                           "RTMIN+01", "RTMINX",  "SIGSIGINT", "KILLALL",  "SIG0",     "SIG65",       "\xff"};
  for (const char* g : garbage) {
    const std::string text = g;
    CAPTURE(text);
    CHECK_FALSE(sig::parse(g).has_value());
  }
  CHECK_FALSE(sig::parse(std::string_view("INT\0", 4)).has_value());
  CHECK_FALSE(sig::parse(std::to_string(NSIG)).has_value());
  CHECK_FALSE(sig::parse("RTMIN+" + std::to_string(SIGRTMAX - SIGRTMIN + 1)).has_value());
  CHECK_THROWS_WITH_AS(sig::from_name("NOPE"), doctest::Contains("\"NOPE\" is not a signal"), std::invalid_argument);
}

TEST_CASE("properties follow signal(7)") {
  CHECK_FALSE(sig{SIGKILL}.catchable());
  CHECK_FALSE(sig{SIGSTOP}.catchable());
  CHECK(sig{SIGINT}.catchable());
  CHECK_FALSE(sig{0}.valid());
  CHECK_FALSE(sig{NSIG}.valid());
  CHECK_FALSE(sig{-1}.catchable());
  for (int n : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS}) CHECK(sig{n}.synchronous());
  for (int n : {SIGINT, SIGTERM, SIGABRT, SIGCHLD, SIGUSR1}) CHECK_FALSE(sig{n}.synchronous());
  CHECK(sig{SIGRTMIN}.realtime());
  CHECK(sig{SIGRTMAX}.realtime());
  CHECK_FALSE(sig{SIGUSR1}.realtime());
  // glibc keeps the first kernel real-time signals for itself.
  for (int n = 32; n < SIGRTMIN; ++n) CHECK_FALSE(sig{n}.catchable());

  using a = sig::action;
  CHECK(sig{SIGINT}.default_action() == a::terminate);
  CHECK(sig{SIGQUIT}.default_action() == a::core);
  CHECK(sig{SIGSEGV}.default_action() == a::core);
  CHECK(sig{SIGTSTP}.default_action() == a::stop);
  CHECK(sig{SIGSTOP}.default_action() == a::stop);
  CHECK(sig{SIGCONT}.default_action() == a::cont);
  CHECK(sig{SIGCHLD}.default_action() == a::ignore);
  CHECK(sig{SIGWINCH}.default_action() == a::ignore);
  CHECK(sig{SIGRTMIN + 2}.default_action() == a::terminate);

  CHECK(sigkit::interrupt.description() == "Interrupt");
  // Every named signal's description matches the C library's wording.
  for (int n = 1; n < 32; ++n) {
    if (!sig{n}.catchable() && n != SIGKILL && n != SIGSTOP) continue;
    CAPTURE(n);
    CHECK(sig{n}.description() == std::string_view(::strsignal(n)));
  }
}

TEST_CASE("realtime offsets are checked") {
  CHECK(sigkit::realtime(0).number() == SIGRTMIN);
  CHECK(sigkit::realtime(SIGRTMAX - SIGRTMIN).number() == SIGRTMAX);
  CHECK_THROWS_AS(sigkit::realtime(-1), std::invalid_argument);
  CHECK_THROWS_WITH_AS(sigkit::realtime(SIGRTMAX - SIGRTMIN + 1), doctest::Contains("out of range"),
                       std::invalid_argument);
}

TEST_CASE("signal_set inserts, erases, iterates in order and does set algebra") {
  signal_set s{sigkit::terminate, sigkit::interrupt, sigkit::hangup};
  CHECK(s.size() == 3);
  CHECK(s.contains(sigkit::interrupt));
  CHECK_FALSE(s.contains(sigkit::user1));
  CHECK_FALSE(s.insert(sigkit::interrupt));
  CHECK(s.insert(sigkit::user1));
  CHECK(s.erase(sigkit::user1));
  CHECK_FALSE(s.erase(sigkit::user1));
  std::string order;
  for (sig x : s) order += std::string(x.name()) + " ";
  CHECK(order == "SIGHUP SIGINT SIGTERM ");
  CHECK(s.to_string() == "{SIGHUP, SIGINT, SIGTERM}");

  const signal_set t{sigkit::interrupt, sigkit::user2};
  CHECK((s | t) == signal_set{sigkit::hangup, sigkit::interrupt, sigkit::terminate, sigkit::user2});
  CHECK((s & t) == signal_set{sigkit::interrupt});
  CHECK((s - t) == signal_set{sigkit::hangup, sigkit::terminate});
  CHECK((s ^ t) == signal_set{sigkit::hangup, sigkit::terminate, sigkit::user2});
  CHECK((~s).size() == static_cast<std::size_t>(NSIG - 1 - 3));
  CHECK(signal_set{}.empty());
  CHECK(signal_set::full().size() == static_cast<std::size_t>(NSIG - 1));
  CHECK_THROWS_WITH_AS(signal_set{sig{0}}, doctest::Contains("signal 0 is not a valid signal number"),
                       std::invalid_argument);
  CHECK_THROWS_AS(s.insert(sig{NSIG}), std::invalid_argument);
  CHECK_FALSE(s.contains(sig{-5}));
}

TEST_CASE("signal_set converts to and from sigset_t exactly") {
  sigset_t raw;
  sigemptyset(&raw);
  sigaddset(&raw, SIGINT);
  sigaddset(&raw, SIGRTMAX);
  sigaddset(&raw, 1);
  const signal_set s(raw);
  CHECK(s == signal_set{sig{1}, sigkit::interrupt, sig{SIGRTMAX}});
  const sigset_t back = s.to_sigset();
  for (int n = 1; n < NSIG; ++n) CHECK(sigismember(&back, n) == sigismember(&raw, n));
  sigset_t full;
  sigfillset(&full);
  CHECK(signal_set(full).size() >= static_cast<std::size_t>(NSIG - 3));
}

TEST_CASE("to_sigset round-trips every catchable signal and leaves out only glibc's reserved ones") {
  signal_set catchable, reserved;
  for (int n = 1; n < NSIG; ++n) {
    if (sig{n}.catchable())
      catchable.insert(sig{n});
    else if (n != SIGKILL && n != SIGSTOP)
      reserved.insert(sig{n});
  }
  CHECK(signal_set(catchable.to_sigset()) == catchable);
  const signal_set both = catchable | reserved;
  CHECK(signal_set(both.to_sigset()) == catchable);  // as documented on to_sigset()
#ifdef __linux__
  CHECK(reserved == signal_set{sig{32}, sig{33}});
#endif
}

TEST_CASE("all_forwardable holds every catchable asynchronous signal but SIGCHLD, SIGIO included") {
  const signal_set f = sigkit::all_forwardable();
  CHECK(f.contains(sig{SIGIO}));  // its default action would kill a forwarder that left it out
  for (int n = 1; n < NSIG; ++n) {
    const sig s{n};
    const bool expect = s.catchable() && !s.synchronous() && n != SIGCHLD;
    CAPTURE(s.name());
    CHECK(f.contains(s) == expect);
  }
  CHECK(f.contains(sig{SIGRTMIN}));
  CHECK(f.contains(sig{SIGRTMAX}));
  CHECK(f.contains(sigkit::terminal_stop));
  CHECK_FALSE(f.contains(sig{SIGKILL}));
}

TEST_CASE("signals are constexpr, ordered values") {
  static_assert(sigkit::interrupt.number() == SIGINT);
  static_assert(sig{1} < sig{2});
  static_assert(sig{SIGSEGV}.synchronous());
  static_assert(!sig{0}.valid());
  constexpr signal_set cs = [] {
    signal_set x;
    x.insert(sig{SIGINT});
    return x;
  }();
  static_assert(cs.contains(sig{SIGINT}));
  CHECK(cs.size() == 1);
}

TEST_CASE("an int constant converts to a signal, and a signal compares with a number both ways") {
  // The implicit conversion from an int constant is checked at compile time
  // (tests/compile_fail/ has the refusals): here, what it yields.
  constexpr sig from_constant = SIGTERM;
  static_assert(from_constant == sigkit::terminate);
  const signal_set set{SIGINT, SIGUSR1};
  CHECK(set.contains(sigkit::interrupt));
  CHECK(set.contains(SIGUSR1));
  CHECK(set.size() == 2);
  // Comparisons with a number, run-time ones included.
  const int two = SIGINT;
  CHECK(sigkit::interrupt == two);
  CHECK(two == sigkit::interrupt);
  CHECK(sigkit::interrupt != SIGTERM);
  CHECK(sigkit::realtime(1) > SIGRTMIN);
  CHECK(sigkit::realtime(0) >= SIGRTMIN);
  CHECK(SIGRTMIN < sigkit::realtime(1));
  // catchable_signal keeps the signal it was given (a checked constant, or
  // a sigkit::signal checked where it is used).
  constexpr sigkit::catchable_signal pipe = SIGPIPE;
  static_assert(sig(pipe) == sigkit::pipe);
  const sigkit::catchable_signal runtime = sig{two};
  CHECK(sig(runtime) == sigkit::interrupt);
}
