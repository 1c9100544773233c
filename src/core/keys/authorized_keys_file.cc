#include "core/keys/authorized_keys_file.h"

#include <algorithm>

namespace porthole::keys {

AuthorizedKeysLine AuthorizedKeysFile::MakeLine(std::string text) {
  AuthorizedKeysLine line;
  size_t start = text.find_first_not_of(" \t\r");
  if (start == std::string::npos) {
    line.kind = AuthorizedKeysLine::Kind::kBlank;
  } else if (text[start] == '#') {
    line.kind = AuthorizedKeysLine::Kind::kComment;
  } else if (auto key = ParseAuthorizedKey(text); key.ok()) {
    line.kind = AuthorizedKeysLine::Kind::kKey;
    line.key = std::move(key).value();
  } else {
    line.kind = AuthorizedKeysLine::Kind::kInvalid;
    line.error = key.status().message();
  }
  line.text = std::move(text);
  return line;
}

AuthorizedKeysFile AuthorizedKeysFile::Parse(std::string_view contents) {
  AuthorizedKeysFile f;
  f.final_newline_ = contents.empty() || contents.back() == '\n';
  while (!contents.empty()) {
    size_t nl = contents.find('\n');
    std::string_view text = contents.substr(0, nl);
    f.lines_.push_back(MakeLine(std::string(text)));
    contents = nl == std::string_view::npos ? std::string_view()
                                            : contents.substr(nl + 1);
  }
  return f;
}

std::string AuthorizedKeysFile::Serialize() const {
  std::string out;
  for (size_t i = 0; i < lines_.size(); ++i) {
    out += lines_[i].text;
    if (i + 1 < lines_.size() || final_newline_) out += '\n';
  }
  return out;
}

void AuthorizedKeysFile::Append(const AuthorizedKey& key) {
  final_newline_ = true;
  AuthorizedKeysLine line;
  line.kind = AuthorizedKeysLine::Kind::kKey;
  line.text = FormatAuthorizedKey(key);
  line.key = key;
  lines_.push_back(std::move(line));
}

bool AuthorizedKeysFile::Upsert(const AuthorizedKey& key) {
  auto same = [&](const AuthorizedKeysLine& l) {
    return l.key && l.key->key == key.key;
  };
  auto first = std::find_if(lines_.begin(), lines_.end(), same);
  if (first == lines_.end()) {
    Append(key);
    return false;
  }
  first->text = FormatAuthorizedKey(key);
  first->key = key;
  size_t index = static_cast<size_t>(first - lines_.begin());
  for (size_t i = lines_.size(); i-- > index + 1;) {
    if (same(lines_[i])) lines_.erase(lines_.begin() + static_cast<long>(i));
  }
  return true;
}

size_t AuthorizedKeysFile::RemoveIf(
    const std::function<bool(const AuthorizedKeysLine&)>& pred) {
  size_t before = lines_.size();
  std::erase_if(lines_, pred);
  return before - lines_.size();
}

size_t AuthorizedKeysFile::Remove(const PublicKey& k) {
  return RemoveIf(
      [&](const AuthorizedKeysLine& l) { return l.key && l.key->key == k; });
}

size_t AuthorizedKeysFile::KeyCount() const {
  return static_cast<size_t>(std::count_if(
      lines_.begin(), lines_.end(),
      [](const auto& l) { return l.kind == AuthorizedKeysLine::Kind::kKey; }));
}

}  // namespace porthole::keys
