#include "core/ssh/device_key.h"

#include <libssh/libssh.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <utility>

#include "core/base/file.h"
#include "core/crypto/digest.h"
#include "core/ssh/libssh_util.h"
#include "core/ssh/openssh_key_format.h"

namespace porthole::ssh {
namespace {

constexpr size_t kMaxKeyFileBytes = 64 * 1024;

Status MalformedKey(std::string_view reason) {
  return Status::Corrupt("malformed OpenSSH private key: " +
                         std::string(reason));
}

}  // namespace

void PrivateKey::KeyDeleter::operator()(ssh_key_struct* k) const {
  ssh_key_free(k);
}

PrivateKey::PrivateKey(PrivateKey&&) noexcept = default;
PrivateKey& PrivateKey::operator=(PrivateKey&&) noexcept = default;
PrivateKey::~PrivateKey() = default;

Result<PrivateKey> PrivateKey::FromText(std::string text) {
  PH_ASSIGN_OR_RETURN(OpensshPrivateKey parsed, ParseOpensshPrivateKey(text));
  ssh_key raw = nullptr;
  if (ssh_pki_import_privkey_base64(text.c_str(), nullptr, nullptr, nullptr,
                                    &raw) != SSH_OK ||
      raw == nullptr) {
    return MalformedKey("libssh cannot use the " + parsed.key_type +
                        " key material");
  }
  PrivateKey key;
  key.key_.reset(raw);
  if (!ssh_key_is_private(raw)) return MalformedKey("no private part");

  char* b64_raw = nullptr;
  if (ssh_pki_export_pubkey_base64(raw, &b64_raw) != SSH_OK ||
      b64_raw == nullptr) {
    return Status::Internal("libssh cannot export the public key");
  }
  libssh::Chars b64(b64_raw);
  PH_ASSIGN_OR_RETURN(std::string blob, crypto::Base64Decode(b64.get()));
  if (blob != parsed.public_blob) {
    return MalformedKey("the stored public key does not match the private key");
  }
  Result<keys::PublicKey> pub = keys::ParsePublicKeyBlob(blob);
  if (!pub.ok()) return MalformedKey(pub.status().message());
  key.public_key_ = std::move(*pub);
  key.comment_ = std::move(parsed.comment);
  key.file_text_ = std::move(text);
  return key;
}

Result<PrivateKey> PrivateKey::Load(const std::string& path) {
  PH_ASSIGN_OR_RETURN(std::string text, ReadFile(path, kMaxKeyFileBytes,
                                                 /*follow_symlinks=*/true));
  Result<PrivateKey> key = FromText(std::move(text));
  if (!key.ok()) return key.status().Prefixed(path);
  return key;
}

Result<PrivateKey> PrivateKey::GenerateEd25519(std::string_view comment) {
  ssh_key raw = nullptr;
  if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &raw) != SSH_OK ||
      raw == nullptr) {
    return Status::Internal("libssh cannot generate an Ed25519 key");
  }
  std::unique_ptr<ssh_key_struct, KeyDeleter> generated(raw);
  char* text_raw = nullptr;
  // libssh 0.10 writes Ed25519 keys as openssh-key-v1, with an empty
  // comment; the comment is put in by re-framing.
  if (ssh_pki_export_privkey_base64(raw, nullptr, nullptr, nullptr,
                                    &text_raw) != SSH_OK ||
      text_raw == nullptr) {
    return Status::Internal("libssh cannot export the new key");
  }
  libssh::Chars text(text_raw);
  Result<OpensshPrivateKey> parsed = ParseOpensshPrivateKey(text.get());
  if (!parsed.ok()) {
    return Status::Internal("libssh wrote an unexpected key format: " +
                            parsed.status().message());
  }
  parsed->comment = std::string(comment);
  return FromText(SerializeOpensshPrivateKey(*parsed));
}

Result<PrivateKey> PrivateKey::LoadOrCreate(const std::string& path,
                                            const Clock& clock) {
  struct stat st;
  if (lstat(path.c_str(), &st) == 0) return Load(path);
  if (errno != ENOENT) return PosixError(path, errno);

  std::string comment(kGeneratedCommentPrefix);
  comment += LocalTimeForComment(clock.Now());
  Result<PrivateKey> key = GenerateEd25519(comment);
  if (!key.ok()) return key.status().Prefixed(path);
  ReplaceOptions options = ReplaceOptions::NewMode(0600);
  options.owner_if_new = FileOwner{geteuid(), getegid()};
  PH_RETURN_IF_ERROR(AtomicReplace(path, key->file_text(), options));
  return key;
}

std::string PrivateKey::PublicKeyLine() const {
  std::string line = public_key_.TypeName();
  line += ' ';
  line += crypto::Base64Encode(public_key_.blob);
  if (!comment_.empty()) {
    line += ' ';
    for (char c : comment_) {
      unsigned char u = static_cast<unsigned char>(c);
      line += (u < 0x20 || u == 0x7f) ? '?' : c;
    }
  }
  return line;
}

std::string FormatTimeForComment(SystemTime t,
                                 std::chrono::seconds utc_offset) {
  using std::chrono::duration_cast;
  using std::chrono::floor;
  using std::chrono::nanoseconds;
  using std::chrono::seconds;
  auto since_epoch = t.time_since_epoch();
  seconds whole = floor<seconds>(since_epoch);
  long long nanos = duration_cast<nanoseconds>(since_epoch - whole).count();
  time_t local = static_cast<time_t>((whole + utc_offset).count());
  struct tm tm {};
  gmtime_r(&local, &tm);

  char buf[64];
  snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  std::string out = buf;
  if (nanos != 0) {
    if (nanos % 1000000 == 0) {
      snprintf(buf, sizeof buf, ".%03lld", nanos / 1000000);
    } else if (nanos % 1000 == 0) {
      snprintf(buf, sizeof buf, ".%06lld", nanos / 1000);
    } else {
      snprintf(buf, sizeof buf, ".%09lld", nanos);
    }
    out += buf;
  }
  long long off = utc_offset.count();
  char sign = off < 0 ? '-' : '+';
  if (off < 0) off = -off;
  snprintf(buf, sizeof buf, " %c%02lld:%02lld", sign, off / 3600,
           (off / 60) % 60);
  out += buf;
  return out;
}

std::string LocalTimeForComment(SystemTime t) {
  time_t secs = std::chrono::system_clock::to_time_t(t);
  struct tm tm {};
  localtime_r(&secs, &tm);
  return FormatTimeForComment(t, std::chrono::seconds(tm.tm_gmtoff));
}

}  // namespace porthole::ssh
