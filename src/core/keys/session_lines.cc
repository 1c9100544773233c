#include "core/keys/session_lines.h"

#include <cerrno>

#include "core/base/file.h"
#include "core/base/lock.h"
#include "core/crypto/digest.h"

namespace porthole::keys {
namespace {

bool Digits(std::string_view s, size_t pos, size_t n) {
  if (pos + n > s.size()) return false;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

// "YYYY-MM-DD HH:MM:SS[.fff|.ffffff|.fffffffff] +HH:MM", the whole string.
bool IsCommentTime(std::string_view t) {
  if (!Digits(t, 0, 4) || t.size() < 26 || t[4] != '-' || !Digits(t, 5, 2) ||
      t[7] != '-' || !Digits(t, 8, 2) || t[10] != ' ' || !Digits(t, 11, 2) ||
      t[13] != ':' || !Digits(t, 14, 2) || t[16] != ':' || !Digits(t, 17, 2)) {
    return false;
  }
  size_t pos = 19;
  if (t[pos] == '.') {
    size_t n = 0;
    while (Digits(t, pos + 1 + n, 1)) ++n;
    if (n != 3 && n != 6 && n != 9) return false;
    pos += 1 + n;
  }
  return t.size() == pos + 7 && t[pos] == ' ' &&
         (t[pos + 1] == '+' || t[pos + 1] == '-') && Digits(t, pos + 2, 2) &&
         t[pos + 4] == ':' && Digits(t, pos + 5, 2);
}

bool EndsWithMarkedTime(std::string_view comment, std::string_view marker) {
  size_t at = comment.rfind(marker);
  if (at == std::string_view::npos) return false;
  if (at != 0 && comment[at - 1] != ' ') return false;
  return IsCommentTime(comment.substr(at + marker.size()));
}

}  // namespace

bool IsSessionComment(std::string_view comment) {
  return EndsWithMarkedTime(comment, kAgentMarker) ||
         EndsWithMarkedTime(comment, kRacMarker);
}

bool IsSessionLine(const AuthorizedKeysLine& line) {
  return line.kind == AuthorizedKeysLine::Kind::kKey && line.key &&
         line.key->options.empty() && IsSessionComment(line.key->comment);
}

std::string FormatSessionLine(const SessionKey& key,
                              std::string_view local_time) {
  std::string line = key.key.TypeName() + " " + crypto::Base64Encode(key.key.blob);
  line += ' ';
  for (char c : key.comment) {
    line += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  }
  if (!key.comment.empty()) line += ' ';
  line += kAgentMarker;
  line += local_time;
  return line;
}

Status ReplaceSessionLines(const std::string& path,
                           const std::vector<SessionKey>& keys,
                           std::string_view local_time, size_t* removed) {
  PH_ASSIGN_OR_RETURN(FileLock lock, FileLock::Exclusive(
                                         DirName(path), FileLock::Wait::kBlock));
  std::string text;
  bool exists = true;
  if (auto r = ReadFile(path, kMaxAuthorizedKeyLine * 64); r.ok()) {
    text = std::move(r).value();
  } else if (r.status().code() == StatusCode::kNotFound) {
    exists = false;
  } else {
    return r.status();
  }
  AuthorizedKeysFile file = AuthorizedKeysFile::Parse(text);
  size_t n = file.RemoveIf(IsSessionLine);
  if (removed != nullptr) *removed = n;
  if (!exists && keys.empty()) return Status::Ok();
  if (exists && n == 0 && keys.empty()) return Status::Ok();  // unchanged
  std::string out = file.Serialize();
  if (!out.empty() && out.back() != '\n') out += '\n';
  for (const SessionKey& k : keys) {
    out += FormatSessionLine(k, local_time);
    out += '\n';
  }
  return AtomicReplace(path, out, ReplaceOptions::NewMode(0600));
}

}  // namespace porthole::keys
