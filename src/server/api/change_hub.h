// Wakes long polls when state changes. Topics are strings:
//   "device:<uuid>"   anything a device's GET sessions / commands shows
//   "session:<id>"    a session's state, tunnel or keys
//   "command:<id>"    a command's result
// NotifyAll() wakes every waiter (a change made by another process, or a new
// policy version, which is part of every device's session tag).
//
// A callback runs at most once, on the notifying thread, outside the hub's
// lock; it must be quick (post real work elsewhere). Waking is a hint: the
// woken side re-reads the state and may wait again.
//
// Thread safety: every method may be called from any thread.
#ifndef PORTHOLE_SERVER_API_CHANGE_HUB_H_
#define PORTHOLE_SERVER_API_CHANGE_HUB_H_

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>

namespace porthole::server::api {

class ChangeHub {
 public:
  using Token = uint64_t;

  // Registers `fn` for `topic`; the returned token unsubscribes.
  Token Subscribe(const std::string& topic, std::function<void()> fn);
  // Removes the waiter if it has not fired yet (no-op otherwise).
  void Unsubscribe(Token token);
  void Notify(const std::string& topic);
  void NotifyAll();

  size_t waiters() const;

 private:
  struct Waiter {
    std::string topic;
    std::function<void()> fn;
  };
  mutable std::mutex mu_;
  Token next_ = 1;
  std::unordered_map<Token, Waiter> waiters_;
  std::multimap<std::string, Token> by_topic_;
};

inline std::string DeviceTopic(const std::string& id) { return "device:" + id; }
inline std::string SessionTopic(const std::string& id) {
  return "session:" + id;
}
inline std::string CommandTopic(const std::string& id) {
  return "command:" + id;
}

}  // namespace porthole::server::api

#endif  // PORTHOLE_SERVER_API_CHANGE_HUB_H_
