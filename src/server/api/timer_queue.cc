#include "server/api/timer_queue.h"

namespace porthole::server::api {

TimerQueue::TimerQueue() : thread_([this] { Loop(); }) {}

TimerQueue::~TimerQueue() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    timers_.clear();
  }
  cv_.notify_all();
  thread_.join();
}

std::function<void()> TimerQueue::RunAfter(std::chrono::milliseconds delay,
                                           std::function<void()> fn) {
  Key key;
  {
    std::lock_guard<std::mutex> lock(mu_);
    key = Key{Clock::now() + delay, seq_++};
    timers_.emplace(key, std::move(fn));
  }
  cv_.notify_all();
  return [this, key] {
    std::function<void()> dropped;  // destroyed outside the lock
    std::lock_guard<std::mutex> lock(mu_);
    auto it = timers_.find(key);
    if (it != timers_.end()) {
      dropped = std::move(it->second);
      timers_.erase(it);
    }
  };
}

void TimerQueue::Post(std::function<void()> fn) {
  RunAfter(std::chrono::milliseconds(0), std::move(fn));
}

size_t TimerQueue::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return timers_.size();
}

void TimerQueue::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    if (timers_.empty()) {
      cv_.wait(lock);
      continue;
    }
    auto first = timers_.begin();
    if (first->first.at > Clock::now()) {
      cv_.wait_until(lock, first->first.at);
      continue;
    }
    std::function<void()> fn = std::move(first->second);
    timers_.erase(first);
    lock.unlock();
    fn();
    fn = nullptr;
    lock.lock();
  }
}

}  // namespace porthole::server::api
