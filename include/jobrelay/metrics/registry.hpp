// The Prometheus text exposition (format 0.0.4) of jobrelay, written here in
// one place because prometheus-cpp is not packaged in Debian 12. Counters and
// histograms are lock-free to update; families with labels take a lock only
// to find (or create) a child, which callers do once and keep.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace jobrelay::metrics {

using label_values = std::vector<std::string>;

namespace detail {

// Counters and histograms keep their values in stripes, a cache line each,
// summed when read; a thread adds to the stripe it was given on its first
// update, in turn. Every I/O thread updates the same few metrics for every
// request: on one shared line two threads made each update ~25x slower
// (bench/README.md, metrics_threads). Threads beyond `stripes` share.
inline constexpr std::size_t stripes = 8;

inline std::size_t this_thread_stripe() {
  static std::atomic<std::size_t> next{0};
  thread_local const std::size_t stripe = next.fetch_add(1, std::memory_order_relaxed) % stripes;
  return stripe;
}

struct alignas(64) cache_line {
  std::array<std::atomic<std::uint64_t>, 8> cells{};
};

}  // namespace detail

class counter {
 public:
  void inc(std::uint64_t n = 1) {
    stripes_[detail::this_thread_stripe()].cells[0].fetch_add(n, std::memory_order_relaxed);
  }
  std::uint64_t value() const {
    std::uint64_t sum = 0;
    for (const auto& s : stripes_) sum += s.cells[0].load(std::memory_order_relaxed);
    return sum;
  }

 private:
  std::array<detail::cache_line, detail::stripes> stripes_;
};

class histogram {
 public:
  explicit histogram(std::vector<double> upper_bounds);
  void observe(double v);
  struct snapshot {
    std::vector<std::uint64_t> cumulative;  // per bound, then +Inf
    double sum = 0;
    std::uint64_t count = 0;
  };
  snapshot read() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  // A stripe's cells: the buckets (non-cumulative, +Inf last), then the sum
  // in millionths (no atomic double needed). The count is the buckets' total.
  std::atomic<std::uint64_t>& cell(std::size_t stripe, std::size_t index) {
    return lines_[stripe * lines_per_stripe_ + index / 8].cells[index % 8];
  }
  const std::atomic<std::uint64_t>& cell(std::size_t stripe, std::size_t index) const {
    return lines_[stripe * lines_per_stripe_ + index / 8].cells[index % 8];
  }
  std::vector<double> bounds_;
  std::size_t lines_per_stripe_;
  std::vector<detail::cache_line> lines_;
};

template <class Metric>
class family {
 public:
  family(std::vector<std::string> label_names, std::function<std::unique_ptr<Metric>()> make)
      : label_names_(std::move(label_names)), make_(std::move(make)) {}
  Metric& with(const label_values& values) {
    std::lock_guard lock(mutex_);
    auto& slot = children_[values];
    if (!slot) slot = make_();
    return *slot;
  }
  template <class F>
  void each(F f) const {
    std::lock_guard lock(mutex_);
    for (const auto& [values, metric] : children_) f(values, *metric);
  }
  const std::vector<std::string>& label_names() const { return label_names_; }

 private:
  std::vector<std::string> label_names_;
  std::function<std::unique_ptr<Metric>()> make_;
  mutable std::mutex mutex_;
  std::map<label_values, std::unique_ptr<Metric>> children_;
};

// A value read at scrape time (gauges, and counters kept elsewhere).
struct sample {
  label_values labels;
  double value = 0;
};

class registry {
 public:
  family<counter>& counters(std::string name, std::string help, std::vector<std::string> labels);
  family<histogram>& histograms(std::string name, std::string help, std::vector<std::string> labels,
                                std::vector<double> bounds);
  // `type` is "gauge" or "counter"; `read` is called at every scrape.
  void callback(std::string name, std::string help, std::string type, std::vector<std::string> labels,
                std::function<std::vector<sample>()> read);

  std::string expose() const;  // text/plain; version=0.0.4

 private:
  struct entry {
    std::string name, help, type;
    std::unique_ptr<family<counter>> counters;
    std::unique_ptr<family<histogram>> histograms;
    std::vector<std::string> callback_labels;
    std::function<std::vector<sample>()> read;
  };
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<entry>> entries_;
};

// Label values escaped as the exposition format asks (\\, \", \n).
std::string escape_label_value(std::string_view v);

}  // namespace jobrelay::metrics
