#include "jobrelay/time_format.hpp"

#include <chrono>
#include <cstdio>

namespace jobrelay {

namespace {

void put_digits(char* at, unsigned value, int width) {
  for (int i = width - 1; i >= 0; --i) {
    at[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
}

}  // namespace

void append_rfc3339(std::string& out, system_time t) {
  using namespace std::chrono;
  // Calendar arithmetic rather than gmtime_r + snprintf: glibc's gmtime_r
  // takes the time-zone lock and snprintf parses its format every time.
  const auto ms = floor<milliseconds>(t);
  const auto day = floor<days>(ms);
  const year_month_day date{day};
  const hh_mm_ss<milliseconds> time{ms - day};
  const int year = static_cast<int>(date.year());
  if (year < 0 || year > 9999) {  // not a time a job has; printed plainly all the same
    char buf[48];
    const int n = std::snprintf(
        buf, sizeof buf, "%d-%02u-%02uT%02d:%02d:%02d.%03dZ", year,
        static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
        static_cast<int>(time.hours().count()), static_cast<int>(time.minutes().count()),
        static_cast<int>(time.seconds().count()), static_cast<int>(time.subseconds().count()));
    out.append(buf, static_cast<std::size_t>(n));
    return;
  }
  char buf[] = "0000-00-00T00:00:00.000Z";
  put_digits(buf, static_cast<unsigned>(year), 4);
  put_digits(buf + 5, static_cast<unsigned>(date.month()), 2);
  put_digits(buf + 8, static_cast<unsigned>(date.day()), 2);
  put_digits(buf + 11, static_cast<unsigned>(time.hours().count()), 2);
  put_digits(buf + 14, static_cast<unsigned>(time.minutes().count()), 2);
  put_digits(buf + 17, static_cast<unsigned>(time.seconds().count()), 2);
  put_digits(buf + 20, static_cast<unsigned>(time.subseconds().count()), 3);
  out.append(buf, sizeof buf - 1);
}

std::string format_rfc3339(system_time t) {
  std::string out;
  append_rfc3339(out, t);
  return out;
}

}  // namespace jobrelay
