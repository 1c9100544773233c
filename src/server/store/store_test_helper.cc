// A second process for store_test: it works on the same database file as
// the test, through its own connection in a fresh process image (a forked
// copy of the test would inherit SQLite's per-process lock bookkeeping).
//
//   store_test_helper remove PATH DEVICE_ID
//   store_test_helper add-and-die PATH COUNT      (then SIGKILL itself)
//   store_test_helper writer PATH PREFIX COUNT PORT_MIN PORT_MAX
//
// Exit 0 on success; otherwise a line on stderr and exit 1.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "core/crypto/random.h"
#include "server/store/store.h"

namespace {

using porthole::SystemTime;
using porthole::server::Device;
using porthole::server::NewSession;

SystemTime T(int64_t secs) { return SystemTime(std::chrono::seconds(secs)); }

Device NewDevice(const std::string& name) {
  Device d;
  d.id = porthole::crypto::RandomUuidV4();
  d.name = name;
  d.cert_sha256 = std::string(64, 'a');
  d.cert_serial = "01";
  d.cert_not_after = T(2000000000);
  d.created_at = T(1000);
  return d;
}

int Fail(const porthole::Status& s) {
  std::fprintf(stderr, "store_test_helper: %s\n", s.message().c_str());
  return 1;
}

int Main(const std::vector<std::string>& args) {
  if (args.size() < 2) return 2;
  auto store = porthole::server::OpenSqliteStore(args[1]);
  if (!store.ok()) return Fail(store.status());
  porthole::server::Store& s = **store;
  if (args[0] == "remove" && args.size() == 3) {
    porthole::Status r = s.RemoveDevice(args[2], T(5000));
    return r.ok() ? 0 : Fail(r);
  }
  if (args[0] == "add-and-die" && args.size() == 3) {
    int n = std::stoi(args[2]);
    for (int i = 0; i < n; ++i) {
      porthole::Status r = s.AddDevice(NewDevice("d" + std::to_string(i)));
      if (!r.ok()) return Fail(r);
    }
    // Die holding the connection: no close, no checkpoint.
    kill(getpid(), SIGKILL);
    return 3;
  }
  if (args[0] == "writer" && args.size() == 6) {
    int n = std::stoi(args[3]);
    for (int i = 0; i < n; ++i) {
      Device d = NewDevice(args[2] + "-" + std::to_string(i));
      porthole::Status r = s.AddDevice(d);
      if (!r.ok()) return Fail(r);
      NewSession req;
      req.device_id = d.id;
      req.opened_by = "helper";
      req.created_at = T(1000);
      req.expires_at = T(4600);
      req.port_min = static_cast<uint16_t>(std::stoi(args[4]));
      req.port_max = static_cast<uint16_t>(std::stoi(args[5]));
      auto opened = s.OpenSession(req);
      if (!opened.ok()) return Fail(opened.status());
    }
    return 0;
  }
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  return Main(std::vector<std::string>(argv + 1, argv + argc));
}
