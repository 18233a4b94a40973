// RFC 3339 UTC timestamps with milliseconds, as every document carries them.
#pragma once

#include <string>

#include "jobrelay/clock.hpp"

namespace jobrelay {

std::string format_rfc3339(system_time t);

}  // namespace jobrelay
