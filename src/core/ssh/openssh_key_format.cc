#include "core/ssh/openssh_key_format.h"

#include <array>
#include <cstdint>
#include <vector>

#include "core/crypto/digest.h"

namespace porthole::ssh {
namespace {

constexpr std::string_view kBegin = "-----BEGIN OPENSSH PRIVATE KEY-----";
constexpr std::string_view kEnd = "-----END OPENSSH PRIVATE KEY-----";
// Includes the terminating NUL, as the format does.
constexpr std::string_view kMagic{"openssh-key-v1\0", 15};
constexpr size_t kBlockSize = 8;  // cipher "none"
constexpr size_t kLineWidth = 70;

// How many SSH strings (mpints are strings on the wire) follow the type
// name in the private section.
struct PrivateLayout {
  std::string_view type;
  int fields;
};
constexpr std::array<PrivateLayout, 6> kLayouts = {{
    {"ssh-ed25519", 2},          // public, private||public
    {"ssh-rsa", 6},              // n, e, d, iqmp, p, q
    {"ecdsa-sha2-nistp256", 3},  // curve, point, scalar
    {"ecdsa-sha2-nistp384", 3},
    {"ecdsa-sha2-nistp521", 3},
    {"ssh-dss", 5},  // p, q, g, y, x
}};

class WireReader {
 public:
  explicit WireReader(std::string_view data) : rest_(data) {}
  bool U32(uint32_t* v) {
    if (rest_.size() < 4) return false;
    const auto* p = reinterpret_cast<const unsigned char*>(rest_.data());
    *v = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) |
         (uint32_t{p[2]} << 8) | uint32_t{p[3]};
    rest_.remove_prefix(4);
    return true;
  }
  bool String(std::string_view* s) {
    uint32_t n;
    if (!U32(&n) || n > rest_.size()) return false;
    *s = rest_.substr(0, n);
    rest_.remove_prefix(n);
    return true;
  }
  bool Literal(std::string_view expected) {
    if (rest_.substr(0, expected.size()) != expected) return false;
    rest_.remove_prefix(expected.size());
    return true;
  }
  std::string_view rest() const { return rest_; }
  size_t consumed_from(std::string_view whole) const {
    return whole.size() - rest_.size();
  }

 private:
  std::string_view rest_;
};

void PutU32(std::string* out, uint32_t v) {
  out->push_back(static_cast<char>(v >> 24));
  out->push_back(static_cast<char>(v >> 16));
  out->push_back(static_cast<char>(v >> 8));
  out->push_back(static_cast<char>(v));
}

void PutString(std::string* out, std::string_view s) {
  PutU32(out, static_cast<uint32_t>(s.size()));
  out->append(s);
}

Status Malformed(std::string_view reason) {
  return Status::Corrupt("malformed OpenSSH private key: " +
                         std::string(reason));
}

std::string_view TrimLine(std::string_view line) {
  while (!line.empty() &&
         (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) {
    line.remove_suffix(1);
  }
  return line;
}

// The base64 body between the armour lines, or an error.
Result<std::string> Unarmour(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    lines.push_back(TrimLine(text.substr(pos, nl - pos)));
    pos = nl + 1;
  }
  size_t i = 0;
  while (i < lines.size() && lines[i].empty()) ++i;
  if (i == lines.size() || lines[i] != kBegin) {
    return Status::InvalidArgument("not an OpenSSH private key");
  }
  std::string body;
  for (++i; i < lines.size() && lines[i] != kEnd; ++i) body.append(lines[i]);
  if (i == lines.size()) return Malformed("no END line");
  for (++i; i < lines.size(); ++i) {
    if (!lines[i].empty()) return Malformed("text after the END line");
  }
  if (body.empty()) return Malformed("empty body");
  return body;
}

}  // namespace

Result<OpensshPrivateKey> ParseOpensshPrivateKey(std::string_view text) {
  PH_ASSIGN_OR_RETURN(std::string body, Unarmour(text));
  Result<std::string> decoded = crypto::Base64Decode(body);
  if (!decoded.ok()) return Malformed(decoded.status().message());
  WireReader r(*decoded);
  if (!r.Literal(kMagic)) return Malformed("bad magic");
  std::string_view cipher, kdf, kdf_options, public_blob, private_section;
  uint32_t nkeys;
  if (!r.String(&cipher) || !r.String(&kdf) || !r.String(&kdf_options) ||
      !r.U32(&nkeys)) {
    return Malformed("truncated header");
  }
  if (cipher != "none") {
    return Status::FailedPrecondition("encrypted with a passphrase (cipher " +
                                      std::string(cipher) + ")");
  }
  if (kdf != "none" || !kdf_options.empty()) {
    return Malformed("key derivation set without a cipher");
  }
  if (nkeys != 1) {
    return Malformed("holds " + std::to_string(nkeys) + " keys, not 1");
  }
  if (!r.String(&public_blob) || !r.String(&private_section)) {
    return Malformed("truncated key data");
  }
  if (!r.rest().empty()) return Malformed("bytes after the private section");
  if (private_section.size() % kBlockSize != 0) {
    return Malformed("private section not padded to 8 bytes");
  }

  WireReader p(private_section);
  uint32_t check1, check2;
  std::string_view type;
  if (!p.U32(&check1) || !p.U32(&check2) || !p.String(&type)) {
    return Malformed("truncated private section");
  }
  if (check1 != check2) return Malformed("check bytes differ");
  const PrivateLayout* layout = nullptr;
  for (const PrivateLayout& l : kLayouts) {
    if (l.type == type) layout = &l;
  }
  if (layout == nullptr) {
    return Status::InvalidArgument("unsupported key type '" +
                                   std::string(type) + "'");
  }
  WireReader pub(public_blob);
  std::string_view pub_type;
  if (!pub.String(&pub_type) || pub_type != type) {
    return Malformed("public key type differs from private key type");
  }
  for (int f = 0; f < layout->fields; ++f) {
    std::string_view ignored;
    if (!p.String(&ignored)) return Malformed("truncated key fields");
  }
  size_t fields_end = p.consumed_from(private_section);
  std::string_view comment;
  if (!p.String(&comment)) return Malformed("truncated comment");
  std::string_view padding = p.rest();
  for (size_t k = 0; k < padding.size(); ++k) {
    if (static_cast<unsigned char>(padding[k]) != ((k + 1) & 0xff)) {
      return Malformed("bad padding");
    }
  }

  OpensshPrivateKey key;
  key.public_blob = std::string(public_blob);
  key.key_type = std::string(type);
  key.private_fields = std::string(private_section.substr(0, fields_end));
  key.comment = std::string(comment);
  return key;
}

std::string SerializeOpensshPrivateKey(const OpensshPrivateKey& key) {
  std::string section = key.private_fields;
  PutString(&section, key.comment);
  for (unsigned char pad = 1; section.size() % kBlockSize != 0; ++pad) {
    section.push_back(static_cast<char>(pad));
  }
  std::string blob(kMagic);
  PutString(&blob, "none");
  PutString(&blob, "none");
  PutString(&blob, "");
  PutU32(&blob, 1);
  PutString(&blob, key.public_blob);
  PutString(&blob, section);

  std::string b64 = crypto::Base64Encode(blob);
  std::string out(kBegin);
  out.push_back('\n');
  for (size_t i = 0; i < b64.size(); i += kLineWidth) {
    out.append(b64, i, kLineWidth);
    out.push_back('\n');
  }
  out.append(kEnd);
  out.push_back('\n');
  return out;
}

}  // namespace porthole::ssh
