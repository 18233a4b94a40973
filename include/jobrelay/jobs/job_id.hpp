// Job ids are capabilities (API.md): 128 bits from the OS CSPRNG, base64url.
#pragma once

#include <string>
#include <string_view>

namespace jobrelay::jobs {

// "j_" + 22 base64url characters (128 random bits).
std::string new_job_id();

// Shape check before any lookup, so junk never reaches the store.
bool is_valid_job_id(std::string_view id);

}  // namespace jobrelay::jobs
