// Fuzzes every request body porthole-server parses, through the real
// handlers (device and operator API) over a real SQLite store in a temp
// dir, plus the policy draft parser. The first byte picks the endpoint, the
// rest is the body (or the query value). Invariants: a handler always
// answers, never with a 5xx, and every JSON answer parses.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <future>
#include <memory>
#include <string>
#include <string_view>

#include "core/base/clock.h"
#include "core/crypto/digest.h"
#include "core/crypto/random.h"
#include "server/api/device_api.h"
#include "server/api/operator_api.h"
#include "server/api/timer_queue.h"
#include "server/director/policy.h"

namespace {

using namespace porthole;               // NOLINT: a fuzz harness
using namespace porthole::server;       // NOLINT
using namespace porthole::server::api;  // NOLINT

void Check(bool ok) {
  if (!ok) std::abort();
}

constexpr char kSecret[] = "pht_fuzz";

struct World {
  std::string dir;
  std::unique_ptr<Store> store;
  std::unique_ptr<director::Director> director;
  ChangeHub hub;
  TimerQueue timers;
  Metrics metrics;
  SeenTracker seen;
  Context ctx;
  Device device;
  std::unique_ptr<DeviceApi> device_api;
  std::unique_ptr<OperatorApi> operator_api;

  World() {
    char tmpl[] = "/tmp/porthole-fuzz-XXXXXX";
    Check(::mkdtemp(tmpl) != nullptr);
    dir = tmpl;
    auto s = OpenSqliteStore(dir + "/server.db");
    Check(s.ok());
    store = std::move(*s);
    director = std::make_unique<director::Director>(
        store.get(), dir + "/director", &Clock::Real(),
        director::DirectorOptions());
    Check(director
              ->Initialize("relay.example.com",
                           "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPFSnAAFo4wQLd"
                           "gWhvXNYCGxSXHbQEg5/8LhNV4FlKSg relay")
              .ok());
    ctx.store = store.get();
    ctx.director = director.get();
    ctx.hub = &hub;
    ctx.scheduler = &timers;
    ctx.clock = &Clock::Real();
    ctx.relay = RelayInfo{"relay.example.com", 2222,
                          "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPFSnAAFo4wQLd"
                          "gWhvXNYCGxSXHbQEg5/8LhNV4FlKSg relay"};
    ctx.metrics = &metrics;
    ctx.seen = &seen;
    device.id = crypto::RandomUuidV4();
    device.name = "dev";
    device.cert_sha256 = std::string(64, 'a');
    device.cert_serial = "01";
    device.created_at = Clock::Real().Now();
    device.cert_not_after = device.created_at;
    Check(store->AddDevice(device).ok());
    Token t;
    t.name = "fuzz";
    t.sha256 = crypto::HexEncode(crypto::Sha256(kSecret));
    t.created_at = device.created_at;
    Check(store->AddToken(t).ok());
    device_api = std::make_unique<DeviceApi>(&ctx);
    operator_api = std::make_unique<OperatorApi>(&ctx, nullptr);
  }
};

World& TheWorld() {
  static World* world = new World();  // never destroyed: libFuzzer exits
  return *world;
}

template <typename Api>
Response Call(Api& api, Request request) {
  std::promise<Response> promise;
  std::future<Response> future = promise.get_future();
  api.Handle(std::move(request),
             [&promise](Response r) { promise.set_value(std::move(r)); });
  // Without `wait` every handler answers before returning.
  Check(future.wait_for(std::chrono::seconds(0)) == std::future_status::ready);
  return future.get();
}

void CheckAnswer(const Response& r) {
  Check(r.status >= 200 && r.status < 500);
  if (!r.body.empty() && r.Header("Content-Type") == "application/json") {
    Check(tuf::ParseJson(r.body).ok());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  World& w = TheWorld();
  std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);
  uint8_t which = data[0] % 12;

  Request r;
  r.peer = "127.0.0.1:1";
  r.client_cert_cn = w.device.id;
  r.client_cert_sha256 = w.device.cert_sha256;
  r.headers = {{"authorization", std::string("Bearer ") + kSecret}};
  r.method = "POST";
  r.body = body;
  bool device = true;
  switch (which) {
    case 0:
      r.path = "/ras/public-keys";
      break;
    case 1:
      r.path = "/ras/host-keys";
      break;
    case 2:
      r.path = "/ras/commands/urn:tdx-ota:command:" + crypto::RandomUuidV4() +
               "/result";
      break;
    case 3:
      r.method = "GET";
      r.path = "/ras/sessions";
      r.query = {{"wait", body}, {"seen", body}};
      break;
    case 4:
      r.path = "/api/v1/sessions";
      device = false;
      break;
    case 5:
      r.path = "/api/v1/commands";
      device = false;
      break;
    case 6:
      r.path = "/api/v1/policy/keys";
      device = false;
      break;
    case 7:
      r.path = "/api/v1/policy/commands";
      device = false;
      break;
    case 8:
      r.path = "/api/v1/policy/import";
      device = false;
      break;
    case 9:
      r.method = "GET";
      r.path = "/api/v1/audit";
      r.query = {{"since", body}, {"after", body}, {"limit", body}};
      device = false;
      break;
    case 10:
      r.method = "GET";
      r.path = "/api/v1/" + body;
      device = false;
      break;
    case 11: {
      Result<director::Policy> p = director::ParsePolicy(body, "fuzz");
      if (p.ok()) {
        // What is stored reads back to the same thing.
        std::string text = director::FormatPolicy(*p);
        Result<director::Policy> again = director::ParsePolicy(text, "again");
        Check(again.ok() && director::FormatPolicy(*again) == text);
      }
      return 0;
    }
  }
  Response answer = device ? Call(*w.device_api, std::move(r))
                           : Call(*w.operator_api, std::move(r));
  CheckAnswer(answer);
  // Keep the store small: at most one live session to fuzz against.
  if (which == 4 && answer.status == 201) {
    auto live = w.store->LiveSessionOfDevice(w.device.id, Clock::Real().Now());
    if (live.ok() && *live) {
      (void)w.store->EndSession((*live)->id, SessionState::kClosed, "fuzz",
                                Clock::Real().Now());
    }
  }
  return 0;
}
