#include "core/config/toml.h"

#include <algorithm>
#include <set>

#define TOML_EXCEPTIONS 1
#include <toml++/toml.h>

#include "core/base/file.h"

namespace porthole::config {

struct TomlTable::State {
  std::shared_ptr<toml::table> doc;  // keeps the whole tree alive
  const toml::table* table = nullptr;
  std::string source;
  std::string path;
  std::set<std::string, std::less<>> read;
  std::vector<std::shared_ptr<State>> children;
};

namespace {

std::string Dotted(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

}  // namespace

std::string TomlTable::Where(std::string_view key) const {
  std::string w = s_->source;
  if (const toml::node* n = s_->table->get(key)) {
    w += ":" + std::to_string(n->source().begin.line);
  }
  return w + ": key '" + Dotted(s_->path, key) + "'";
}

const std::string& TomlTable::path() const { return s_->path; }

const std::string& TomlTable::source() const { return s_->source; }

int TomlTable::Line(std::string_view key) const {
  const toml::node* n = s_->table->get(key);
  return n == nullptr ? 0 : static_cast<int>(n->source().begin.line);
}

int TomlTable::Line() const {
  if (s_->path.empty()) return 0;
  return static_cast<int>(s_->table->source().begin.line);
}

TomlType TomlTable::Type(std::string_view key) const {
  const toml::node* n = s_->table->get(key);
  if (n == nullptr) return TomlType::kNone;
  switch (n->type()) {
    case toml::node_type::string:
      return TomlType::kString;
    case toml::node_type::integer:
      return TomlType::kInteger;
    case toml::node_type::floating_point:
      return TomlType::kFloat;
    case toml::node_type::boolean:
      return TomlType::kBool;
    case toml::node_type::table:
      return TomlType::kTable;
    case toml::node_type::array:
      return TomlType::kArray;
    default:
      return TomlType::kDateTime;
  }
}

std::vector<std::string> TomlTable::Keys() const {
  std::vector<std::pair<toml::source_index, std::string>> keys;
  for (const auto& [k, v] : *s_->table) {
    keys.emplace_back(v.source().begin.line, std::string(k.str()));
  }
  std::stable_sort(keys.begin(), keys.end(),
                   [](auto& a, auto& b) { return a.first < b.first; });
  std::vector<std::string> out;
  for (auto& k : keys) out.push_back(std::move(k.second));
  return out;
}

bool TomlTable::Has(std::string_view key) const {
  return s_->table->contains(key);
}

void TomlTable::MarkRead(std::string_view key) { s_->read.emplace(key); }

namespace {

template <typename T>
Result<std::optional<T>> GetTyped(TomlTable& t, const toml::table& table,
                                  std::string_view key, const char* type) {
  t.MarkRead(key);
  const toml::node* n = table.get(key);
  if (n == nullptr) return std::optional<T>();
  if (auto v = n->value_exact<T>()) return std::optional<T>(*v);
  return Status::InvalidArgument(t.Where(key) + ": expected " + type);
}

}  // namespace

Result<std::optional<std::string>> TomlTable::GetString(std::string_view key) {
  return GetTyped<std::string>(*this, *s_->table, key, "a string");
}

Result<std::optional<bool>> TomlTable::GetBool(std::string_view key) {
  return GetTyped<bool>(*this, *s_->table, key, "true or false");
}

Result<std::optional<int64_t>> TomlTable::GetInt(std::string_view key) {
  return GetTyped<int64_t>(*this, *s_->table, key, "an integer");
}

Result<std::optional<std::vector<std::string>>> TomlTable::GetStringArray(
    std::string_view key) {
  MarkRead(key);
  const toml::node* n = s_->table->get(key);
  if (n == nullptr) return std::optional<std::vector<std::string>>();
  const toml::array* a = n->as_array();
  if (a == nullptr) {
    return Status::InvalidArgument(Where(key) + ": expected an array");
  }
  std::vector<std::string> out;
  for (const toml::node& e : *a) {
    auto v = e.value_exact<std::string>();
    if (!v) {
      return Status::InvalidArgument(Where(key) +
                                     ": expected an array of strings");
    }
    out.push_back(*v);
  }
  return std::optional<std::vector<std::string>>(std::move(out));
}

Result<std::optional<std::vector<int64_t>>> TomlTable::GetIntArray(
    std::string_view key) {
  MarkRead(key);
  const toml::node* n = s_->table->get(key);
  if (n == nullptr) return std::optional<std::vector<int64_t>>();
  const toml::array* a = n->as_array();
  if (a == nullptr) {
    return Status::InvalidArgument(Where(key) + ": expected an array");
  }
  std::vector<int64_t> out;
  for (const toml::node& e : *a) {
    auto v = e.value_exact<int64_t>();
    if (!v) {
      return Status::InvalidArgument(Where(key) +
                                     ": expected an array of integers");
    }
    out.push_back(*v);
  }
  return std::optional<std::vector<int64_t>>(std::move(out));
}

Result<std::optional<TomlTable>> TomlTable::GetTable(std::string_view key) {
  MarkRead(key);
  const toml::node* n = s_->table->get(key);
  if (n == nullptr) return std::optional<TomlTable>();
  const toml::table* t = n->as_table();
  if (t == nullptr) {
    return Status::InvalidArgument(Where(key) + ": expected a table");
  }
  auto child = std::make_shared<State>();
  child->doc = s_->doc;
  child->table = t;
  child->source = s_->source;
  child->path = Dotted(s_->path, key);
  s_->children.push_back(child);
  return std::optional<TomlTable>(TomlTable(child));
}

Status TomlTable::CheckNoUnknownKeys() const {
  for (const std::string& key : Keys()) {
    if (!s_->read.contains(key)) {
      return Status::InvalidArgument(Where(key) + ": unknown key");
    }
  }
  for (const auto& child : s_->children) {
    PH_RETURN_IF_ERROR(TomlTable(child).CheckNoUnknownKeys());
  }
  return Status::Ok();
}

Result<TomlDocument> TomlDocument::Parse(std::string_view text,
                                         std::string source) {
  auto state = std::make_shared<TomlTable::State>();
  try {
    state->doc = std::make_shared<toml::table>(toml::parse(text, source));
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return Status::InvalidArgument(source + ":" + std::to_string(where.line) +
                                   ":" + std::to_string(where.column) + ": " +
                                   PrintableText(e.description()));
  }
  state->table = state->doc.get();
  state->source = std::move(source);
  return TomlDocument(TomlTable(state));
}

Result<TomlDocument> TomlDocument::ParseFile(const std::string& path,
                                             size_t max_bytes) {
  PH_ASSIGN_OR_RETURN(std::string text, ReadFile(path, max_bytes, true));
  return Parse(text, path);
}

std::string TomlQuote(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string PrintableText(std::string_view s, size_t max_bytes) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < max_bytes; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c >= 0x7f) {
      char buf[8];
      snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > max_bytes) out += "...";
  return out;
}

}  // namespace porthole::config
