// The clock seam. Code that decides by time (expiry) takes a Clock& so tests
// can set "now".
#ifndef PORTHOLE_CORE_BASE_CLOCK_H_
#define PORTHOLE_CORE_BASE_CLOCK_H_

#include <chrono>

namespace porthole {

using SystemTime = std::chrono::system_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual SystemTime Now() const = 0;
  // The process-wide real clock.
  static const Clock& Real();
};

class FakeClock : public Clock {
 public:
  explicit FakeClock(SystemTime now) : now_(now) {}
  SystemTime Now() const override { return now_; }
  void Set(SystemTime now) { now_ = now; }
  void Advance(std::chrono::seconds d) { now_ += d; }

 private:
  SystemTime now_;
};

}  // namespace porthole

#endif  // PORTHOLE_CORE_BASE_CLOCK_H_
