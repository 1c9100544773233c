// The SQLite store (src/server/store) under the load porthole-server puts on
// it: the device API's reads on every poll (find the device by certificate
// UUID, its live session, its pending commands), the relay's key lookups,
// the metrics count, the change-stamp poll, and the writes (sessions,
// command results, last-seen batches, audit). Goal: at least 5,000 simple
// reads per second alongside writes, on one connection behind a mutex.
//
//   build/bench/store_bench [--benchmark_filter=...]
//
// The database lives on the disk under $TMPDIR (default /tmp), WAL with
// synchronous=NORMAL, as in production: 1,000 devices, 300 open sessions,
// 1,000 commands of which half pending. There is no OpenSSH counterpart
// for this job; the figures stand alone (docs/BENCHMARKS.md).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/crypto/digest.h"
#include "core/crypto/random.h"
#include "server/store/store.h"

namespace porthole::server {
namespace {

constexpr int kDevices = 1000;
constexpr int kSessions = 300;

SystemTime T(int64_t secs) { return SystemTime(std::chrono::seconds(secs)); }

std::string KeyBlob(int n) {
  std::string blob;
  auto put = [&](std::string_view s) {
    uint32_t len = static_cast<uint32_t>(s.size());
    for (int i = 3; i >= 0; --i) {
      blob.push_back(static_cast<char>(len >> (8 * i)));
    }
    blob.append(s);
  };
  put("ssh-ed25519");
  std::string key(32, '\0');
  for (int i = 0; i < 32; ++i) key[i] = static_cast<char>(n * 31 + i);
  for (int i = 0; i < 4; ++i) key[i] = static_cast<char>(n >> (8 * i));
  put(key);
  return blob;
}

std::string KeyLine(int n) {
  return "ssh-ed25519 " + crypto::Base64Encode(KeyBlob(n)) + " op" +
         std::to_string(n);
}

// One populated database shared by every benchmark of the run.
struct Fixture {
  std::string dir;
  std::unique_ptr<Store> store;
  std::vector<Device> devices;
  std::vector<std::string> session_key_hashes;

  Fixture() {
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmp ? tmp : "/tmp") + "/store-bench.XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) std::abort();
    dir = tmpl;
    auto s = OpenSqliteStore(dir + "/server.db");
    if (!s.ok()) std::abort();
    store = std::move(s).value();
    for (int i = 0; i < kDevices; ++i) {
      Device d;
      d.id = crypto::RandomUuidV4();
      d.name = "device-" + std::to_string(i);
      d.cert_sha256 = crypto::HexEncode(crypto::Sha256(d.id));
      d.cert_serial = "01";
      d.cert_not_after = T(2000000000);
      d.created_at = T(1000);
      d.ssh_key = KeyLine(100000 + i);
      if (!store->AddDevice(d).ok()) std::abort();
      devices.push_back(d);
    }
    for (int i = 0; i < kSessions; ++i) {
      NewSession r;
      r.device_id = devices[i].id;
      r.operator_keys = {KeyLine(i)};
      r.opened_by = "bench";
      r.created_at = T(1000);
      r.expires_at = T(1000000000);
      if (!store->OpenSession(r).ok()) std::abort();
      session_key_hashes.push_back(
          crypto::HexEncode(crypto::Sha256(KeyBlob(i))));
    }
    for (int i = 0; i < kDevices; ++i) {
      Command c;
      c.id = "urn:tdx-ota:command:" + crypto::RandomUuidV4();
      c.device_id = devices[i].id;
      c.name = "reboot";
      c.created_by = "bench";
      c.created_at = T(1000);
      if (!store->AddCommand(c).ok()) std::abort();
      if (i % 2 == 0) {
        CommandResult res{"{}", true, 0, T(1001)};
        if (!store->SetCommandResult(c.device_id, c.id, res).ok()) {
          std::abort();
        }
      }
    }
  }
  ~Fixture() {
    store.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

Fixture& F() {
  static Fixture f;  // the whole run; its directory is removed at exit
  return f;
}

// ---- reads ----

void BM_FindDeviceById(benchmark::State& state) {
  Fixture& f = F();
  size_t i = static_cast<size_t>(state.thread_index()) * 97;
  for (auto _ : state) {
    auto d = f.store->FindDevice(f.devices[i++ % kDevices].id);
    if (!d.ok()) state.SkipWithError("FindDevice failed");
    benchmark::DoNotOptimize(d);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FindDeviceById)->ThreadRange(1, 4)->UseRealTime();

void BM_FindDeviceByName(benchmark::State& state) {
  Fixture& f = F();
  size_t i = 0;
  for (auto _ : state) {
    auto d = f.store->FindDevice(f.devices[i++ % kDevices].name);
    if (!d.ok()) state.SkipWithError("FindDevice failed");
    benchmark::DoNotOptimize(d);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FindDeviceByName)->UseRealTime();

void BM_LiveSessionOfDevice(benchmark::State& state) {
  Fixture& f = F();
  size_t i = 0;
  for (auto _ : state) {
    auto s =
        f.store->LiveSessionOfDevice(f.devices[i++ % kDevices].id, T(5000));
    if (!s.ok()) state.SkipWithError("LiveSessionOfDevice failed");
    benchmark::DoNotOptimize(s);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_LiveSessionOfDevice)->UseRealTime();

void BM_PendingCommands(benchmark::State& state) {
  Fixture& f = F();
  size_t i = 0;
  for (auto _ : state) {
    auto c = f.store->PendingCommands(f.devices[i++ % kDevices].id);
    if (!c.ok()) state.SkipWithError("PendingCommands failed");
    benchmark::DoNotOptimize(c);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PendingCommands)->UseRealTime();

// What one device poll costs the store: device, live session, commands.
void BM_DevicePoll(benchmark::State& state) {
  Fixture& f = F();
  size_t i = static_cast<size_t>(state.thread_index()) * 131;
  for (auto _ : state) {
    const Device& d = f.devices[i++ % kDevices];
    auto dev = f.store->FindDevice(d.id);
    auto s = f.store->LiveSessionOfDevice(d.id, T(5000));
    auto c = f.store->PendingCommands(d.id);
    if (!dev.ok() || !s.ok() || !c.ok()) state.SkipWithError("poll failed");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DevicePoll)->ThreadRange(1, 4)->UseRealTime();

void BM_LiveSessionsWithKey(benchmark::State& state) {
  Fixture& f = F();
  size_t i = 0;
  for (auto _ : state) {
    auto s = f.store->LiveSessionsWithKey(
        f.session_key_hashes[i++ % f.session_key_hashes.size()], T(5000));
    if (!s.ok() || s->size() != 1) state.SkipWithError("lookup failed");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_LiveSessionsWithKey)->UseRealTime();

void BM_GetCounts(benchmark::State& state) {
  Fixture& f = F();
  for (auto _ : state) {
    auto c = f.store->GetCounts(T(5000));
    if (!c.ok()) state.SkipWithError("GetCounts failed");
    benchmark::DoNotOptimize(c);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_GetCounts)->UseRealTime();

void BM_ChangeStamp(benchmark::State& state) {
  Fixture& f = F();
  for (auto _ : state) benchmark::DoNotOptimize(f.store->ChangeStamp());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ChangeStamp)->UseRealTime();

// ---- writes ----

void BM_OpenAndEndSession(benchmark::State& state) {
  Fixture& f = F();
  size_t i = kSessions;  // devices without a session
  for (auto _ : state) {
    NewSession r;
    r.device_id = f.devices[kSessions + (i++ % (kDevices - kSessions))].id;
    r.operator_keys = {KeyLine(7)};
    r.opened_by = "bench";
    r.created_at = T(1000);
    r.expires_at = T(1000000000);
    auto s = f.store->OpenSession(r);
    if (!s.ok()) {
      state.SkipWithError(s.status().message().c_str());
      break;
    }
    auto e =
        f.store->EndSession(s->id, SessionState::kClosed, "bench", T(2000));
    if (!e.ok()) state.SkipWithError("EndSession failed");
  }
  state.SetItemsProcessed(state.iterations() * 2);
}
BENCHMARK(BM_OpenAndEndSession)->UseRealTime();

void BM_AppendAudit(benchmark::State& state) {
  Fixture& f = F();
  AuditEvent e;
  e.at = T(1000);
  e.kind = "device.poll";
  e.device_id = f.devices[0].id;
  e.actor = "device";
  e.details_json = R"({"status":404})";
  for (auto _ : state) {
    if (!f.store->AppendAudit(e).ok()) state.SkipWithError("append failed");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AppendAudit)->UseRealTime();

// The server flushes last-seen times in batches (here 100 devices).
void BM_TouchDevices100(benchmark::State& state) {
  Fixture& f = F();
  int64_t t = 10000;
  for (auto _ : state) {
    std::vector<std::pair<std::string, SystemTime>> seen;
    for (int i = 0; i < 100; ++i) seen.emplace_back(f.devices[i].id, T(t));
    ++t;
    if (!f.store->TouchDevices(seen).ok()) state.SkipWithError("touch failed");
  }
  state.SetItemsProcessed(state.iterations() * 100);
}
BENCHMARK(BM_TouchDevices100)->UseRealTime();

// ---- mixed: thread 0 writes, the others poll ----

void BM_PollsWhileWriting(benchmark::State& state) {
  Fixture& f = F();
  size_t i = static_cast<size_t>(state.thread_index()) * 131;
  AuditEvent e;
  e.at = T(1000);
  e.kind = "bench";
  e.details_json = "{}";
  int64_t polls = 0, writes = 0;
  for (auto _ : state) {
    const Device& d = f.devices[i++ % kDevices];
    if (state.thread_index() == 0) {
      if (!f.store->AppendAudit(e).ok() ||
          !f.store->TouchDevices({{d.id, T(20000 + static_cast<int64_t>(i))}})
               .ok()) {
        state.SkipWithError("write failed");
      }
      writes += 2;
    } else {
      auto dev = f.store->FindDevice(d.id);
      auto s = f.store->LiveSessionOfDevice(d.id, T(5000));
      auto c = f.store->PendingCommands(d.id);
      if (!dev.ok() || !s.ok() || !c.ok()) state.SkipWithError("poll failed");
      ++polls;
    }
  }
  state.counters["polls"] = benchmark::Counter(static_cast<double>(polls),
                                               benchmark::Counter::kIsRate);
  state.counters["commits"] = benchmark::Counter(static_cast<double>(writes),
                                                 benchmark::Counter::kIsRate);
}
BENCHMARK(BM_PollsWhileWriting)->Threads(4)->UseRealTime();

}  // namespace
}  // namespace porthole::server

BENCHMARK_MAIN();
