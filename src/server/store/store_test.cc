// The Store contract (store.h) against real SQLite files in temp dirs.
#include "server/store/store.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/base/subprocess.h"
#include "core/base/test_util.h"
#include "core/crypto/digest.h"
#include "core/crypto/random.h"

namespace porthole::server {
namespace {

using std::chrono::seconds;

SystemTime T(int64_t secs) { return SystemTime(seconds(secs)); }

// An ssh-ed25519 key line whose 32 key bytes are derived from `n` (any 32
// bytes make a well-formed ed25519 blob).
std::string KeyBlob(int n) {
  std::string blob;
  auto put = [&](std::string_view s) {
    uint32_t len = static_cast<uint32_t>(s.size());
    for (int i = 3; i >= 0; --i)
      blob.push_back(static_cast<char>(len >> (8 * i)));
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
  return "ssh-ed25519 " + crypto::Base64Encode(KeyBlob(n)) + " key" +
         std::to_string(n);
}
std::string KeyHash(int n) {
  return crypto::HexEncode(crypto::Sha256(KeyBlob(n)));
}

Device NewDevice(const std::string& name, int64_t at = 1000) {
  Device d;
  d.id = crypto::RandomUuidV4();
  d.name = name;
  d.cert_sha256 = std::string(64, 'a');
  d.cert_serial = "0123abcd";
  d.cert_not_after = T(2000000000);
  d.created_at = T(at);
  return d;
}

NewSession Request(const std::string& device_id, int64_t at = 1000,
                   int64_t ttl = 3600) {
  NewSession r;
  r.device_id = device_id;
  r.operator_keys = {KeyLine(1)};
  r.opened_by = "alice";
  r.created_at = T(at);
  r.expires_at = T(at + ttl);
  return r;
}

Command NewCommand(const std::string& device_id, int64_t at) {
  Command c;
  c.id = "urn:tdx-ota:command:" + crypto::RandomUuidV4();
  c.device_id = device_id;
  c.name = "reboot";
  c.args = {"now", "--force"};
  c.created_by = "alice";
  c.created_at = T(at);
  return c;
}

Token NewToken(const std::string& name, int n, int64_t at = 1000) {
  return {name, crypto::HexEncode(crypto::Sha256(name + std::to_string(n))),
          T(at), std::nullopt};
}

// Runs store_test_helper (a second process on the same file).
RunResult Helper(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {STORE_TEST_HELPER};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = RunProcess(argv);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : RunResult();
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = Open(); }
  std::unique_ptr<Store> Open() {
    auto s = OpenSqliteStore(path_);
    EXPECT_TRUE(s.ok()) << s.status().message();
    return s.ok() ? std::move(s).value() : nullptr;
  }
  Device Add(const std::string& name, int64_t at = 1000) {
    Device d = NewDevice(name, at);
    Status s = store_->AddDevice(d);
    EXPECT_TRUE(s.ok()) << s.message();
    return d;
  }

  TempDir dir_;
  std::string path_ = dir_.Join("server.db");
  std::unique_ptr<Store> store_;
};

// ---- devices ----

TEST_F(StoreTest, AddAndFindDevices) {
  Device d = NewDevice("dev-7");
  d.host_keys = {KeyLine(5)};
  d.last_seen_at = T(1500);
  ASSERT_TRUE(store_->AddDevice(d).ok());

  auto by_name = store_->FindDevice("dev-7");
  ASSERT_TRUE(by_name.ok()) << by_name.status().message();
  EXPECT_EQ(by_name->id, d.id);
  EXPECT_EQ(by_name->name, "dev-7");
  EXPECT_EQ(by_name->cert_sha256, d.cert_sha256);
  EXPECT_EQ(by_name->cert_serial, "0123abcd");
  EXPECT_EQ(by_name->cert_not_after, T(2000000000));
  EXPECT_EQ(by_name->created_at, T(1000));
  EXPECT_FALSE(by_name->removed());
  EXPECT_EQ(by_name->ssh_key, "");
  EXPECT_FALSE(by_name->ssh_key_at);
  EXPECT_EQ(by_name->host_keys, d.host_keys);
  EXPECT_EQ(by_name->last_seen_at, T(1500));

  std::string upper = d.id;
  for (char& c : upper) c = static_cast<char>(std::toupper(c));
  for (const std::string& form :
       {d.id, upper, "urn:uuid:" + d.id, "{" + d.id + "}"}) {
    auto f = store_->FindDevice(form);
    ASSERT_TRUE(f.ok()) << form;
    EXPECT_EQ(f->name, "dev-7");
  }
  auto missing = store_->FindDevice("dev-8");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "no device 'dev-8'");
  EXPECT_EQ(store_->FindDevice("bad\nname").status().message(),
            "no device 'bad\\x0aname'");
}

TEST_F(StoreTest, AddDeviceErrors) {
  Device d = Add("dev-1");
  Device same_id = NewDevice("dev-2");
  same_id.id = d.id;
  Status s = store_->AddDevice(same_id);
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(s.message(), "device id " + d.id + " already exists");

  s = store_->AddDevice(NewDevice("dev-1"));
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(s.message(), "device name 'dev-1' is already in use");

  s = store_->AddDevice(NewDevice("bad name"));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "invalid device name 'bad name': use 1-63 letters, digits, '.', "
            "'_' and '-', starting with a letter or digit");

  Device bad_id = NewDevice("dev-3");
  bad_id.id = "NOT-A-UUID";
  EXPECT_EQ(store_->AddDevice(bad_id).message(),
            "device id 'NOT-A-UUID' is not a lower-case hyphenated UUID");
  bad_id.id = crypto::RandomUuidV4();
  for (char& c : bad_id.id) c = static_cast<char>(std::toupper(c));
  EXPECT_EQ(store_->AddDevice(bad_id).code(), StatusCode::kInvalidArgument);

  Device bad_utf8 = NewDevice("dev-4");
  bad_utf8.host_keys = {"ssh-ed25519 \xff"};
  EXPECT_EQ(store_->AddDevice(bad_utf8).message(),
            "host key 1 is not valid UTF-8");
  EXPECT_EQ(store_->ListDevices(true)->size(), 1u);
}

TEST_F(StoreTest, ListAndRemoveDevices) {
  Device b = Add("b-dev", 1000);
  Device a = Add("a-dev", 1001);
  Device c = Add("c-dev", 1002);
  auto list = store_->ListDevices(false);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].name, "a-dev");
  EXPECT_EQ((*list)[1].name, "b-dev");
  EXPECT_EQ((*list)[2].name, "c-dev");

  ASSERT_TRUE(store_->OpenSession(Request(b.id, 1000)).ok());
  ASSERT_TRUE(store_->RemoveDevice(b.id, T(1100)).ok());
  EXPECT_EQ(store_->ListDevices(false)->size(), 2u);
  EXPECT_EQ(store_->ListDevices(true)->size(), 3u);
  EXPECT_EQ(store_->FindDevice("b-dev").status().code(), StatusCode::kNotFound);
  auto removed = store_->FindDevice(b.id);
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(removed->removed_at, T(1100));

  // Its session ended with it.
  auto sessions = store_->ListSessions({.device_id = b.id});
  ASSERT_TRUE(sessions.ok());
  ASSERT_EQ(sessions->size(), 1u);
  EXPECT_EQ((*sessions)[0].state, SessionState::kClosed);
  EXPECT_EQ((*sessions)[0].end_reason, "device removed");
  EXPECT_EQ((*sessions)[0].ended_at, T(1100));

  Status again = store_->RemoveDevice(b.id, T(1200));
  EXPECT_EQ(again.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(again.message(), "device 'b-dev' (" + b.id + ") is removed");
  EXPECT_EQ(store_->RemoveDevice(crypto::RandomUuidV4(), T(1)).code(),
            StatusCode::kNotFound);

  // The name is free again; the old device keeps its id.
  Device b2 = Add("b-dev", 1300);
  EXPECT_EQ(store_->FindDevice("b-dev")->id, b2.id);
  EXPECT_EQ(store_->FindDevice(b.id)->name, "b-dev");
  EXPECT_EQ(store_->ListDevices(true)->size(), 4u);
  (void)a;
  (void)c;
}

TEST_F(StoreTest, DeviceKeysAndLastSeen) {
  Device d = Add("dev");
  auto prev = store_->SetDeviceSshKey(d.id, KeyLine(1), T(1100));
  ASSERT_TRUE(prev.ok());
  EXPECT_EQ(*prev, "");
  prev = store_->SetDeviceSshKey(d.id, KeyLine(2), T(1200));
  ASSERT_TRUE(prev.ok());
  EXPECT_EQ(*prev, KeyLine(1));
  auto got = store_->FindDevice("dev");
  EXPECT_EQ(got->ssh_key, KeyLine(2));
  EXPECT_EQ(got->ssh_key_at, T(1200));

  ASSERT_TRUE(store_->SetDeviceHostKeys(d.id, {KeyLine(3), KeyLine(4)}).ok());
  EXPECT_EQ(store_->FindDevice("dev")->host_keys,
            (std::vector<std::string>{KeyLine(3), KeyLine(4)}));

  ASSERT_TRUE(store_
                  ->TouchDevices({{d.id, T(1300)},
                                  {crypto::RandomUuidV4(), T(1300)},
                                  {"not-even-a-uuid", T(1)}})
                  .ok());
  EXPECT_EQ(store_->FindDevice("dev")->last_seen_at, T(1300));
  // Never moves back.
  ASSERT_TRUE(store_->TouchDevices({{d.id, T(1250)}}).ok());
  EXPECT_EQ(store_->FindDevice("dev")->last_seen_at, T(1300));

  std::string unknown = crypto::RandomUuidV4();
  EXPECT_EQ(store_->SetDeviceSshKey(unknown, KeyLine(1), T(1)).status().code(),
            StatusCode::kNotFound);
  ASSERT_TRUE(store_->RemoveDevice(d.id, T(1400)).ok());
  EXPECT_EQ(store_->SetDeviceSshKey(d.id, KeyLine(1), T(1)).status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->SetDeviceHostKeys(d.id, {}).code(),
            StatusCode::kFailedPrecondition);
}

TEST_F(StoreTest, TimesAreRoundedDownToTheSecond) {
  Device d = NewDevice("dev");
  d.created_at = T(1000) + std::chrono::milliseconds(999);
  ASSERT_TRUE(store_->AddDevice(d).ok());
  EXPECT_EQ(store_->FindDevice("dev")->created_at, T(1000));
  // Before the epoch too.
  Device old = NewDevice("old");
  old.created_at = T(-1) - std::chrono::milliseconds(500);
  ASSERT_TRUE(store_->AddDevice(old).ok());
  EXPECT_EQ(store_->FindDevice("old")->created_at, T(-2));
}

// ---- sessions ----

TEST_F(StoreTest, OpenSession) {
  Device d = Add("dev");
  NewSession r = Request(d.id, 1000, 3600);
  r.relay_keys = {KeyLine(9)};
  r.port_min = 41000;
  r.port_max = 41009;
  auto s = store_->OpenSession(r);
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->id.size(), 36u);
  EXPECT_EQ(s->device_id, d.id);
  EXPECT_EQ(s->operator_keys, r.operator_keys);
  EXPECT_EQ(s->relay_keys, r.relay_keys);
  EXPECT_GE(s->reverse_port, 41000);
  EXPECT_LE(s->reverse_port, 41009);
  EXPECT_EQ(s->opened_by, "alice");
  EXPECT_EQ(s->created_at, T(1000));
  EXPECT_EQ(s->expires_at, T(4600));
  EXPECT_EQ(s->state, SessionState::kOpen);
  EXPECT_TRUE(s->LiveAt(T(4599)));
  EXPECT_FALSE(s->LiveAt(T(4600)));

  auto got = store_->GetSession(s->id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->reverse_port, s->reverse_port);
  EXPECT_EQ(got->relay_keys, r.relay_keys);
  EXPECT_FALSE(got->tunnel_up);
  EXPECT_EQ(store_->GetSession(crypto::RandomUuidV4()).status().code(),
            StatusCode::kNotFound);

  auto live = store_->LiveSessionOfDevice(d.id, T(2000));
  ASSERT_TRUE(live.ok());
  ASSERT_TRUE(live->has_value());
  EXPECT_EQ((*live)->id, s->id);
  EXPECT_FALSE(store_->LiveSessionOfDevice(d.id, T(4600))->has_value());
  EXPECT_FALSE(store_->LiveSessionOfDevice(crypto::RandomUuidV4(), T(2000))
                   ->has_value());

  auto second = store_->OpenSession(Request(d.id, 2000));
  EXPECT_EQ(second.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(second.status().message(),
            "device 'dev' already has a live session " + s->id);
}

TEST_F(StoreTest, OpenSessionErrors) {
  Device d = Add("dev");
  NewSession r = Request(d.id);
  r.operator_keys = {KeyLine(1), "ssh-ed25519 AAAA broken"};
  auto s = store_->OpenSession(r);
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(s.status().message().starts_with("operator key 2: "))
      << s.status().message();
  r = Request(d.id);
  r.relay_keys = {"nonsense"};
  EXPECT_TRUE(
      store_->OpenSession(r).status().message().starts_with("relay key 1: "));

  r = Request(d.id);
  r.port_min = 0;
  EXPECT_EQ(store_->OpenSession(r).status().message(),
            "bad reverse port range 0-49999");
  r.port_min = 50000;
  EXPECT_EQ(store_->OpenSession(r).status().message(),
            "bad reverse port range 50000-49999");
  r = Request(d.id, 1000, 0);
  EXPECT_EQ(store_->OpenSession(r).status().message(),
            "a session must expire after it opens");

  auto unknown = store_->OpenSession(Request(crypto::RandomUuidV4()));
  EXPECT_EQ(unknown.status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(store_->RemoveDevice(d.id, T(1000)).ok());
  EXPECT_EQ(store_->OpenSession(Request(d.id)).status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_TRUE(store_->ListSessions({})->empty());
}

TEST_F(StoreTest, PortsAreNotReusedWhileASessionIsOpen) {
  Device a = Add("a"), b = Add("b"), c = Add("c");
  NewSession r = Request(a.id, 1000, 10);
  r.port_min = r.port_max = 40100;
  ASSERT_TRUE(store_->OpenSession(r).ok());
  // a's session is past its expiry but not ended: its port stays taken.
  r = Request(b.id, 2000);
  r.port_min = r.port_max = 40100;
  auto full = store_->OpenSession(r);
  EXPECT_EQ(full.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(full.status().message(), "no free reverse port in 40100-40100");
  r.port_max = 40101;
  auto sb = store_->OpenSession(r);
  ASSERT_TRUE(sb.ok());
  EXPECT_EQ(sb->reverse_port, 40101);
  // After ExpireSessions the port is free again.
  ASSERT_EQ(store_->ExpireSessions(T(2000))->size(), 1u);
  r = Request(c.id, 2000);
  r.port_min = 40100;
  r.port_max = 40101;
  auto sc = store_->OpenSession(r);
  ASSERT_TRUE(sc.ok());
  EXPECT_EQ(sc->reverse_port, 40100);
}

TEST_F(StoreTest, PortsAreSpreadOverTheRange) {
  std::set<uint16_t> ports;
  for (int i = 0; i < 40; ++i) {
    Device d = Add("d" + std::to_string(i));
    auto s = store_->OpenSession(Request(d.id));
    ASSERT_TRUE(s.ok());
    EXPECT_TRUE(ports.insert(s->reverse_port).second);
  }
  // 40 draws from 10,000 ports: a sequential allocator would give a span of
  // 39; random ones span thousands.
  EXPECT_GT(*ports.rbegin() - *ports.begin(), 1000);
}

TEST_F(StoreTest, LiveSessionsWithKey) {
  Device a = Add("a"), b = Add("b");
  NewSession ra = Request(a.id);
  ra.operator_keys = {KeyLine(1), KeyLine(2)};
  NewSession rb = Request(b.id);
  rb.operator_keys = {KeyLine(2)};
  rb.relay_keys = {KeyLine(3)};
  auto sa = store_->OpenSession(ra);
  auto sb = store_->OpenSession(rb);
  ASSERT_TRUE(sa.ok() && sb.ok());

  auto with2 = store_->LiveSessionsWithKey(KeyHash(2), T(2000));
  ASSERT_TRUE(with2.ok());
  EXPECT_EQ(with2->size(), 2u);
  auto with1 = store_->LiveSessionsWithKey(KeyHash(1), T(2000));
  ASSERT_EQ(with1->size(), 1u);
  EXPECT_EQ((*with1)[0].id, sa->id);
  auto with3 = store_->LiveSessionsWithKey(KeyHash(3), T(2000));
  ASSERT_EQ(with3->size(), 1u);
  EXPECT_EQ((*with3)[0].id, sb->id);
  EXPECT_TRUE(store_->LiveSessionsWithKey(KeyHash(4), T(2000))->empty());
  // Expired or ended sessions do not count.
  EXPECT_TRUE(store_->LiveSessionsWithKey(KeyHash(1), T(4600))->empty());
  ASSERT_TRUE(*store_->EndSession(sa->id, SessionState::kClosed, "closed by x",
                                  T(1500)));
  EXPECT_EQ(store_->LiveSessionsWithKey(KeyHash(2), T(2000))->size(), 1u);

  // Relay keys added later are found too, once.
  ASSERT_TRUE(store_->AddRelayKey(sb->id, KeyLine(5)).ok());
  ASSERT_TRUE(store_->AddRelayKey(sb->id, KeyLine(5) + " other-comment").ok());
  EXPECT_EQ(store_->GetSession(sb->id)->relay_keys,
            (std::vector<std::string>{KeyLine(3), KeyLine(5)}));
  EXPECT_EQ(store_->LiveSessionsWithKey(KeyHash(5), T(2000))->size(), 1u);
  EXPECT_TRUE(store_->AddRelayKey(sb->id, "junk")
                  .message()
                  .starts_with("relay key 1: "));
  Status ended = store_->AddRelayKey(sa->id, KeyLine(6));
  EXPECT_EQ(ended.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(ended.message(), "session " + sa->id + " has ended");
  EXPECT_EQ(store_->AddRelayKey(crypto::RandomUuidV4(), KeyLine(6)).code(),
            StatusCode::kNotFound);
}

TEST_F(StoreTest, EndExpireAndList) {
  Device a = Add("a"), b = Add("b");
  auto s1 = store_->OpenSession(Request(a.id, 1000, 100));  // until 1100
  auto s2 = store_->OpenSession(Request(b.id, 1010, 500));  // until 1510
  ASSERT_TRUE(s1.ok() && s2.ok());
  EXPECT_EQ(**store_->NextExpiry(), T(1100));

  EXPECT_EQ(store_->EndSession(s1->id, SessionState::kOpen, "x", T(1))
                .status()
                .message(),
            "EndSession: the state must be closed or expired");
  EXPECT_EQ(store_->EndSession("nope", SessionState::kClosed, "x", T(1))
                .status()
                .code(),
            StatusCode::kNotFound);

  auto expired = store_->ExpireSessions(T(1100));
  ASSERT_TRUE(expired.ok());
  ASSERT_EQ(expired->size(), 1u);
  EXPECT_EQ((*expired)[0].id, s1->id);
  EXPECT_EQ((*expired)[0].state, SessionState::kExpired);
  EXPECT_EQ((*expired)[0].ended_at, T(1100));
  EXPECT_EQ((*expired)[0].end_reason, "expired");
  EXPECT_TRUE(store_->ExpireSessions(T(1100))->empty());
  EXPECT_EQ(**store_->NextExpiry(), T(1510));
  // Ending an expired session changes nothing.
  EXPECT_FALSE(
      *store_->EndSession(s1->id, SessionState::kClosed, "late", T(1200)));
  EXPECT_EQ(store_->GetSession(s1->id)->state, SessionState::kExpired);

  EXPECT_TRUE(*store_->EndSession(s2->id, SessionState::kClosed,
                                  "closed by alice", T(1200)));
  auto got = store_->GetSession(s2->id);
  EXPECT_EQ(got->state, SessionState::kClosed);
  EXPECT_EQ(got->end_reason, "closed by alice");
  EXPECT_EQ(got->ended_at, T(1200));
  EXPECT_FALSE(store_->NextExpiry()->has_value());

  // A new session for a after its first one: newest first.
  auto s3 = store_->OpenSession(Request(a.id, 1300));
  ASSERT_TRUE(s3.ok());
  auto all = store_->ListSessions({});
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].id, s3->id);
  EXPECT_EQ((*all)[1].id, s2->id);
  EXPECT_EQ((*all)[2].id, s1->id);
  auto of_a = store_->ListSessions({.device_id = a.id});
  ASSERT_EQ(of_a->size(), 2u);
  auto live = store_->ListSessions({.live_only = true, .now = T(1400)});
  ASSERT_EQ(live->size(), 1u);
  EXPECT_EQ((*live)[0].id, s3->id);
  EXPECT_EQ(store_->ListSessions({.limit = 1})->size(), 1u);
  EXPECT_EQ(store_->ListSessions({.limit = 0})->size(), 3u);
  EXPECT_EQ(store_->ListSessions({.live_only = true}).status().message(),
            "ListSessions: live_only needs now");
}

TEST_F(StoreTest, TunnelState) {
  Device a = Add("a");
  auto s = store_->OpenSession(Request(a.id));
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE(store_->SetTunnelUp(s->id, true, T(1001)).ok());
  ASSERT_TRUE(store_->SetTunnelUp(s->id, true, T(1005)).ok());
  auto got = store_->GetSession(s->id);
  EXPECT_TRUE(got->tunnel_up);
  EXPECT_EQ(got->tunnel_changed_at, T(1001));
  EXPECT_EQ(store_->GetCounts(T(1010))->tunnels_up, 1u);
  ASSERT_TRUE(*store_->EndSession(s->id, SessionState::kClosed, "x", T(1010)));
  ASSERT_TRUE(store_->SetTunnelUp(s->id, false, T(1011)).ok());
  got = store_->GetSession(s->id);
  EXPECT_FALSE(got->tunnel_up);
  EXPECT_EQ(got->tunnel_changed_at, T(1011));
  EXPECT_EQ(store_->SetTunnelUp("nope", true, T(1)).code(),
            StatusCode::kNotFound);
}

// ---- commands ----

TEST_F(StoreTest, Commands) {
  Device a = Add("a"), b = Add("b");
  Command c1 = NewCommand(a.id, 1000);
  Command c2 = NewCommand(a.id, 1001);
  Command c3 = NewCommand(b.id, 1002);
  c2.args = {"with \"quotes\"", "line\nbreak", "", "caf\xc3\xa9"};
  for (const Command& c : {c1, c2, c3}) ASSERT_TRUE(store_->AddCommand(c).ok());

  Status dup = store_->AddCommand(c1);
  EXPECT_EQ(dup.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(dup.message(), "command id '" + c1.id + "' already exists");
  EXPECT_EQ(store_->AddCommand(NewCommand(crypto::RandomUuidV4(), 1)).code(),
            StatusCode::kNotFound);
  Command bad = NewCommand(a.id, 1);
  bad.args = {"\xc0\x80"};
  EXPECT_EQ(store_->AddCommand(bad).message(), "argument 1 is not valid UTF-8");

  auto got = store_->GetCommand(c2.id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->args, c2.args);
  EXPECT_EQ(got->name, "reboot");
  EXPECT_EQ(got->created_by, "alice");
  EXPECT_FALSE(got->done());
  EXPECT_EQ(store_->GetCommand("urn:x").status().message(),
            "no command 'urn:x'");

  auto pending = store_->PendingCommands(a.id);
  ASSERT_EQ(pending->size(), 2u);
  EXPECT_EQ((*pending)[0].id, c1.id);  // oldest first
  EXPECT_EQ((*pending)[1].id, c2.id);

  CommandResult r{R"({"success":true,"exit_code":0})", true, 0, T(1100)};
  auto wrong_device = store_->SetCommandResult(b.id, c1.id, r);
  EXPECT_EQ(wrong_device.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(wrong_device.status().message(),
            "no command '" + c1.id + "' for device '" + b.id + "'");
  EXPECT_EQ(store_->SetCommandResult(a.id, "urn:none", r).status().code(),
            StatusCode::kNotFound);
  auto first = store_->SetCommandResult(a.id, c1.id, r);
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(*first);
  CommandResult r2{R"({"success":false})", false, std::nullopt, T(1200)};
  auto second = store_->SetCommandResult(a.id, c1.id, r2);
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(*second);
  got = store_->GetCommand(c1.id);
  EXPECT_TRUE(got->done());
  EXPECT_EQ(got->result_json, r.json);
  EXPECT_TRUE(got->success);
  EXPECT_EQ(got->exit_code, 0);
  EXPECT_EQ(got->result_at, T(1100));

  EXPECT_EQ(store_->PendingCommands(a.id)->size(), 1u);
  EXPECT_EQ(store_->ListCommands({})->size(), 3u);
  EXPECT_EQ(store_->ListCommands({})->front().id, c3.id);  // newest first
  EXPECT_EQ(store_->ListCommands({.device_id = a.id})->size(), 2u);
  EXPECT_EQ(store_->ListCommands({.pending_only = true})->size(), 2u);
  EXPECT_EQ(store_->ListCommands({.limit = 1})->size(), 1u);

  ASSERT_TRUE(store_->RemoveDevice(b.id, T(1300)).ok());
  EXPECT_EQ(store_->AddCommand(NewCommand(b.id, 1400)).code(),
            StatusCode::kFailedPrecondition);
}

// ---- tokens ----

TEST_F(StoreTest, Tokens) {
  Token admin = NewToken("admin", 1, 1000);
  ASSERT_TRUE(store_->AddToken(admin).ok());
  auto found = store_->FindToken(admin.sha256);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->name, "admin");
  EXPECT_EQ(found->created_at, T(1000));
  EXPECT_EQ(store_->FindToken(std::string(64, '0')).status().message(),
            "no token with this hash");

  EXPECT_EQ(store_->AddToken(NewToken("admin", 2)).message(),
            "token name 'admin' is already in use");
  Token same_hash = NewToken("other", 1);
  same_hash.sha256 = admin.sha256;
  EXPECT_EQ(store_->AddToken(same_hash).message(),
            "a token with this hash already exists");
  EXPECT_EQ(store_->AddToken(NewToken("bad name", 3)).code(),
            StatusCode::kInvalidArgument);
  Token bad_hash = NewToken("x", 4);
  bad_hash.sha256 = std::string(64, 'A');
  EXPECT_EQ(store_->AddToken(bad_hash).message(),
            "a token hash is 64 lower-case hex digits");

  ASSERT_TRUE(store_->RevokeToken("admin", T(1100)).ok());
  EXPECT_EQ(store_->FindToken(admin.sha256).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(store_->RevokeToken("admin", T(1200)).message(),
            "no active token 'admin'");
  // The name can be used again; a revoked hash cannot.
  Token admin2 = NewToken("admin", 5, 1300);
  ASSERT_TRUE(store_->AddToken(admin2).ok());
  Token reuse = NewToken("again", 1);
  reuse.sha256 = admin.sha256;
  EXPECT_EQ(store_->AddToken(reuse).code(), StatusCode::kAlreadyExists);

  auto list = store_->ListTokens();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].sha256, admin.sha256);
  EXPECT_EQ((*list)[0].revoked_at, T(1100));
  EXPECT_EQ((*list)[1].sha256, admin2.sha256);
  EXPECT_FALSE((*list)[1].revoked_at);
}

// ---- audit, metadata, settings, counts ----

TEST_F(StoreTest, Audit) {
  AuditEvent e;
  e.at = T(1000);
  e.kind = "session.open";
  e.device_id = "d1";
  e.session_id = "s1";
  e.actor = "alice";
  e.details_json = R"({"port":40001})";
  auto s1 = store_->AppendAudit(e);
  e.at = T(1010);
  e.device_id = "d2";
  e.details_json = "";
  auto s2 = store_->AppendAudit(e);
  e.at = T(1020);
  e.device_id = "d1";
  auto s3 = store_->AppendAudit(e);
  ASSERT_TRUE(s1.ok() && s2.ok() && s3.ok());
  EXPECT_LT(*s1, *s2);
  EXPECT_LT(*s2, *s3);

  e.details_json = "[1]";
  EXPECT_EQ(store_->AppendAudit(e).status().message(),
            "audit details must be a JSON object");
  e.details_json = "{";
  EXPECT_EQ(store_->AppendAudit(e).status().code(),
            StatusCode::kInvalidArgument);

  auto all = store_->ListAudit({});
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].seq, *s1);  // oldest first
  EXPECT_EQ((*all)[0].details_json, R"({"port":40001})");
  EXPECT_EQ((*all)[1].details_json, "{}");
  EXPECT_EQ((*all)[0].kind, "session.open");
  EXPECT_EQ((*all)[0].actor, "alice");
  EXPECT_EQ((*all)[0].session_id, "s1");
  EXPECT_EQ(store_->ListAudit({.device_id = "d1"})->size(), 2u);
  EXPECT_EQ(store_->ListAudit({.since = T(1010)})->size(), 2u);
  EXPECT_EQ(store_->ListAudit({.after_seq = *s2})->size(), 1u);
  EXPECT_EQ(store_->ListAudit({.limit = 2})->back().seq, *s2);
}

TEST_F(StoreTest, Metadata) {
  EXPECT_EQ(*store_->LatestMetadataVersion("root"), 0u);
  EXPECT_EQ(store_->GetMetadata("root", std::nullopt).status().message(),
            "no root metadata");
  ASSERT_TRUE(store_->PutMetadata("root", 1, "r1").ok());
  ASSERT_TRUE(store_->PutMetadata("root", 2, "r2").ok());
  ASSERT_TRUE(store_->PutMetadata("remote-sessions", 7, "rs7").ok());
  EXPECT_EQ(store_->PutMetadata("root", 2, "again").message(),
            "root version 2 already exists");
  EXPECT_EQ(*store_->GetMetadata("root", std::nullopt), "r2");
  EXPECT_EQ(*store_->GetMetadata("root", 1), "r1");
  EXPECT_EQ(store_->GetMetadata("root", 3).status().message(),
            "no root version 3");
  EXPECT_EQ(store_->GetMetadata("root", 3).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(*store_->LatestMetadataVersion("root"), 2u);
  EXPECT_EQ(*store_->LatestMetadataVersion("remote-sessions"), 7u);
  EXPECT_EQ(store_->PutMetadata("root", 0, "x").message(),
            "metadata version 0 is out of range");
  EXPECT_EQ(store_->PutMetadata("root", uint64_t{1} << 63, "x").code(),
            StatusCode::kInvalidArgument);
}

TEST_F(StoreTest, Settings) {
  EXPECT_FALSE(store_->GetSetting("policy.draft")->has_value());
  ASSERT_TRUE(store_->PutSetting("policy.draft", "{}").ok());
  ASSERT_TRUE(store_->PutSetting("policy.draft", "{\"v\":2}").ok());
  EXPECT_EQ(**store_->GetSetting("policy.draft"), "{\"v\":2}");
  std::string binary("a\0b\xff", 4);
  ASSERT_TRUE(store_->PutSetting("bin", binary).ok());
  EXPECT_EQ(**store_->GetSetting("bin"), binary);
}

TEST_F(StoreTest, Counts) {
  Device a = Add("a"), b = Add("b"), c = Add("c");
  ASSERT_TRUE(store_->RemoveDevice(c.id, T(1000)).ok());
  auto s = store_->OpenSession(Request(a.id, 1000, 100));
  ASSERT_TRUE(store_->OpenSession(Request(b.id, 1000, 1000)).ok());
  ASSERT_TRUE(store_->SetTunnelUp(s->id, true, T(1001)).ok());
  ASSERT_TRUE(store_->AddCommand(NewCommand(a.id, 1000)).ok());
  auto counts = store_->GetCounts(T(1050));
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->devices, 2u);
  EXPECT_EQ(counts->sessions_live, 2u);
  EXPECT_EQ(counts->tunnels_up, 1u);
  EXPECT_EQ(counts->commands_pending, 1u);
  EXPECT_EQ(store_->GetCounts(T(1100))->sessions_live, 1u);
}

// ---- change detection, durability, concurrency ----

TEST_F(StoreTest, ChangeStampMovesOnEveryCommit) {
  uint64_t s0 = store_->ChangeStamp();
  EXPECT_EQ(store_->ChangeStamp(), s0);  // nothing happened
  Device d = Add("a");
  uint64_t s1 = store_->ChangeStamp();
  EXPECT_GT(s1, s0);
  ASSERT_TRUE(store_->FindDevice("a").ok());
  EXPECT_EQ(store_->ChangeStamp(), s1);  // reads do not move it
  EXPECT_FALSE(store_->AddDevice(NewDevice("a")).ok());
  EXPECT_EQ(store_->ChangeStamp(), s1);  // nor failed writes
  ASSERT_TRUE(store_->PutSetting("x", "y").ok());
  EXPECT_GT(store_->ChangeStamp(), s1);
  (void)d;
}

TEST_F(StoreTest, ChangeStampSeesOtherConnections) {
  uint64_t before = store_->ChangeStamp();
  {
    auto other = Open();
    ASSERT_TRUE(other);
    ASSERT_TRUE(other->AddDevice(NewDevice("from-other")).ok());
  }
  uint64_t after = store_->ChangeStamp();
  EXPECT_GT(after, before);
  EXPECT_EQ(store_->ChangeStamp(), after);
  EXPECT_TRUE(store_->FindDevice("from-other").ok());
}

TEST_F(StoreTest, ChangeStampSeesOtherProcesses) {
  Device d = Add("dev");
  uint64_t before = store_->ChangeStamp();
  // Like `porthole-server device remove` while the server runs.
  RunResult r = Helper({"remove", path_, d.id});
  ASSERT_TRUE(r.success()) << r.Describe() << ": " << r.err;
  EXPECT_GT(store_->ChangeStamp(), before);
  EXPECT_TRUE(store_->FindDevice(d.id)->removed());
}

TEST_F(StoreTest, EverythingSurvivesReopen) {
  Device d = Add("dev");
  auto s = store_->OpenSession(Request(d.id));
  ASSERT_TRUE(s.ok());
  Command c = NewCommand(d.id, 1000);
  ASSERT_TRUE(store_->AddCommand(c).ok());
  ASSERT_TRUE(store_->AddToken(NewToken("admin", 1)).ok());
  ASSERT_TRUE(store_->PutMetadata("root", 1, "r1").ok());
  ASSERT_TRUE(store_->PutSetting("k", "v").ok());
  ASSERT_TRUE(store_->AppendAudit({.at = T(1), .kind = "x"}).ok());
  store_.reset();

  store_ = Open();
  ASSERT_TRUE(store_);
  EXPECT_EQ(store_->FindDevice("dev")->id, d.id);
  EXPECT_EQ(store_->GetSession(s->id)->reverse_port, s->reverse_port);
  EXPECT_EQ(store_->GetCommand(c.id)->args, c.args);
  EXPECT_EQ(store_->ListTokens()->size(), 1u);
  EXPECT_EQ(*store_->GetMetadata("root", 1), "r1");
  EXPECT_EQ(**store_->GetSetting("k"), "v");
  EXPECT_EQ(store_->ListAudit({})->size(), 1u);
  EXPECT_EQ(store_->LiveSessionsWithKey(KeyHash(1), T(2000))->size(), 1u);
}

TEST_F(StoreTest, CommittedDataSurvivesKillDashNine) {
  RunResult r = Helper({"add-and-die", path_, "50"});
  ASSERT_EQ(r.term_signal, SIGKILL) << r.Describe() << ": " << r.err;
  EXPECT_EQ(store_->ListDevices(false)->size(), 50u);
  store_ = Open();
  ASSERT_TRUE(store_);
  EXPECT_EQ(store_->ListDevices(false)->size(), 50u);
}

TEST_F(StoreTest, TwoHundredConcurrentWriters) {
  constexpr int kThreads = 200;
  std::vector<Device> devices;
  for (int i = 0; i < kThreads; ++i) {
    devices.push_back(Add("dev-" + std::to_string(i)));
  }
  std::vector<std::string> command_ids;
  for (int i = 0; i < kThreads; ++i) {
    Command c = NewCommand(devices[i].id, 1000);
    ASSERT_TRUE(store_->AddCommand(c).ok());
    command_ids.push_back(c.id);
  }
  std::atomic<int> errors{0};
  std::atomic<int> opened{0}, refused{0}, results{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      const Device& d = devices[i];
      // Each thread opens a session for its device and one for a
      // neighbour's (a race with that neighbour), posts its result twice
      // and touches, reads and audits in between.
      const Device* targets[] = {&d, &devices[(i + 1) % kThreads]};
      for (const Device* target : targets) {
        NewSession r = Request(target->id, 1000);
        r.port_min = 40000;
        r.port_max = 40000 + kThreads - 1;  // exactly one port per device
        auto s = store_->OpenSession(r);
        if (s.ok()) {
          ++opened;
        } else if (s.status().code() == StatusCode::kAlreadyExists) {
          ++refused;
        } else {
          ++errors;
        }
      }
      CommandResult res{"{}", true, 0, T(1100)};
      for (int k = 0; k < 2; ++k) {
        auto r = store_->SetCommandResult(d.id, command_ids[i], res);
        if (!r.ok()) ++errors;
        if (r.ok() && *r) ++results;
      }
      if (!store_->TouchDevices({{d.id, T(1200)}}).ok()) ++errors;
      if (!store_->FindDevice(d.name).ok()) ++errors;
      if (!store_->AppendAudit({.at = T(1), .kind = "t", .device_id = d.id})
               .ok()) {
        ++errors;
      }
      (void)store_->ChangeStamp();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(opened.load(), kThreads);
  EXPECT_EQ(refused.load(), kThreads);
  EXPECT_EQ(results.load(), kThreads);

  auto live =
      store_->ListSessions({.live_only = true, .now = T(2000), .limit = 0});
  ASSERT_TRUE(live.ok());
  ASSERT_EQ(live->size(), static_cast<size_t>(kThreads));
  std::set<uint16_t> ports;
  std::set<std::string> owners;
  for (const Session& s : *live) {
    EXPECT_TRUE(ports.insert(s.reverse_port).second)
        << "port " << s.reverse_port << " given twice";
    EXPECT_TRUE(owners.insert(s.device_id).second);
  }
  EXPECT_EQ(ports.size(), static_cast<size_t>(kThreads));
  auto counts = store_->GetCounts(T(2000));
  EXPECT_EQ(counts->sessions_live, static_cast<uint64_t>(kThreads));
  EXPECT_EQ(counts->commands_pending, 0u);
  EXPECT_EQ(store_->ListAudit({.limit = 0})->size(),
            static_cast<size_t>(kThreads));
  // The range is now full.
  Device extra = Add("extra");
  NewSession r = Request(extra.id, 1000);
  r.port_min = 40000;
  r.port_max = 40000 + kThreads - 1;
  EXPECT_EQ(store_->OpenSession(r).status().code(), StatusCode::kUnavailable);
}

TEST_F(StoreTest, ConcurrentWritersInSeveralProcesses) {
  constexpr int kProcs = 4, kEach = 50;
  std::vector<ChildProcess> children;
  for (int p = 0; p < kProcs; ++p) {
    auto c = ChildProcess::Start({STORE_TEST_HELPER, "writer", path_,
                                  "p" + std::to_string(p),
                                  std::to_string(kEach), "40000",
                                  std::to_string(40000 + kProcs * kEach - 1)});
    ASSERT_TRUE(c.ok()) << c.status().message();
    children.push_back(std::move(c).value());
  }
  for (ChildProcess& c : children) {
    RunResult r = c.Wait();
    EXPECT_TRUE(r.success()) << r.Describe();
  }
  auto live =
      store_->ListSessions({.live_only = true, .now = T(2000), .limit = 0});
  ASSERT_EQ(live->size(), static_cast<size_t>(kProcs * kEach));
  std::set<uint16_t> ports;
  for (const Session& s : *live) ports.insert(s.reverse_port);
  EXPECT_EQ(ports.size(), static_cast<size_t>(kProcs * kEach));
}

}  // namespace
}  // namespace porthole::server
