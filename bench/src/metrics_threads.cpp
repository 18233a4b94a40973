// How the request metrics scale with threads: what every answered request
// adds (one to its route and status code's counter, its latency to the
// route's histogram), done by each thread on the same children, as I/O
// threads serving one route do. Prints updates per second in total and per
// thread; compare the per-thread figure of 1 thread with that of N.
//   jobrelay-bench-metrics-threads [THREADS=1] [SECONDS=2]
#include <cstdio>

#include "jobrelay/metrics/registry.hpp"
#include "pinned_threads.hpp"

using namespace jobrelay;

int main(int argc, char** argv) {
  const auto args = bench::parse_thread_args(argc, argv);
  metrics::registry registry;
  auto& requests = registry.counters("requests_total", "requests", {"route", "code"});
  auto& seconds = registry.histograms(
      "request_seconds", "latency", {"route"},
      {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10});
  metrics::counter& ok = requests.with({"/results/{id}", "200"});
  metrics::histogram& latency = seconds.with({"/results/{id}"});
  const double rate = bench::ops_per_second(args, [&](int, const std::atomic<bool>& stop) {
    std::uint64_t done = 0;
    while (!stop.load(std::memory_order_relaxed))
      for (int k = 0; k < 256; ++k, ++done) {
        ok.inc();
        latency.observe(0.0002 * (k % 16));
      }
    return done;
  });
  std::printf("threads=%d updates/s=%.2fM per-thread=%.2fM\n", args.threads, rate / 1e6,
              rate / 1e6 / args.threads);
}
