// Time is read through this interface so that time-based rules (token
// buckets, TTLs, retry advice, job deadlines) are unit-tested without sleeping.
#pragma once

#include <chrono>
#include <mutex>

namespace jobrelay {

using steady_time = std::chrono::steady_clock::time_point;
using system_time = std::chrono::system_clock::time_point;

class clock {
 public:
  virtual ~clock() = default;
  // Monotonic: deadlines, buckets, ages.
  virtual steady_time now() const = 0;
  // Wall clock: only for the RFC 3339 timestamps in documents.
  virtual system_time wall_now() const = 0;
};

class system_clock_source final : public clock {
 public:
  steady_time now() const override { return std::chrono::steady_clock::now(); }
  system_time wall_now() const override { return std::chrono::system_clock::now(); }
};

// The process-wide real clock.
const clock& real_clock();

// A clock that moves only when told to; for tests.
class manual_clock final : public clock {
 public:
  manual_clock() : steady_(std::chrono::hours(1000)), wall_(std::chrono::seconds(1'800'000'000)) {}
  steady_time now() const override {
    std::lock_guard lock(mutex_);
    return steady_;
  }
  system_time wall_now() const override {
    std::lock_guard lock(mutex_);
    return wall_;
  }
  void advance(std::chrono::nanoseconds d) {
    std::lock_guard lock(mutex_);
    steady_ += d;
    wall_ += std::chrono::duration_cast<system_time::duration>(d);
  }

 private:
  mutable std::mutex mutex_;
  steady_time steady_;
  system_time wall_;
};

}  // namespace jobrelay
