// How the in-memory store's reads scale with threads: each thread looks up
// random jobs of a table of 10,000 for a fixed time, pinned to its own core
// where there are enough. Prints lookups per second in total and per thread;
// compare the per-thread figure of 1 thread with that of N.
//   jobrelay-bench-store-threads [THREADS=1] [SECONDS=2]
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>
#include <vector>

#include "jobrelay/jobs/job_id.hpp"
#include "jobrelay/store/memory_store.hpp"

using namespace jobrelay;

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 1;
  const int seconds = argc > 2 ? std::atoi(argv[2]) : 2;
  if (threads < 1 || seconds < 1) {
    std::fprintf(stderr, "usage: %s [THREADS>=1] [SECONDS>=1]\n", argv[0]);
    return 2;
  }
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

  struct alignas(64) tally {
    std::uint64_t found = 0;
  };
  std::vector<tally> tallies(threads);
  std::atomic<bool> go{false}, stop{false};
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&, t] {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(t % cores, &set);
      pthread_setaffinity_np(pthread_self(), sizeof set, &set);
      std::minstd_rand pick(t + 1);
      std::uint64_t found = 0;
      while (!go.load()) std::this_thread::yield();
      while (!stop.load(std::memory_order_relaxed))
        for (int k = 0; k < 256; ++k) found += store.find_now(ids[pick() % ids.size()]).has_value();
      tallies[t].found = found;
    });
  go = true;
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  stop = true;
  for (auto& w : workers) w.join();
  std::uint64_t total = 0;
  for (const auto& t : tallies) total += t.found;
  const double rate = static_cast<double>(total) / seconds;
  std::printf("threads=%d lookups/s=%.2fM per-thread=%.2fM\n", threads, rate / 1e6,
              rate / 1e6 / threads);
}
