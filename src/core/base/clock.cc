#include "core/base/clock.h"

namespace porthole {
namespace {

class RealClock : public Clock {
 public:
  SystemTime Now() const override { return std::chrono::system_clock::now(); }
};

}  // namespace

const Clock& Clock::Real() {
  static const RealClock clock;
  return clock;
}

}  // namespace porthole
