// Capped, jittered exponential back-off for retrying against the server or
// the relay (DESIGN.md: network faults are never fatal; log, back off,
// retry).
//
//   Backoff b({.initial = 1s, .max = 60s});
//   while (!TryOnce()) Sleep(b.Next());
//   b.Reset();
//
// Next() returns a delay drawn uniformly from [ceiling/2, ceiling], where the
// ceiling starts at `initial` and doubles on each call up to `max` ("equal
// jitter": never a zero wait, and devices that failed together spread out).
// Not thread-safe; one per retry loop.
#ifndef PORTHOLE_AGENT_BACKOFF_H_
#define PORTHOLE_AGENT_BACKOFF_H_

#include <chrono>
#include <cstdint>
#include <random>

namespace porthole::agent {

class Backoff {
 public:
  struct Options {
    std::chrono::milliseconds initial{1000};
    std::chrono::milliseconds max{60000};
  };
  // `seed` 0: seeded from std::random_device.
  explicit Backoff(Options options, uint64_t seed = 0);

  std::chrono::milliseconds Next();
  void Reset() { ceiling_ = options_.initial; }
  // Failures since the last Reset().
  int attempts() const { return attempts_; }

 private:
  Options options_;
  std::chrono::milliseconds ceiling_;
  int attempts_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace porthole::agent

#endif  // PORTHOLE_AGENT_BACKOFF_H_
