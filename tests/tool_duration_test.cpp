// The duration syntax of the tools' command lines (tools/common/duration.hpp:
// sigkit-run's --kill-after and --grace, sigkit-parallel's --timeout and
// --grace), at every boundary: zero, the smallest positive values, the
// largest, past the largest, and what is not a duration.
#include "../tools/common/duration.hpp"

#include <chrono>
#include <optional>
#include <string>

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using ns = std::chrono::nanoseconds;

namespace {

std::optional<ns> parse(const std::string& text) {
  std::string why;
  auto d = sigkit_tools::parse_duration(text, why);
  CHECK(d.has_value() == why.empty());
  return d;
}

std::string refusal(const std::string& text) {
  std::string why;
  CHECK_FALSE(sigkit_tools::parse_duration(text, why).has_value());
  return why;
}

}  // namespace

TEST_CASE("the tools read seconds, ms and m, and a bare number as seconds") {
  CHECK(parse("10s") == ns(10s));
  CHECK(parse("10") == ns(10s));
  CHECK(parse("1.5") == ns(1500ms));
  CHECK(parse("500ms") == ns(500ms));
  CHECK(parse("2m") == ns(2min));
  CHECK(parse("0.25m") == ns(15s));
}

TEST_CASE("zero is zero, and a positive duration is never read as zero") {
  for (const char* zero : {"0", "0s", "0ms", "0m", "0.0", "-0"}) {
    CAPTURE(zero);
    CHECK(parse(zero) == ns::zero());
  }
  CHECK(parse("1e-9") == ns(1));
  for (const char* tiny : {"1e-12", "1e-300", "4.9e-324", "1e-400", "1e-400ms", "0.0000000001ms"}) {
    CAPTURE(tiny);
    CHECK(parse(tiny) == ns(1));  // the smallest there is, not "none"
  }
}

TEST_CASE("decimal values are rounded to the nearest nanosecond, not truncated") {
  CHECK(parse("1.001") == ns(1'001'000'000));
  CHECK(parse("8.2ms") == ns(8'200'000));
  CHECK(parse("1001ms") == ns(1'001'000'000));
  CHECK(parse("0.1") == ns(100'000'000));
  CHECK(parse("2.6e-9") == ns(3));
}

TEST_CASE("a duration past what nanoseconds can count is nanoseconds::max(), never a wrapped value") {
  CHECK(parse("9e9") == ns(std::chrono::seconds(9'000'000'000LL)));
  // The largest that still fits (2^63 ns is 9.223372036854775808e9 s).
  const auto below = parse("9.2233720368547e9");
  REQUIRE(below.has_value());
  CHECK(*below < ns::max());
  CHECK(*below > ns(std::chrono::seconds(9'223'372'036LL)));
  for (const char* huge :
       {"9.2233720368548e9", "9.3e9", "1e12", "1e300", "1e400", "inf", "infinity", "1e300m", "1e307m", "1e12ms"}) {
    CAPTURE(huge);
    const auto d = parse(huge);
    REQUIRE(d.has_value());
    CHECK(*d > ns::zero());
    if (std::string(huge) != "1e12ms") CHECK(*d == ns::max());
  }
  CHECK(parse("1e12ms") == ns(std::chrono::seconds(1'000'000'000LL)));
}

TEST_CASE("negative values, nan, empty text and unknown units are refused, naming the text") {
  for (const char* bad :
       {"-1", "-1s", "-1e-12", "-1e-400", "-1e400", "-inf", "nan", "-nan", "", "s", "ms", "x", " 1", "+1"}) {
    CAPTURE(bad);
    const auto why = refusal(bad);
    CHECK(why.find("bad duration '" + std::string(bad) + "'") != std::string::npos);
  }
  for (const char* bad_unit : {"5x", "5 s", "5sec", "5h", "1e3d", "5s5"}) {
    CAPTURE(bad_unit);
    const auto why = refusal(bad_unit);
    CHECK(why.find("bad duration unit") != std::string::npos);
    CHECK(why.find(bad_unit) != std::string::npos);
  }
}
