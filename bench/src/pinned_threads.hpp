// The harness of the thread-scaling benchmarks: THREADS workers, each pinned
// to its own core where there are enough, start together, run `work` until
// told to stop after SECONDS, and report how many operations they did.
#pragma once

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace jobrelay::bench {

struct thread_args {
  int threads = 1;
  int seconds = 2;
};

// [THREADS=1] [SECONDS=2] from the command line; exits with a usage line on nonsense.
inline thread_args parse_thread_args(int argc, char** argv) {
  thread_args a;
  if (argc > 1) a.threads = std::atoi(argv[1]);
  if (argc > 2) a.seconds = std::atoi(argv[2]);
  if (a.threads < 1 || a.seconds < 1) {
    std::fprintf(stderr, "usage: %s [THREADS>=1] [SECONDS>=1]\n", argv[0]);
    std::exit(2);
  }
  return a;
}

// `work(thread_index, stop)` loops until `stop` and returns its operations;
// the total of all threads per second comes back.
template <class Work>
double ops_per_second(const thread_args& a, Work work) {
  struct alignas(64) tally {
    std::uint64_t ops = 0;
  };
  std::vector<tally> tallies(static_cast<std::size_t>(a.threads));
  std::atomic<bool> go{false}, stop{false};
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> workers;
  for (int t = 0; t < a.threads; ++t)
    workers.emplace_back([&, t] {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(static_cast<unsigned>(t) % cores, &set);
      pthread_setaffinity_np(pthread_self(), sizeof set, &set);
      while (!go.load()) std::this_thread::yield();
      tallies[static_cast<std::size_t>(t)].ops = work(t, stop);
    });
  go = true;
  std::this_thread::sleep_for(std::chrono::seconds(a.seconds));
  stop = true;
  for (auto& w : workers) w.join();
  std::uint64_t total = 0;
  for (const auto& t : tallies) total += t.ops;
  return static_cast<double>(total) / a.seconds;
}

}  // namespace jobrelay::bench
