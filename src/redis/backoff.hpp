// How long to wait before the next reconnect: the engine's retry rule
// (doubling from min to max, each wait drawn in its upper half so that the
// connections of many replicas do not all hit a Redis that just came back at
// the same moment), with the attempt count and the randomness kept here.
#pragma once

#include <chrono>
#include <random>

namespace jobrelay::redis::detail {

class backoff {
 public:
  backoff(std::chrono::milliseconds min, std::chrono::milliseconds max);

  std::chrono::milliseconds next();
  // After a success: the next failure waits the shortest again.
  void reset() { attempt_ = 0; }

 private:
  std::chrono::milliseconds min_;
  std::chrono::milliseconds max_;
  unsigned attempt_ = 0;
  std::minstd_rand random_;
};

}  // namespace jobrelay::redis::detail
