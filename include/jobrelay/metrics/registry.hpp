// The Prometheus text exposition (format 0.0.4) of jobrelay, written here in
// one place because prometheus-cpp is not packaged in Debian 12. Counters and
// histograms are lock-free to update; families with labels take a lock only
// to find (or create) a child, which callers do once and keep.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace jobrelay::metrics {

using label_values = std::vector<std::string>;

class counter {
 public:
  void inc(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
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
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // non-cumulative, last is +Inf
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_micros_{0};  // sum kept in millionths: no atomic double needed
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
