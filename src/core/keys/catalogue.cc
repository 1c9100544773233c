#include "core/keys/catalogue.h"

#include "core/base/file.h"
#include "core/config/toml.h"

namespace porthole::keys {
namespace {

Status ReadSection(config::TomlTable& root, std::string_view name,
                   std::vector<CatalogueEntry>* out) {
  PH_ASSIGN_OR_RETURN(auto table, root.GetTable(name));
  if (!table) return Status::Ok();
  for (const std::string& id : table->Keys()) {
    PH_ASSIGN_OR_RETURN(auto text, table->GetString(id));
    if (id.empty() || id.find_first_of(" \t\r\n") != std::string::npos) {
      return Status::InvalidArgument(table->Where(id) +
                                     ": an ID must be one word");
    }
    auto line = ParseAuthorizedKey(*text);
    if (!line.ok()) {
      return Status::InvalidArgument(table->Where(id) + ": " +
                                     line.status().message());
    }
    out->push_back({id, std::move(line).value()});
  }
  return Status::Ok();
}

const CatalogueEntry* FindId(const std::vector<CatalogueEntry>& v,
                             std::string_view id) {
  for (const auto& e : v) {
    if (e.id == id) return &e;
  }
  return nullptr;
}

const CatalogueEntry* FindKey(const std::vector<CatalogueEntry>& v,
                              const PublicKey& k) {
  for (const auto& e : v) {
    if (e.line.key == k) return &e;
  }
  return nullptr;
}

}  // namespace

Result<Catalogue> Catalogue::Parse(std::string_view text, std::string source) {
  PH_ASSIGN_OR_RETURN(auto doc, config::TomlDocument::Parse(text, source));
  config::TomlTable root = doc.Root();
  Catalogue c;
  PH_RETURN_IF_ERROR(ReadSection(root, "known", &c.known_));
  PH_RETURN_IF_ERROR(ReadSection(root, "revoked", &c.revoked_));
  PH_RETURN_IF_ERROR(root.CheckNoUnknownKeys());
  PH_RETURN_IF_ERROR(c.Check(source));
  return c;
}

Result<Catalogue> Catalogue::Load(const std::string& path, bool missing_ok) {
  auto text = ReadFile(path, 16 << 20, true);
  if (!text.ok()) {
    if (missing_ok && text.status().code() == StatusCode::kNotFound) {
      return Catalogue();
    }
    return text.status();
  }
  return Parse(*text, path);
}

// Within one list an ID appears once and a key once; no key is both known and
// revoked.
Status Catalogue::Check(const std::string& source) const {
  for (const auto* list : {&known_, &revoked_}) {
    for (size_t i = 0; i < list->size(); ++i) {
      for (size_t j = 0; j < i; ++j) {
        if ((*list)[i].line.key == (*list)[j].line.key) {
          return Status::InvalidArgument(source + ": '" + (*list)[i].id +
                                         "' and '" + (*list)[j].id +
                                         "' are the same key");
        }
      }
    }
  }
  for (const auto& k : known_) {
    if (const auto* r = FindRevokedKey(k.line.key)) {
      return Status::InvalidArgument(source + ": known key '" + k.id +
                                     "' is also revoked (as '" + r->id + "')");
    }
    if (FindRevokedId(k.id)) {
      return Status::InvalidArgument(source + ": ID '" + k.id +
                                     "' is both known and revoked");
    }
  }
  return Status::Ok();
}

Status Catalogue::Merge(const Catalogue& other) {
  Catalogue merged = *this;
  auto add = [](std::vector<CatalogueEntry>& into, const CatalogueEntry& e) {
    if (const auto* have = FindId(into, e.id)) {
      if (have->line.key == e.line.key) return Status::Ok();
      return Status::InvalidArgument("catalogue ID '" + e.id +
                                     "' names two different keys");
    }
    if (FindKey(into, e.line.key)) return Status::Ok();  // same key, alias
    into.push_back(e);
    return Status::Ok();
  };
  for (const auto& e : other.known_) PH_RETURN_IF_ERROR(add(merged.known_, e));
  for (const auto& e : other.revoked_) {
    PH_RETURN_IF_ERROR(add(merged.revoked_, e));
  }
  PH_RETURN_IF_ERROR(merged.Check("catalogue"));
  *this = std::move(merged);
  return Status::Ok();
}

const CatalogueEntry* Catalogue::FindKnownId(std::string_view id) const {
  return FindId(known_, id);
}
const CatalogueEntry* Catalogue::FindRevokedId(std::string_view id) const {
  return FindId(revoked_, id);
}
const CatalogueEntry* Catalogue::FindKnownKey(const PublicKey& k) const {
  return FindKey(known_, k);
}
const CatalogueEntry* Catalogue::FindRevokedKey(const PublicKey& k) const {
  return FindKey(revoked_, k);
}

std::string Catalogue::ToToml() const {
  std::string out;
  for (auto [name, list] :
       {std::pair{"known", &known_}, std::pair{"revoked", &revoked_}}) {
    out += std::string("[") + name + "]\n";
    for (const auto& e : *list) {
      out += config::TomlQuote(e.id) + " = " +
             config::TomlQuote(FormatAuthorizedKey(e.line)) + "\n";
    }
  }
  return out;
}

}  // namespace porthole::keys
