#include "jobrelay/time_format.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <ctime>
#include <random>

using namespace jobrelay;
using namespace std::chrono;

namespace {

// The libc formatting the calendar arithmetic replaced: the oracle.
std::string with_gmtime(system_time t) {
  const auto ms = floor<milliseconds>(t).time_since_epoch().count();
  const std::time_t secs = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  const int millis = static_cast<int>(ms - static_cast<long long>(secs) * 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  return buf;
}

system_time at_ms(long long ms) {
  return system_time{duration_cast<system_time::duration>(milliseconds(ms))};
}

}  // namespace

TEST(TimeFormat, KnownInstants) {
  EXPECT_EQ(format_rfc3339(at_ms(0)), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_rfc3339(at_ms(1'800'000'000'000)), "2027-01-15T08:00:00.000Z");
  EXPECT_EQ(format_rfc3339(at_ms(951'782'400'123)), "2000-02-29T00:00:00.123Z");  // leap day
  EXPECT_EQ(format_rfc3339(at_ms(-1)), "1969-12-31T23:59:59.999Z");               // floored
  // Sub-millisecond parts are dropped, never rounded up into the next second.
  EXPECT_EQ(format_rfc3339(at_ms(1'999) + microseconds(999)), "1970-01-01T00:00:01.999Z");
}

TEST(TimeFormat, AgreesWithGmtimeFrom1900To2255) {
  std::mt19937_64 rng(20261123);
  // 1900 to 2255 (system_clock counts nanoseconds: ±292 years), millisecond resolution.
  std::uniform_int_distribution<long long> ms(-2'208'988'800'000LL, 9'000'000'000'000LL);
  for (int i = 0; i < 20000; ++i) {
    const auto t = at_ms(ms(rng));
    ASSERT_EQ(format_rfc3339(t), with_gmtime(t)) << t.time_since_epoch().count();
  }
}

TEST(TimeFormat, AppendsToWhatIsThere) {
  std::string out = "at ";
  append_rfc3339(out, at_ms(0));
  EXPECT_EQ(out, "at 1970-01-01T00:00:00.000Z");
}
