#include "captured_log.hpp"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <mutex>

namespace jobrelay::testing {

class memory_sink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::string text() {
    std::lock_guard lock(mutex_);
    return text_;
  }
  bool wait_for(const std::string& needle, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout,
                             [&] { return text_.find(needle) != std::string::npos; });
  }

 private:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t line;
    formatter_->format(msg, line);
    text_.append(line.data(), line.size());
    changed_.notify_all();
  }
  void flush_() override {}

  std::string text_;
  std::condition_variable changed_;
};

captured_log::captured_log() : sink_(std::make_shared<memory_sink>()) {
  previous_ = spdlog::default_logger();
  auto logger = std::make_shared<spdlog::logger>("test", sink_);
  logger->set_level(spdlog::level::debug);
  spdlog::set_default_logger(std::move(logger));
}

captured_log::~captured_log() {
  spdlog::set_default_logger(previous_);
}

std::string captured_log::text() const {
  return sink_->text();
}

std::size_t captured_log::count(const std::string& needle) const {
  const std::string all = text();
  std::size_t n = 0;
  for (auto at = all.find(needle); at != std::string::npos; at = all.find(needle, at + 1)) ++n;
  return n;
}

bool captured_log::wait_for(const std::string& needle, std::chrono::milliseconds timeout) const {
  return sink_->wait_for(needle, timeout);
}

}  // namespace jobrelay::testing
