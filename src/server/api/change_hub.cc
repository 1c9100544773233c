#include "server/api/change_hub.h"

#include <vector>

namespace porthole::server::api {

ChangeHub::Token ChangeHub::Subscribe(const std::string& topic,
                                      std::function<void()> fn) {
  std::lock_guard<std::mutex> lock(mu_);
  Token token = next_++;
  waiters_.emplace(token, Waiter{topic, std::move(fn)});
  by_topic_.emplace(topic, token);
  return token;
}

void ChangeHub::Unsubscribe(Token token) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = waiters_.find(token);
  if (it == waiters_.end()) return;
  auto range = by_topic_.equal_range(it->second.topic);
  for (auto t = range.first; t != range.second; ++t) {
    if (t->second == token) {
      by_topic_.erase(t);
      break;
    }
  }
  waiters_.erase(it);
}

void ChangeHub::Notify(const std::string& topic) {
  std::vector<std::function<void()>> fire;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto range = by_topic_.equal_range(topic);
    for (auto t = range.first; t != range.second; ++t) {
      auto w = waiters_.find(t->second);
      fire.push_back(std::move(w->second.fn));
      waiters_.erase(w);
    }
    by_topic_.erase(range.first, range.second);
  }
  for (auto& fn : fire) fn();
}

void ChangeHub::NotifyAll() {
  std::vector<std::function<void()>> fire;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [token, w] : waiters_) fire.push_back(std::move(w.fn));
    waiters_.clear();
    by_topic_.clear();
  }
  for (auto& fn : fire) fn();
}

size_t ChangeHub::waiters() const {
  std::lock_guard<std::mutex> lock(mu_);
  return waiters_.size();
}

}  // namespace porthole::server::api
