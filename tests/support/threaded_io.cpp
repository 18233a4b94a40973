#include "threaded_io.hpp"

namespace jobrelay::testing {

threaded_io::threaded_io() : work_(boost::asio::make_work_guard(*this)) {
  for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { run(); });
}

threaded_io::~threaded_io() { stop_and_join(); }

void threaded_io::stop_and_join() {
  work_.reset();
  stop();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

}  // namespace jobrelay::testing
