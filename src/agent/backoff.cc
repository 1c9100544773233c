#include "agent/backoff.h"

#include <algorithm>

namespace porthole::agent {

Backoff::Backoff(Options options, uint64_t seed)
    : options_(options),
      ceiling_(options.initial),
      rng_(seed != 0 ? seed : std::random_device{}()) {
  options_.initial = std::max(options_.initial, std::chrono::milliseconds(1));
  options_.max = std::max(options_.max, options_.initial);
  ceiling_ = options_.initial;
}

std::chrono::milliseconds Backoff::Next() {
  const int64_t c = ceiling_.count();
  std::uniform_int_distribution<int64_t> pick(c - c / 2, c);
  std::chrono::milliseconds delay(pick(rng_));
  ceiling_ = std::min(ceiling_ * 2, options_.max);
  ++attempts_;
  return delay;
}

}  // namespace porthole::agent
