// RFC 3339 UTC timestamps with milliseconds, as every document carries them.
#pragma once

#include <string>

#include "jobrelay/clock.hpp"

namespace jobrelay {

std::string format_rfc3339(system_time t);
// The same, appended: a job document writes two per version.
void append_rfc3339(std::string& out, system_time t);

}  // namespace jobrelay
