// How a job is written into a shared store (Redis): its state as a small JSON
// text ("meta"), with the result kept apart as the upstream's JSON text, so a
// large result is neither escaped into a string nor parsed again on reads.
// Pure functions: unit-tested without a store.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "jobrelay/error.hpp"
#include "jobrelay/jobs/job.hpp"

namespace jobrelay::store {

// `s.result_json` is not written: pass the result separately to the store.
std::string encode_meta(const jobs::job_state& s, std::chrono::milliseconds next_poll);

struct decoded_job {
  jobs::job_state state;
  std::chrono::milliseconds next_poll{0};
};

// errc::store_unavailable for a record this version cannot read (it is
// logged by the caller; a record is never trusted into a crash).
result<decoded_job> decode_job(std::string_view meta, std::string_view result_json);

}  // namespace jobrelay::store
