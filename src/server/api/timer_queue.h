// A Scheduler with one thread: timers ordered by deadline, and posted work.
// Long polls park here; their answers are written through the HTTPS layer's
// thread-safe responders, so nothing slow runs on this thread.
//
// Thread safety: RunAfter/Post/cancel from any thread. The destructor stops
// the thread; pending timers are dropped (not run).
#ifndef PORTHOLE_SERVER_API_TIMER_QUEUE_H_
#define PORTHOLE_SERVER_API_TIMER_QUEUE_H_

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "server/api/http.h"

namespace porthole::server::api {

class TimerQueue : public Scheduler {
 public:
  TimerQueue();
  ~TimerQueue() override;
  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;

  std::function<void()> RunAfter(std::chrono::milliseconds delay,
                                 std::function<void()> fn) override;
  void Post(std::function<void()> fn) override;

  size_t pending() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Key {
    Clock::time_point at;
    uint64_t seq;
    bool operator<(const Key& o) const {
      return at != o.at ? at < o.at : seq < o.seq;
    }
  };
  void Loop();

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<Key, std::function<void()>> timers_;  // guarded by mu_
  uint64_t seq_ = 0;                             // guarded by mu_
  bool stop_ = false;                            // guarded by mu_
  std::thread thread_;
};

}  // namespace porthole::server::api

#endif  // PORTHOLE_SERVER_API_TIMER_QUEUE_H_
