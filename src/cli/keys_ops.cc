#include "cli/keys_ops.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>

#include "cli/valid_for.h"
#include "core/base/file.h"
#include "core/base/lock.h"
#include "core/keys/authorized_keys_file.h"
#include "core/keys/krl.h"
#include "core/keys/strict_modes.h"

namespace porthole::cli {

using keys::AuthorizedKey;
using keys::AuthorizedKeysFile;
using keys::AuthorizedKeysLine;
using keys::Tier;

namespace {

constexpr size_t kMaxKeysFile = 64 << 20;

std::string Iso8601(SystemTime t) {
  auto s = std::chrono::floor<std::chrono::seconds>(t);
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", s);
}

std::string HumanTime(SystemTime t) {
  auto m = std::chrono::floor<std::chrono::minutes>(t);
  return fmt::format("{:%Y-%m-%d %H:%M} UTC", m);
}

// "ED25519 SHA256:... (alice@laptop)" for messages.
std::string Describe(const AuthorizedKey& k, const std::string& id) {
  std::string d = k.key.ShortTypeName() + " " + k.key.Fingerprint();
  const std::string& name = id.empty() ? k.comment : id;
  if (!name.empty()) d += " (" + name + ")";
  return d;
}

std::string TierLabel(Tier t, const std::string& path) {
  return std::string(TierName(t)) + " tier " + path;
}

// Owner for files and directories made in the customer tier: the login user.
std::optional<FileOwner> CustomerOwner(const keys::KeysConfig& config) {
  if (geteuid() != 0) return std::nullopt;
  struct passwd* pw = getpwnam(config.login_user.c_str());
  if (pw == nullptr) return std::nullopt;
  return FileOwner{pw->pw_uid, pw->pw_gid};
}

enum class Missing { kCreate, kSkip };

// Read-modify-replace of one keys file under its directory's lock. `edit`
// returns whether it changed anything; nothing is written otherwise.
Status EditKeysFile(
    const KeysContext& ctx, Tier tier, const std::string& path, Missing missing,
    const std::function<Result<bool>(AuthorizedKeysFile&)>& edit,
    bool* changed = nullptr) {
  if (changed) *changed = false;
  const std::string dir = DirName(path);
  const bool customer = tier == Tier::kCustomer;
  if (!PathExists(path) && missing == Missing::kSkip) return Status::Ok();
  if (!PathExists(dir)) {
    PH_RETURN_IF_ERROR(MakeDirs(dir, customer ? 0700 : 0755));
    if (auto owner = customer ? CustomerOwner(ctx.config) : std::nullopt) {
      if (chown(dir.c_str(), owner->uid, owner->gid) != 0) {
        return PosixError(dir, errno);
      }
    }
  }
  PH_ASSIGN_OR_RETURN(FileLock lock,
                      FileLock::Exclusive(dir, FileLock::Wait::kBlock));
  std::string text;
  if (auto r = ReadFile(path, kMaxKeysFile); r.ok()) {
    text = std::move(r).value();
  } else if (r.status().code() != StatusCode::kNotFound) {
    return r.status();
  } else if (missing == Missing::kSkip) {
    return Status::Ok();
  }
  AuthorizedKeysFile file = AuthorizedKeysFile::Parse(text);
  PH_ASSIGN_OR_RETURN(bool did_change, edit(file));
  if (!did_change) return Status::Ok();
  ReplaceOptions opts;
  opts.mode_if_new = customer ? 0600 : 0644;
  if (customer) opts.owner_if_new = CustomerOwner(ctx.config);
  PH_RETURN_IF_ERROR(AtomicReplace(path, file.Serialize(), opts));
  if (changed) *changed = true;
  if (struct passwd* pw = getpwnam(ctx.config.login_user.c_str())) {
    if (auto problem = keys::StrictModesProblem(path, pw->pw_uid,
                                                pw->pw_dir ? pw->pw_dir : "")) {
      ctx.warnings.push_back("sshd (StrictModes) will ignore " + path + ": " +
                             *problem);
    }
  }
  return Status::Ok();
}

bool IsKeyOrInvalid(const AuthorizedKeysLine& l) {
  return l.kind == AuthorizedKeysLine::Kind::kKey ||
         l.kind == AuthorizedKeysLine::Kind::kInvalid;
}

// Every configured tier with its resolved path. A customer tier whose login
// user does not exist is left out (and reported in `skipped`).
std::vector<std::pair<Tier, std::string>> ResolvedTiers(
    const keys::KeysConfig& config, std::string* skipped = nullptr) {
  std::vector<std::pair<Tier, std::string>> out;
  for (Tier t : keys::kAllTiers) {
    auto p = config.TierPath(t);
    if (p.ok()) {
      out.emplace_back(t, *p);
    } else if (skipped) {
      *skipped += "note: " + p.status().message() + "; " +
                  std::string(TierName(t)) + " tier skipped\n";
    }
  }
  return out;
}

}  // namespace

Result<KeyArg> ResolveKeyArg(const keys::Catalogue& catalogue,
                             const std::string& arg, RevokedPolicy revoked) {
  if (const auto* e = catalogue.FindKnownId(arg)) return KeyArg{e->line, e->id};
  if (const auto* e = catalogue.FindRevokedId(arg)) {
    if (revoked == RevokedPolicy::kRefuse) {
      return Status::FailedPrecondition("'" + arg +
                                        "' is revoked in the catalogue");
    }
    return KeyArg{e->line, e->id};
  }
  std::string text = arg;
  std::string where = "key";
  struct stat st;
  if (arg.find_first_of(" \t") == std::string::npos &&
      stat(arg.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
    PH_ASSIGN_OR_RETURN(std::string contents, ReadFile(arg, 1 << 20, true));
    AuthorizedKeysFile f = AuthorizedKeysFile::Parse(contents);
    text.clear();
    for (const auto& l : f.lines()) {
      if (IsKeyOrInvalid(l)) {
        text = l.text;
        break;
      }
    }
    where = arg;
    if (text.empty()) {
      return Status::InvalidArgument(arg + ": no public key in file");
    }
  } else if (arg.find_first_of(" \t") == std::string::npos) {
    return Status::InvalidArgument("'" + arg +
                                   "' is not a catalogue ID, a key file or a "
                                   "key line");
  }
  auto line = keys::ParseAuthorizedKey(text);
  if (!line.ok()) {
    return Status::InvalidArgument(where + ": " + line.status().message());
  }
  KeyArg k{std::move(line).value(), ""};
  if (const auto* r = catalogue.FindRevokedKey(k.line.key)) {
    if (revoked == RevokedPolicy::kRefuse) {
      return Status::FailedPrecondition("key " + k.line.key.Fingerprint() +
                                        " is revoked (catalogue ID '" + r->id +
                                        "')");
    }
    k.id = r->id;
  } else if (const auto* e = catalogue.FindKnownKey(k.line.key)) {
    k.id = e->id;
  }
  return k;
}

Status KeysAdd(const KeysContext& ctx, const KeyArg& key,
               const std::string& valid_for, std::optional<Tier> tier_opt,
               std::string* out) {
  PH_ASSIGN_OR_RETURN(auto expiry, ParseValidFor(valid_for, ctx.clock->Now()));
  Tier tier = tier_opt.value_or(expiry ? Tier::kTemporary : Tier::kCustomer);
  if (!expiry && tier == Tier::kTemporary) {
    return Status::InvalidArgument(
        "the temporary tier holds only keys that expire; 'forever' keys go "
        "to another tier (default customer)");
  }
  AuthorizedKey line = key.line;
  std::erase_if(line.options, [](const keys::KeyOption& o) {
    return o.name == "expiry-time";
  });
  if (expiry) {
    line.options.push_back(
        {"expiry-time", keys::FormatExpiryTime(*expiry), ""});
  }
  PH_ASSIGN_OR_RETURN(std::string path, ctx.config.TierPath(tier));
  bool replaced = false;
  PH_RETURN_IF_ERROR(EditKeysFile(ctx, tier, path, Missing::kCreate,
                                  [&](AuthorizedKeysFile& f) {
                                    replaced = f.Upsert(line);
                                    return Result<bool>(true);
                                  }));
  *out += std::string(replaced ? "replaced " : "added ") +
          Describe(line, key.id) + (replaced ? " in " : " to ") +
          TierLabel(tier, path) +
          (expiry ? ", expires " + HumanTime(*expiry) : ", no expiry") + "\n";
  return Status::Ok();
}

Status KeysSet(const KeysContext& ctx, Tier tier,
               const std::vector<KeyArg>& keys, std::string* out) {
  if (tier == Tier::kTemporary) {
    for (const auto& k : keys) {
      if (!k.line.Expiry()) {
        return Status::InvalidArgument(
            "the temporary tier holds only keys that expire: " +
            Describe(k.line, k.id) + " has no expiry-time (use add)");
      }
    }
  }
  PH_ASSIGN_OR_RETURN(std::string path, ctx.config.TierPath(tier));
  size_t removed = 0, written = 0;
  PH_RETURN_IF_ERROR(EditKeysFile(
      ctx, tier, path, Missing::kCreate, [&](AuthorizedKeysFile& f) {
        removed = f.RemoveIf(IsKeyOrInvalid);
        for (const auto& k : keys) {
          bool dup = false;
          for (const auto& l : f.lines())
            dup |= l.key && l.key->key == k.line.key;
          if (!dup) {
            f.Append(k.line);
            ++written;
          }
        }
        return Result<bool>(true);
      }));
  *out += "set " + TierLabel(tier, path) + ": " + std::to_string(written) +
          " key" + (written == 1 ? "" : "s") + " (replacing " +
          std::to_string(removed) + ")\n";
  return Status::Ok();
}

Status KeysRemove(const KeysContext& ctx, const KeyArg& key, std::string* out) {
  size_t total = 0;
  for (const auto& [tier, path] : ResolvedTiers(ctx.config)) {
    size_t n = 0;
    PH_RETURN_IF_ERROR(EditKeysFile(ctx, tier, path, Missing::kSkip,
                                    [&](AuthorizedKeysFile& f) {
                                      n = f.Remove(key.line.key);
                                      return Result<bool>(n > 0);
                                    }));
    if (n > 0) {
      *out += "removed " + Describe(key.line, key.id) + " from " +
              TierLabel(tier, path) +
              (n > 1 ? " (" + std::to_string(n) + " lines)" : "") + "\n";
    }
    total += n;
  }
  if (total == 0) {
    return Status::NotFound(Describe(key.line, key.id) + " is not in any tier");
  }
  return Status::Ok();
}

Status KeysSyncKrl(const KeysContext& ctx, std::string* out) {
  std::vector<keys::PublicKey> revoked;
  for (const auto& e : ctx.catalogue.revoked()) revoked.push_back(e.line.key);
  const std::string dir = DirName(ctx.config.krl);
  PH_RETURN_IF_ERROR(MakeDirs(dir, 0755));
  PH_ASSIGN_OR_RETURN(FileLock lock,
                      FileLock::Exclusive(dir, FileLock::Wait::kBlock));
  PH_RETURN_IF_ERROR(keys::WriteKrl(ctx.config.krl, revoked, ctx.ssh_keygen));
  *out += "KRL " + ctx.config.krl + " revokes " +
          std::to_string(revoked.size()) + " key" +
          (revoked.size() == 1 ? "" : "s") + "\n";
  return Status::Ok();
}

Status KeysRemoveRevoked(const KeysContext& ctx, std::string* out) {
  for (const auto& [tier, path] : ResolvedTiers(ctx.config, out)) {
    std::vector<std::string> gone;
    PH_RETURN_IF_ERROR(EditKeysFile(
        ctx, tier, path, Missing::kSkip, [&](AuthorizedKeysFile& f) {
          size_t n = f.RemoveIf([&](const AuthorizedKeysLine& l) {
            const keys::CatalogueEntry* r =
                l.key ? ctx.catalogue.FindRevokedKey(l.key->key) : nullptr;
            if (r) gone.push_back(Describe(*l.key, r->id));
            return r != nullptr;
          });
          return Result<bool>(n > 0);
        }));
    for (const auto& g : gone) {
      *out += "removed revoked " + g + " from " + TierLabel(tier, path) + "\n";
    }
  }
  return KeysSyncKrl(ctx, out);
}

Status KeysClear(const KeysContext& ctx, std::string* out) {
  PH_ASSIGN_OR_RETURN(std::string path, ctx.config.TierPath(Tier::kTemporary));
  size_t n = 0;
  PH_RETURN_IF_ERROR(EditKeysFile(ctx, Tier::kTemporary, path, Missing::kSkip,
                                  [&](AuthorizedKeysFile& f) {
                                    n = f.RemoveIf(IsKeyOrInvalid);
                                    return Result<bool>(n > 0);
                                  }));
  *out += "cleared " + TierLabel(Tier::kTemporary, path) + ": " +
          std::to_string(n) + " key" + (n == 1 ? "" : "s") + " removed\n";
  return Status::Ok();
}

Status KeysPrune(const KeysContext& ctx, std::string* out) {
  PH_ASSIGN_OR_RETURN(std::string path, ctx.config.TierPath(Tier::kTemporary));
  const SystemTime now = ctx.clock->Now();
  std::vector<std::string> gone;
  PH_RETURN_IF_ERROR(EditKeysFile(
      ctx, Tier::kTemporary, path, Missing::kSkip, [&](AuthorizedKeysFile& f) {
        size_t n = f.RemoveIf([&](const AuthorizedKeysLine& l) {
          auto e = l.key ? l.key->Expiry() : std::nullopt;
          if (e && *e <= now) {
            gone.push_back(Describe(*l.key, "") + ", expired " + HumanTime(*e));
          }
          return e && *e <= now;
        });
        return Result<bool>(n > 0);
      }));
  for (const auto& g : gone) *out += "pruned " + g + "\n";
  *out += "pruned " + std::to_string(gone.size()) + " expired key" +
          (gone.size() == 1 ? "" : "s") + " from " +
          TierLabel(Tier::kTemporary, path) + "\n";
  return Status::Ok();
}

Status KeysList(const KeysContext& ctx, bool json, std::string* out) {
  const SystemTime now = ctx.clock->Now();
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  std::vector<std::string> short_types;  // for the table: "ED25519-SK"
  std::string notes;
  for (const auto& [tier, path] : ResolvedTiers(ctx.config, &notes)) {
    auto text = ReadFile(path, kMaxKeysFile);
    if (!text.ok()) {
      if (text.status().code() == StatusCode::kNotFound) continue;
      return text.status();
    }
    AuthorizedKeysFile f = AuthorizedKeysFile::Parse(*text);
    for (size_t i = 0; i < f.lines().size(); ++i) {
      const AuthorizedKeysLine& l = f.lines()[i];
      if (!IsKeyOrInvalid(l)) continue;
      nlohmann::ordered_json row = {
          {"tier", TierName(tier)}, {"file", path}, {"line", i + 1}};
      if (!l.key) {
        for (const char* k :
             {"type", "fingerprint", "comment", "id", "options", "expiry"}) {
          row[k] = nullptr;
        }
        row["state"] = "unparseable";
        row["error"] = l.error;
        rows.push_back(std::move(row));
        short_types.emplace_back("-");
        continue;
      }
      const AuthorizedKey& k = *l.key;
      const auto* revoked = ctx.catalogue.FindRevokedKey(k.key);
      const auto* known = ctx.catalogue.FindKnownKey(k.key);
      auto expiry = k.Expiry();
      row["type"] = k.key.TypeName();
      row["fingerprint"] = k.key.Fingerprint();
      row["comment"] = k.comment;
      row["id"] = revoked ? nlohmann::ordered_json(revoked->id)
                  : known ? nlohmann::ordered_json(known->id)
                          : nullptr;
      row["options"] = keys::FormatKeyOptions(k.options);
      row["expiry"] =
          expiry ? nlohmann::ordered_json(Iso8601(*expiry)) : nullptr;
      row["state"] = revoked                      ? "REVOKED"
                     : (expiry && *expiry <= now) ? "expired"
                                                  : "active";
      rows.push_back(std::move(row));
      short_types.push_back(k.key.ShortTypeName());
    }
  }
  if (json) {
    *out += rows.dump(2) + "\n";
    return Status::Ok();
  }
  *out += notes;
  if (rows.empty()) {
    *out += "no keys\n";
    return Status::Ok();
  }
  auto str = [](const nlohmann::ordered_json& v) {
    return v.is_null() ? std::string("-") : v.get<std::string>();
  };
  const char* kRow = "{:<9} {:<12} {:<50} {:<22} {:<17} {:<11} {}\n";
  *out += fmt::format(fmt::runtime(kRow), "TIER", "TYPE", "FINGERPRINT",
                      "ID/COMMENT", "EXPIRES", "STATE", "FILE:LINE OPTIONS");
  for (size_t i = 0; i < rows.size(); ++i) {
    const nlohmann::ordered_json& r = rows[i];
    std::string who = r["id"].is_null() ? str(r["comment"]) : str(r["id"]);
    std::string expiry = r["expiry"].is_null() ? "never" : str(r["expiry"]);
    if (expiry.size() > 16) expiry = expiry.substr(0, 16) + "Z";
    std::string where =
        str(r["file"]) + ":" + std::to_string(r["line"].get<size_t>());
    std::string opts =
        r["options"].is_null() ? str(r["error"]) : str(r["options"]);
    *out +=
        fmt::format(fmt::runtime(kRow), str(r["tier"]), short_types[i],
                    str(r["fingerprint"]), who.empty() ? "-" : who, expiry,
                    str(r["state"]), where + (opts.empty() ? "" : " " + opts));
  }
  return Status::Ok();
}

Status KeysInstallSshdConfig(const KeysContext& ctx, const std::string& output,
                             std::string* out) {
  // The KRL first: a RevokedKeys file that does not exist makes sshd refuse
  // every key.
  PH_RETURN_IF_ERROR(KeysSyncKrl(ctx, out));
  PH_RETURN_IF_ERROR(MakeDirs(DirName(output), 0755));
  PH_RETURN_IF_ERROR(AtomicReplace(output, keys::SshdDropIn(ctx.config),
                                   ReplaceOptions::NewMode(0644)));
  *out += "wrote " + output + " (reload sshd to apply)\n";
  return Status::Ok();
}

std::vector<std::string> KeysFilesTouched(const KeysContext& ctx,
                                          const std::string& verb,
                                          std::optional<Tier> tier) {
  std::vector<std::string> files;
  auto add_tier = [&](Tier t) {
    if (auto p = ctx.config.TierPath(t); p.ok()) files.push_back(*p);
  };
  if (verb == "add" || verb == "set") {
    add_tier(tier.value_or(Tier::kTemporary));
  } else if (verb == "clear" || verb == "prune") {
    add_tier(Tier::kTemporary);
  } else if (verb == "rm" || verb == "list") {
    for (Tier t : keys::kAllTiers) add_tier(t);
    if (verb == "rm") files.push_back(ctx.config.krl);
  } else if (verb == "install-sshd-config") {
    files.push_back(ctx.config.krl);
  }
  return files;
}

}  // namespace porthole::cli
