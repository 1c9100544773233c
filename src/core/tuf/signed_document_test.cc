#include "core/tuf/signed_document.h"

#include <gtest/gtest.h>

#include "core/tuf/test_fixtures.h"

namespace porthole::tuf {
namespace {

TEST(SignedDocumentTest, ParsesEnvelope) {
  ErrorOr<SignedDocument> doc = ParseSignedDocument(
      R"({"extra":1,"signed":{"b":1,"a":[2]},
          "signatures":[{"keyid":"ABCD","sig":"AAAA"},
                        {"keyid":"00","method":"x","sig":"AAAA","more":1}]})",
      "d.json");
  ASSERT_TRUE(doc.ok()) << doc.error().message();
  EXPECT_EQ(doc->name, "d.json");
  EXPECT_EQ(doc->canonical, R"({"a":[2],"b":1})");
  ASSERT_EQ(doc->signatures.size(), 2u);
  EXPECT_EQ(doc->signatures[0].keyid, "abcd");  // case-insensitive keyids
  EXPECT_EQ(doc->signatures[0].sig, std::string(3, '\0'));
  EXPECT_EQ(doc->signatures[1].keyid, "00");
}

TEST(SignedDocumentTest, Errors) {
  struct Case {
    const char* name;
    std::string body;
    ErrorCode code;
    std::string message;
  };
  std::string many = R"({"signed":{},"signatures":[)";
  for (size_t i = 0; i <= kMaxSignatures; ++i) {
    many += std::string(i ? "," : "") + R"({"keyid":"00","sig":"AAAA"})";
  }
  many += "]}";
  const Case kCases[] = {
      {"NotJson", fixtures::ReadRac("remote-sessions-86.json"),
       ErrorCode::kNotJson,
       "d.json: not JSON (parse error at line 1, column 1: syntax error "
       "while parsing value - invalid literal; last read: 'A'); body starts "
       "'An error occurred'"},
      {"Empty", "", ErrorCode::kNotJson, ""},
      {"Array", "[]", ErrorCode::kMalformed, "d.json: not a JSON object"},
      {"NoSigned", R"({"signatures":[]})", ErrorCode::kMalformed,
       "d.json: missing member 'signed'"},
      {"SignedNotObject", R"({"signed":[],"signatures":[]})",
       ErrorCode::kMalformed, "d.json: member 'signed' must be an object"},
      {"NoSignatures", R"({"signed":{}})", ErrorCode::kMalformed,
       "d.json: missing member 'signatures'"},
      {"SignaturesNotArray", R"({"signed":{},"signatures":{}})",
       ErrorCode::kMalformed, "d.json: member 'signatures' must be an array"},
      {"SignatureNotObject", R"({"signed":{},"signatures":[1]})",
       ErrorCode::kBadSignature, "d.json: signature 0 is not an object"},
      {"NoKeyid", R"({"signed":{},"signatures":[{"sig":"AAAA"}]})",
       ErrorCode::kBadSignature, "d.json: signature 0: missing member 'keyid'"},
      {"KeyidNotHex",
       R"({"signed":{},"signatures":[{"keyid":"xy","sig":"AAAA"}]})",
       ErrorCode::kBadSignature, "d.json: signature 0: keyid is not hex"},
      {"SigHex",  // upstream tough's hex form: not base64 here
       R"({"signed":{},"signatures":[{"keyid":"00","sig":"0a1"}]})",
       ErrorCode::kBadSignature,
       "d.json: signature 0: sig: missing base64 padding"},
      {"SigUnpadded",
       R"({"signed":{},"signatures":[{"keyid":"00","sig":"AA"}]})",
       ErrorCode::kBadSignature,
       "d.json: signature 0: sig: missing base64 padding"},
      {"SigUrlSafe",
       R"({"signed":{},"signatures":[{"keyid":"00","sig":"-_=="}]})",
       ErrorCode::kBadSignature,
       "d.json: signature 0: sig: invalid base64 character"},
      {"SigNotString", R"({"signed":{},"signatures":[{"keyid":"00","sig":5}]})",
       ErrorCode::kBadSignature,
       "d.json: signature 0: member 'sig' must be a string"},
      {"TooManySignatures", many, ErrorCode::kBadSignature,
       "d.json: more than 1024 signatures"},
      {"Float", R"({"signed":{"version":1.0},"signatures":[]})",
       ErrorCode::kNotCanonical, "d.json: signed/version: non-integer number"},
      {"DuplicateMember",
       R"({"signed":{"version":1,"version":2},"signatures":[]})",
       ErrorCode::kNotJson,
       "d.json: not JSON (duplicate member 'version'); body starts "
       "'{\"signed\":{\"version\":1,\"version\":2},\"signatures\":[]}'"},
  };
  for (const Case& c : kCases) {
    ErrorOr<SignedDocument> doc = ParseSignedDocument(c.body, "d.json");
    ASSERT_FALSE(doc.ok()) << c.name;
    EXPECT_EQ(doc.error().code(), c.code) << c.name;
    if (!c.message.empty()) {
      EXPECT_EQ(doc.error().message(), c.message) << c.name;
    }
  }
}

TEST(SignedDocumentTest, SizeCap) {
  std::string body = R"({"signed":{"pad":")";
  body += std::string(kMaxMetadataBytes, 'x');
  body += R"("},"signatures":[]})";
  ErrorOr<SignedDocument> doc = ParseSignedDocument(body, "d.json");
  ASSERT_FALSE(doc.ok());
  EXPECT_EQ(doc.error().code(), ErrorCode::kTooLarge);
  EXPECT_EQ(doc.error().message(), "d.json: larger than 1048576 bytes");
  // Exactly at the cap is fine.
  std::string small = R"({"signed":{},"signatures":[]})";
  EXPECT_TRUE(ParseSignedDocument(small, "d", small.size()).ok());
  EXPECT_FALSE(ParseSignedDocument(small, "d", small.size() - 1).ok());
}

}  // namespace
}  // namespace porthole::tuf
