// Test fixture for the API handlers: a real SQLite store in a temp dir, an
// initialised director, a change hub and timer queue, and helpers that call
// a handler and wait for its answer.
#ifndef PORTHOLE_SERVER_API_API_TEST_FIXTURE_H_
#define PORTHOLE_SERVER_API_API_TEST_FIXTURE_H_

#include <gtest/gtest.h>

#include <future>
#include <memory>
#include <string>

#include "core/base/file.h"
#include "core/base/test_util.h"
#include "core/crypto/random.h"
#include "server/api/context.h"
#include "server/api/timer_queue.h"

namespace porthole::server::api {

inline std::string TestKeyLine(const std::string& name) {
  Result<std::string> text = ReadFile(
      std::string(PORTHOLE_SOURCE_DIR) + "/src/core/keys/testdata/" + name,
      1 << 16);
  std::string line = text.ok() ? *text : "";
  while (!line.empty() && line.back() == '\n') line.pop_back();
  return line;
}

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<Store>> store =
        OpenSqliteStore(dir_.path() + "/server.db");
    ASSERT_TRUE(store.ok()) << store.status().message();
    store_ = std::move(*store);
    director_ = std::make_unique<director::Director>(
        store_.get(), dir_.path() + "/director", &clock_,
        director::DirectorOptions());
    ASSERT_TRUE(director_->Initialize("relay.example.com", relay_key_).ok());
    ctx_.store = store_.get();
    ctx_.director = director_.get();
    ctx_.hub = &hub_;
    ctx_.scheduler = &timers_;
    ctx_.clock = &clock_;
    ctx_.relay = RelayInfo{"relay.example.com", 2222, relay_key_};
    ctx_.metrics = &metrics_;
    ctx_.seen = &seen_;
    ctx_.sessions_changed = [this] { sessions_changed_++; };
  }

  // A device as `porthole-server device add` makes it.
  Device AddDevice(const std::string& name) {
    Device d;
    d.id = crypto::RandomUuidV4();
    d.name = name;
    d.cert_sha256 = std::string(64, name[0]);
    d.cert_serial = "01";
    d.cert_not_after = clock_.Now() + std::chrono::hours(24 * 365);
    d.created_at = clock_.Now();
    EXPECT_TRUE(store_->AddDevice(d).ok());
    return d;
  }

  // Calls `handle` and waits up to `timeout` for its answer.
  template <typename Api>
  std::optional<Response> Call(
      Api& api, Request request,
      std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    auto promise = std::make_shared<std::promise<Response>>();
    std::future<Response> future = promise->get_future();
    api.Handle(std::move(request),
               [promise](Response r) { promise->set_value(std::move(r)); });
    if (future.wait_for(timeout) != std::future_status::ready) {
      return std::nullopt;
    }
    return future.get();
  }

  static Json Body(const Response& r) {
    tuf::ErrorOr<Json> j = tuf::ParseJson(r.body);
    return j.ok() ? *j : Json();
  }

  TempDir dir_;
  FakeClock clock_{SystemTime(std::chrono::seconds(1800000000))};
  std::string relay_key_ = TestKeyLine("ecdsa256.pub");
  std::unique_ptr<Store> store_;
  std::unique_ptr<director::Director> director_;
  ChangeHub hub_;
  TimerQueue timers_;
  Metrics metrics_;
  SeenTracker seen_;
  Context ctx_;
  int sessions_changed_ = 0;
};

}  // namespace porthole::server::api

#endif  // PORTHOLE_SERVER_API_API_TEST_FIXTURE_H_
