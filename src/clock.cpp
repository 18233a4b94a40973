#include "jobrelay/clock.hpp"

namespace jobrelay {

const clock& real_clock() {
  static const system_clock_source instance;
  return instance;
}

}  // namespace jobrelay
