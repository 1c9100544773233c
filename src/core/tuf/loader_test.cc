// The loader against a fake director: trust on first use, rotation, fail
// closed, rollback, clock guard, size caps and mix-and-match, with metadata
// forged from RAC's test keys.
#include "core/tuf/loader.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "core/base/file.h"
#include "core/base/test_util.h"
#include "core/tuf/test_fixtures.h"
#include "core/tuf/verifier.h"

namespace porthole::tuf {
namespace {

using fixtures::FakeFetcher;
using fixtures::MakeRemoteSessionsSpec;
using fixtures::MakeRootSpec;
using fixtures::RacRemoteSessionsKey;
using fixtures::RacRootKey;
using fixtures::RemoteSessionsText;
using fixtures::RootText;
using fixtures::Time;

class LoaderTest : public ::testing::Test {
 protected:
  // Root `version` with root keys `keys` (threshold 1), signed by `signers`;
  // remote-sessions key `rs` (default RAC's RSA key).
  std::string Root(uint64_t version, std::vector<const Signer*> keys,
                   std::vector<const Signer*> signers,
                   const Signer* rs = nullptr,
                   SystemTime expires = Time("2034-01-01T00:00:00Z")) {
    std::vector<const Signer*> rs_keys;
    rs_keys.push_back(rs != nullptr ? rs : &rs_key_);
    return RootText(MakeRootSpec(version, expires, keys, rs_keys), signers);
  }
  std::string RootV(uint64_t version) {
    return Root(version, {&root_key_}, {&root_key_});
  }
  std::string Rs(uint64_t version, const Signer* key = nullptr,
                 SystemTime expires = Time("2034-01-01T00:00:00Z")) {
    return RemoteSessionsText(MakeRemoteSessionsSpec(version, expires),
                              {key != nullptr ? key : &rs_key_});
  }

  // The state directory, <tmp>/tuf (the loader creates it).
  std::string StateDir() const { return tmp_.path() + "/tuf"; }
  std::string Path(const std::string& name) const {
    return StateDir() + "/" + name;
  }
  void StoreRoot(const std::string& text) {
    ASSERT_TRUE(MakeDirs(StateDir(), 0700).ok());
    ASSERT_TRUE(AtomicReplace(Path("root.json"), text).ok());
  }
  std::string Stored(const std::string& name) const {
    Result<std::string> s = ReadFile(Path(name), 1 << 20);
    return s.ok() ? *s : "<missing>";
  }

  ErrorOr<VerifiedMetadata> Load() { return loader_.Load(); }
  static void ExpectError(const ErrorOr<VerifiedMetadata>& r, ErrorCode code,
                          const std::string& message = "") {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code(), code) << r.error().message();
    if (!message.empty()) {
      EXPECT_EQ(r.error().message(), message);
    }
  }
  bool Requested(const std::string& name) const {
    return std::find(fetcher_.requests.begin(), fetcher_.requests.end(),
                     name) != fetcher_.requests.end();
  }

  TempDir tmp_;
  FakeFetcher fetcher_;
  FakeClock clock_{fixtures::VectorNow()};
  MetadataLoader loader_{StateDir(), &fetcher_, &clock_};
  const Signer& root_key_ = RacRootKey();
  const Signer& rs_key_ = RacRemoteSessionsKey();
  Signer stranger_{crypto::SigningKey::GenerateEd25519()};
};

// --- trust on first use ---------------------------------------------------

TEST_F(LoaderTest, TofuVerifiesThenSaves) {
  const std::string rs = Rs(5);  // RSA-PSS signatures are randomised
  fetcher_.Serve("root.json", RootV(1));
  fetcher_.Serve("remote-sessions.json", rs);
  ErrorOr<VerifiedMetadata> m = Load();
  ASSERT_TRUE(m.ok()) << m.error().message();
  EXPECT_EQ(m->root.version, 1u);
  EXPECT_EQ(m->remote_sessions.version, 5u);
  EXPECT_EQ(Stored("root.json"), RootV(1));
  EXPECT_EQ(Stored("remote-sessions.json"), rs);
  EXPECT_EQ(Stored("latest_known_time.json"), "\"2025-07-30T16:00:00Z\"");
  EXPECT_EQ(fetcher_.requests,
            (std::vector<std::string>{"root.json", "2.root.json",
                                      "remote-sessions.json"}));
}

TEST_F(LoaderTest, TofuRefusesAndDoesNotSaveABadRoot) {
  struct Case {
    const char* name;
    FetchResult served;
    ErrorCode code;
  };
  const Case kCases[] = {
      {"SignedByStranger",
       FetchResult::Found(Root(1, {&root_key_}, {&stranger_})),
       ErrorCode::kThresholdNotMet},
      {"HtmlPage", FetchResult::Found("<html>502 Bad Gateway</html>"),
       ErrorCode::kNotJson},
      {"NotFound", FetchResult::NotFound(), ErrorCode::kNotFound},
      {"ServerError", FetchResult::Failed("HTTP 500"), ErrorCode::kFetchFailed},
      {"TooLarge", FetchResult::TooLarge(), ErrorCode::kTooLarge},
  };
  for (const Case& c : kCases) {
    fetcher_.files["root.json"] = c.served;
    fetcher_.Serve("remote-sessions.json", Rs(5));
    ErrorOr<VerifiedMetadata> m = Load();
    ASSERT_FALSE(m.ok()) << c.name;
    EXPECT_EQ(m.error().code(), c.code)
        << c.name << ": " << m.error().message();
    EXPECT_EQ(Stored("root.json"), "<missing>") << c.name;
  }
}

TEST_F(LoaderTest, StoredRootMustVerify) {
  StoreRoot(Root(1, {&root_key_}, {&stranger_}));
  fetcher_.Serve("root.json", RootV(1));
  ErrorOr<VerifiedMetadata> m = Load();
  ExpectError(m, ErrorCode::kThresholdNotMet,
              "stored root.json: signature threshold of 1 not met for role "
              "root (0 valid signatures)");
  EXPECT_FALSE(Requested("root.json"));  // no silent re-TOFU
}

// --- rotation ---------------------------------------------------------------

TEST_F(LoaderTest, RotatesAndAdvancesStoredRoot) {
  StoreRoot(RootV(1));
  fetcher_.Serve("2.root.json", RootV(2));
  fetcher_.Serve("3.root.json", RootV(3));
  fetcher_.Serve("remote-sessions.json", Rs(5));
  ErrorOr<VerifiedMetadata> m = Load();
  ASSERT_TRUE(m.ok()) << m.error().message();
  EXPECT_EQ(m->root.version, 3u);
  EXPECT_EQ(Stored("root.json"), RootV(3));

  fetcher_.requests.clear();
  ASSERT_TRUE(Load().ok());
  EXPECT_EQ(fetcher_.requests,
            (std::vector<std::string>{"4.root.json", "remote-sessions.json"}));
}

TEST_F(LoaderTest, RotationToNewKeys) {
  Signer k2{crypto::SigningKey::GenerateEd25519()};
  Signer k3{crypto::SigningKey::GenerateEcdsaP256()};
  StoreRoot(RootV(1));
  fetcher_.Serve("2.root.json", Root(2, {&k2}, {&root_key_, &k2}));
  fetcher_.Serve("3.root.json", Root(3, {&k3}, {&k2, &k3}));
  fetcher_.Serve("remote-sessions.json", Rs(5));
  ErrorOr<VerifiedMetadata> m = Load();
  ASSERT_TRUE(m.ok()) << m.error().message();
  EXPECT_EQ(m->root.version, 3u);
  EXPECT_EQ(m->root.FindRole("root")->keyids,
            std::vector<std::string>{k3.keyid()});
}

TEST_F(LoaderTest, RotationRefusals) {
  Signer k2{crypto::SigningKey::GenerateEd25519()};
  std::string tampered = [&] {
    Json doc = ParseJson(RootV(2)).value();
    doc["signed"]["expires"] = "2099-01-01T00:00:00Z";
    return DumpJson(doc).value();
  }();
  struct Case {
    const char* name;
    FetchResult served;
    ErrorCode code;
  };
  const Case kCases[] = {
      {"BadSignature", FetchResult::Found(tampered),
       ErrorCode::kThresholdNotMet},
      {"OnlyOldThreshold", FetchResult::Found(Root(2, {&k2}, {&root_key_})),
       ErrorCode::kThresholdNotMet},
      {"OnlyNewThreshold", FetchResult::Found(Root(2, {&k2}, {&k2})),
       ErrorCode::kThresholdNotMet},
      {"SkipsAVersion", FetchResult::Found(RootV(3)), ErrorCode::kBadVersion},
      {"ServerError", FetchResult::Failed("HTTP 500"), ErrorCode::kFetchFailed},
      {"TransportError", FetchResult::Failed("connection reset"),
       ErrorCode::kFetchFailed},
      {"TooLargeByFetcher", FetchResult::TooLarge(), ErrorCode::kTooLarge},
      {"TooLargeBody",
       FetchResult::Found(std::string(kMaxMetadataBytes + 1, ' ')),
       ErrorCode::kTooLarge},
      {"NotJson", FetchResult::Found("An error occurred"), ErrorCode::kNotJson},
      {"RemoteSessionsServedAsRoot", FetchResult::Found(Rs(2, &root_key_)),
       ErrorCode::kWrongType},
  };
  for (const Case& c : kCases) {
    StoreRoot(RootV(1));
    fetcher_.files.clear();
    fetcher_.files["2.root.json"] = c.served;
    fetcher_.Serve("remote-sessions.json", Rs(5));
    ErrorOr<VerifiedMetadata> m = Load();
    ASSERT_FALSE(m.ok()) << c.name;
    EXPECT_EQ(m.error().code(), c.code)
        << c.name << ": " << m.error().message();
    EXPECT_EQ(Stored("root.json"), RootV(1)) << c.name;
    EXPECT_FALSE(Requested("remote-sessions.json")) << c.name;
  }
}

TEST_F(LoaderTest, ServerErrorMessageFailsClosed) {
  StoreRoot(RootV(1));
  fetcher_.files["2.root.json"] = FetchResult::Failed("HTTP 500");
  ExpectError(Load(), ErrorCode::kFetchFailed,
              "2.root.json: fetch failed: HTTP 500");
}

TEST_F(LoaderTest, RootRollbackRefused) {
  StoreRoot(RootV(2));
  fetcher_.Serve("3.root.json", RootV(1));
  ExpectError(Load(), ErrorCode::kRollback,
              "3.root.json: version 1 is lower than trusted root version 2");
}

TEST_F(LoaderTest, SameVersionStopsTheWalk) {
  StoreRoot(RootV(2));
  fetcher_.Serve("3.root.json", RootV(2));
  fetcher_.Serve("remote-sessions.json", Rs(5));
  ErrorOr<VerifiedMetadata> m = Load();
  ASSERT_TRUE(m.ok()) << m.error().message();
  EXPECT_EQ(m->root.version, 2u);
}

TEST_F(LoaderTest, ProgressIsKeptBeforeAFailure) {
  StoreRoot(RootV(1));
  fetcher_.Serve("2.root.json", RootV(2));
  fetcher_.Serve("3.root.json", Root(3, {&root_key_}, {&stranger_}));
  ExpectError(Load(), ErrorCode::kThresholdNotMet);
  EXPECT_EQ(Stored("root.json"), RootV(2));
}

TEST_F(LoaderTest, RotationCapPerLoad) {
  MetadataLoader::Options options;
  options.max_root_rotations = 3;
  MetadataLoader loader(StateDir(), &fetcher_, &clock_, options);
  StoreRoot(RootV(1));
  for (uint64_t v = 2; v <= 6; ++v) {
    fetcher_.Serve(std::to_string(v) + ".root.json", RootV(v));
  }
  fetcher_.Serve("remote-sessions.json", Rs(5));
  ErrorOr<VerifiedMetadata> m = loader.Load();
  ExpectError(m, ErrorCode::kTooManyRotations,
              "more than 3 root rotations in one load (at version 4)");
  EXPECT_EQ(Stored("root.json"), RootV(4));
  // The next load carries on from there.
  m = loader.Load();
  ASSERT_TRUE(m.ok()) << m.error().message();
  EXPECT_EQ(m->root.version, 6u);
}

TEST_F(LoaderTest, FinalRootExpired) {
  StoreRoot(Root(1, {&root_key_}, {&root_key_}, nullptr,
                 Time("2020-01-01T00:00:00Z")));  // expired, still rotates
  fetcher_.Serve("2.root.json", Root(2, {&root_key_}, {&root_key_}, nullptr,
                                     Time("2025-07-30T15:00:00Z")));
  fetcher_.Serve("remote-sessions.json", Rs(5));
  ExpectError(Load(), ErrorCode::kExpired,
              "root.json (version 2): expired at 2025-07-30T15:00:00Z (now "
              "2025-07-30T16:00:00Z)");
  // A newer unexpired root repairs it.
  fetcher_.Serve("3.root.json", RootV(3));
  EXPECT_TRUE(Load().ok());
}

// --- remote-sessions --------------------------------------------------------

TEST_F(LoaderTest, RemoteSessionsRollback) {
  const std::string v5 = Rs(5);
  const std::string v6 = Rs(6);
  StoreRoot(RootV(1));
  fetcher_.Serve("remote-sessions.json", v5);
  ASSERT_TRUE(Load().ok());
  fetcher_.Serve("remote-sessions.json", Rs(4));
  ExpectError(Load(), ErrorCode::kRollback,
              "remote-sessions.json: version 4 is lower than the last "
              "accepted version 5");
  EXPECT_EQ(Stored("remote-sessions.json"), v5);
  // The same version again, even re-signed, is fine.
  fetcher_.Serve("remote-sessions.json", Rs(5));
  EXPECT_TRUE(Load().ok());
  fetcher_.Serve("remote-sessions.json", v6);
  EXPECT_TRUE(Load().ok());
  EXPECT_EQ(Stored("remote-sessions.json"), v6);
}

TEST_F(LoaderTest, RollbackFloorResetWhenRoleKeysRotate) {
  Signer new_rs{crypto::SigningKey::GenerateEd25519()};
  StoreRoot(RootV(1));
  fetcher_.Serve("remote-sessions.json", Rs(50));
  ASSERT_TRUE(Load().ok());
  // Same keys in root v2: the floor stays.
  fetcher_.Serve("2.root.json", RootV(2));
  fetcher_.Serve("remote-sessions.json", Rs(1));
  ExpectError(Load(), ErrorCode::kRollback);
  // Root v3 replaces the remote-sessions key: the new key starts afresh.
  fetcher_.Serve("3.root.json", Root(3, {&root_key_}, {&root_key_}, &new_rs));
  fetcher_.Serve("remote-sessions.json", Rs(1, &new_rs));
  ErrorOr<VerifiedMetadata> m = Load();
  ASSERT_TRUE(m.ok()) << m.error().message();
  EXPECT_EQ(m->remote_sessions.version, 1u);
}

TEST_F(LoaderTest, RemoteSessionsFailures) {
  StoreRoot(RootV(1));
  Signer both{crypto::SigningKey::GenerateEd25519()};
  struct Case {
    const char* name;
    FetchResult served;
    ErrorCode code;
  };
  const Case kCases[] = {
      {"NotFound", FetchResult::NotFound(), ErrorCode::kNotFound},
      {"ServerError", FetchResult::Failed("HTTP 502"), ErrorCode::kFetchFailed},
      {"NotJson",
       FetchResult::Found(fixtures::ReadRac("remote-sessions-86.json")),
       ErrorCode::kNotJson},
      {"TooLarge", FetchResult::Found(std::string(kMaxMetadataBytes + 1, '{')),
       ErrorCode::kTooLarge},
      {"WrongKey", FetchResult::Found(Rs(5, &stranger_)),
       ErrorCode::kThresholdNotMet},
      {"SignedByRootKey", FetchResult::Found(Rs(5, &root_key_)),
       ErrorCode::kThresholdNotMet},
      {"RootServedAsRemoteSessions", FetchResult::Found(RootV(1)),
       ErrorCode::kWrongType},
      {"Expired",
       FetchResult::Found(Rs(5, nullptr, Time("2025-07-01T00:00:00Z"))),
       ErrorCode::kExpired},
  };
  for (const Case& c : kCases) {
    fetcher_.files["remote-sessions.json"] = c.served;
    ErrorOr<VerifiedMetadata> m = Load();
    ASSERT_FALSE(m.ok()) << c.name;
    EXPECT_EQ(m.error().code(), c.code)
        << c.name << ": " << m.error().message();
    EXPECT_EQ(Stored("remote-sessions.json"), "<missing>") << c.name;
  }
  fetcher_.Serve("remote-sessions.json", Rs(5));
  ErrorOr<VerifiedMetadata> m = Load();
  ASSERT_TRUE(m.ok()) << m.error().message();
  EXPECT_EQ(VerifyFailureText(Error(ErrorCode::kNotFound, "x")),
            "Failed to verify remote-sessions metadata: x");
}

TEST_F(LoaderTest, MissingRole) {
  RootSpec spec =
      MakeRootSpec(1, Time("2034-01-01T00:00:00Z"), {&root_key_}, {});
  StoreRoot(RootText(spec, {&root_key_}));
  fetcher_.Serve("remote-sessions.json", Rs(5));
  ExpectError(Load(), ErrorCode::kMissingRole,
              "remote-sessions not set in root.json");
  EXPECT_FALSE(Requested("remote-sessions.json"));
  ErrorOr<tuf::Root> root = loader_.LoadRoot();
  ASSERT_TRUE(root.ok()) << root.error().message();
}

TEST_F(LoaderTest, CorruptStoredRemoteSessionsIsAStateError) {
  StoreRoot(RootV(1));
  ASSERT_TRUE(AtomicReplace(Path("remote-sessions.json"), "garbage").ok());
  fetcher_.Serve("remote-sessions.json", Rs(5));
  ExpectError(Load(), ErrorCode::kStateError);
}

// --- clock guard ----------------------------------------------------------

TEST_F(LoaderTest, ClockSteppedBackStillValidates) {
  StoreRoot(RootV(1));
  fetcher_.Serve("remote-sessions.json", Rs(5));
  ASSERT_TRUE(Load().ok());
  clock_.Set(Time("1970-01-01T00:00:10Z"));  // RTC-less boot
  ErrorOr<VerifiedMetadata> m = Load();
  ASSERT_TRUE(m.ok()) << m.error().message();
  EXPECT_EQ(Stored("latest_known_time.json"), "\"2025-07-30T16:00:00Z\"");
  clock_.Set(Time("2025-08-01T00:00:00.5Z"));
  ASSERT_TRUE(Load().ok());
  EXPECT_EQ(Stored("latest_known_time.json"),
            "\"2025-08-01T00:00:00.500000000Z\"");
}

TEST_F(LoaderTest, ClockSteppedBackDoesNotRevive) {
  StoreRoot(RootV(1));
  fetcher_.Serve("remote-sessions.json",
                 Rs(5, nullptr, Time("2025-07-30T17:00:00Z")));
  ASSERT_TRUE(Load().ok());
  clock_.Set(Time("2025-07-30T18:00:00Z"));
  ExpectError(Load(), ErrorCode::kExpired);
  clock_.Set(Time("2025-07-30T16:30:00Z"));  // set back by an attacker
  ExpectError(Load(), ErrorCode::kExpired,
              "remote-sessions.json: expired at 2025-07-30T17:00:00Z (now "
              "2025-07-30T18:00:00Z)");
}

TEST_F(LoaderTest, UnreadableTimeFileIsIgnored) {
  StoreRoot(RootV(1));
  ASSERT_TRUE(AtomicReplace(Path("latest_known_time.json"), "junk").ok());
  fetcher_.Serve("remote-sessions.json", Rs(5));
  ASSERT_TRUE(Load().ok());
  EXPECT_EQ(Stored("latest_known_time.json"), "\"2025-07-30T16:00:00Z\"");
}

TEST_F(LoaderTest, ReadsRacStyleTimeFile) {
  // tough writes chrono's RFC 3339 with nanoseconds.
  StoreRoot(RootV(1));
  ASSERT_TRUE(AtomicReplace(Path("latest_known_time.json"),
                            "\"2025-07-30T17:10:39.123456789Z\"")
                  .ok());
  fetcher_.Serve("remote-sessions.json",
                 Rs(5, nullptr, Time("2025-07-30T17:00:00Z")));
  ExpectError(Load(), ErrorCode::kExpired);
}

TEST(DirectoryFetcherTest, Kinds) {
  TempDir dir;
  ASSERT_TRUE(AtomicReplace(dir.Join("a.json"), "12345").ok());
  DirectoryFetcher f(dir.path());
  EXPECT_EQ(f.Fetch("a.json", 10).kind, FetchResult::Kind::kFound);
  EXPECT_EQ(f.Fetch("a.json", 10).body, "12345");
  EXPECT_EQ(f.Fetch("a.json", 4).kind, FetchResult::Kind::kTooLarge);
  EXPECT_EQ(f.Fetch("b.json", 10).kind, FetchResult::Kind::kNotFound);
  EXPECT_EQ(f.Fetch("../a.json", 10).kind, FetchResult::Kind::kError);
}

}  // namespace
}  // namespace porthole::tuf
