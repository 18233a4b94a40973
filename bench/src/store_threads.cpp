// How the in-memory store's reads scale with threads: each thread looks up
// random jobs of a table of 10,000 for a fixed time, pinned to its own core
// where there are enough. Prints lookups per second in total and per thread;
// compare the per-thread figure of 1 thread with that of N.
//   jobrelay-bench-store-threads [THREADS=1] [SECONDS=2]
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "jobrelay/jobs/job_id.hpp"
#include "jobrelay/store/memory_store.hpp"
#include "pinned_threads.hpp"

using namespace jobrelay;

int main(int argc, char** argv) {
  const auto args = bench::parse_thread_args(argc, argv);
  const system_clock_source clock;
  store::memory_store store({1'000'000, 1ull << 34, std::chrono::hours(1)}, clock);
  std::vector<std::string> ids;
  for (int i = 0; i < 10'000; ++i) {
    jobs::job_state s;
    s.id = jobs::new_job_id();
    s.status = jobs::job_status::running;
    ids.push_back(s.id);
    if (!store.insert_now(std::make_shared<const jobs::job_snapshot>(std::move(s)))) return 1;
  }
  const double rate = bench::ops_per_second(args, [&](int t, const std::atomic<bool>& stop) {
    std::minstd_rand pick(static_cast<unsigned>(t) + 1);
    std::uint64_t found = 0;
    while (!stop.load(std::memory_order_relaxed))
      for (int k = 0; k < 256; ++k) found += store.find_now(ids[pick() % ids.size()]).has_value();
    return found;
  });
  std::printf("threads=%d lookups/s=%.2fM per-thread=%.2fM\n", args.threads, rate / 1e6,
              rate / 1e6 / args.threads);
}
