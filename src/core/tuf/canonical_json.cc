#include "core/tuf/canonical_json.h"

#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>
#include <unicode/stringpiece.h>
#include <unicode/utypes.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <utility>
#include <vector>

namespace porthole::tuf {
namespace {

bool IsAscii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x80;
  });
}

// `"` + escaped NFC text + `"`, appended to `out`.
Error AppendString(std::string_view text, std::string* out) {
  std::string normalized;
  if (!IsAscii(text)) {
    TUF_ASSIGN_OR_RETURN(normalized, NormalizeNfc(text));
    text = normalized;
  }
  out->push_back('"');
  for (char c : text) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      default:
        out->push_back(c);
    }
  }
  out->push_back('"');
  return Error::None();
}

class Writer {
 public:
  Error Write(const Json& v, int depth, std::string* out) {
    if (depth > kMaxJsonDepth) return Fail("nested too deeply");
    switch (v.type()) {
      case Json::value_t::null:
        out->append("null");
        return Error::None();
      case Json::value_t::boolean:
        out->append(v.get<bool>() ? "true" : "false");
        return Error::None();
      case Json::value_t::number_integer:
        out->append(std::to_string(v.get<int64_t>()));
        return Error::None();
      case Json::value_t::number_unsigned:
        out->append(std::to_string(v.get<uint64_t>()));
        return Error::None();
      case Json::value_t::number_float:
        return Fail("non-integer number");
      case Json::value_t::string: {
        Error e = AppendString(v.get_ref<const std::string&>(), out);
        return e.ok() ? e : Fail(e.message());
      }
      case Json::value_t::array:
        return WriteArray(v, depth, out);
      case Json::value_t::object:
        return WriteObject(v, depth, out);
      case Json::value_t::binary:
      case Json::value_t::discarded:
        break;
    }
    return Fail("not a JSON value");
  }

 private:
  Error WriteArray(const Json& v, int depth, std::string* out) {
    out->push_back('[');
    size_t i = 0;
    for (const Json& e : v) {
      if (i > 0) out->push_back(',');
      path_.push_back(std::to_string(i++));
      TUF_RETURN_IF_ERROR(Write(e, depth + 1, out));
      path_.pop_back();
    }
    out->push_back(']');
    return Error::None();
  }

  Error WriteObject(const Json& v, int depth, std::string* out) {
    // Encode every name first: the order is that of the encoded bytes.
    struct Member {
      std::string encoded;
      const std::string* name;
      const Json* value;
    };
    std::vector<Member> members;
    members.reserve(v.size());
    for (auto it = v.begin(); it != v.end(); ++it) {
      std::string encoded;
      path_.push_back(it.key());
      Error e = AppendString(it.key(), &encoded);
      if (!e.ok()) return Fail("member name: " + e.message());
      path_.pop_back();
      members.push_back({std::move(encoded), &it.key(), &it.value()});
    }
    // std::string compares like memcmp (unsigned bytes).
    std::sort(
        members.begin(), members.end(),
        [](const Member& a, const Member& b) { return a.encoded < b.encoded; });
    for (size_t i = 1; i < members.size(); ++i) {
      if (members[i].encoded == members[i - 1].encoded) {
        return Fail("two member names are equal after NFC: " +
                    Excerpt(members[i].encoded));
      }
    }
    out->push_back('{');
    for (size_t i = 0; i < members.size(); ++i) {
      if (i > 0) out->push_back(',');
      out->append(members[i].encoded);
      out->push_back(':');
      path_.push_back(*members[i].name);
      TUF_RETURN_IF_ERROR(Write(*members[i].value, depth + 1, out));
      path_.pop_back();
    }
    out->push_back('}');
    return Error::None();
  }

  Error Fail(std::string_view reason) const {
    std::string pointer;
    for (const std::string& p : path_) {
      pointer.push_back('/');
      for (char c : p) {
        if (c == '~') {
          pointer.append("~0");
        } else if (c == '/') {
          pointer.append("~1");
        } else {
          pointer.push_back(c);
        }
      }
    }
    if (pointer.empty()) pointer = "/";
    return Error(ErrorCode::kNotCanonical,
                 Excerpt(pointer) + ": " + std::string(reason));
  }

  std::vector<std::string> path_;
};

}  // namespace

ErrorOr<std::string> NormalizeNfc(std::string_view utf8) {
  if (!IsValidUtf8(utf8)) {
    return Error(ErrorCode::kNotCanonical, "string is not valid UTF-8");
  }
  if (utf8.size() > static_cast<size_t>(INT32_MAX)) {
    return Error(ErrorCode::kNotCanonical, "string too long");
  }
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* nfc = icu::Normalizer2::getNFCInstance(status);
  if (U_FAILURE(status) || nfc == nullptr) {
    return Error(
        ErrorCode::kNotCanonical,
        std::string("Unicode NFC data unavailable: ") + u_errorName(status));
  }
  icu::StringPiece piece(utf8.data(), static_cast<int32_t>(utf8.size()));
  if (nfc->isNormalizedUTF8(piece, status) && U_SUCCESS(status)) {
    return std::string(utf8);
  }
  status = U_ZERO_ERROR;
  std::string out;
  icu::StringByteSink<std::string> sink(&out);
  nfc->normalizeUTF8(0, piece, sink, nullptr, status);
  if (U_FAILURE(status)) {
    return Error(
        ErrorCode::kNotCanonical,
        std::string("NFC normalisation failed: ") + u_errorName(status));
  }
  return out;
}

ErrorOr<std::string> CanonicalJson(const Json& value) {
  std::string out;
  Writer writer;
  TUF_RETURN_IF_ERROR(writer.Write(value, 0, &out));
  return out;
}

}  // namespace porthole::tuf
