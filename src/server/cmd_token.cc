#include "server/cmd_token.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "server/operator_token.h"
#include "server/table.h"

namespace porthole::server {
namespace {

struct TokenArgs {
  std::string name;
  bool json = false;
};

int RunCreate(const GlobalOptions& global, const TokenArgs& a) {
  Status name = ValidateTokenName(a.name);
  if (!name.ok()) return Fail(name);
  auto config = LoadConfig(global);
  if (!config.ok()) return Fail(config.status());
  auto store = OpenStore(*config);
  if (!store.ok()) return Fail(store.status());
  SystemTime now = Clock::Real().Now();
  std::string token = GenerateOperatorToken();
  Status s = (*store)->AddToken(
      {a.name, OperatorTokenSha256(token), now, std::nullopt});
  if (!s.ok()) return Fail(s);
  (void)(*store)->AppendAudit(
      {.at = now,
       .kind = "token.create",
       .actor = "admin",
       .details_json = nlohmann::json{{"name", a.name}}.dump()});
  Print(token + "\n");
  std::fprintf(stderr,
               "porthole-server: token '%s' created; it is shown only this "
               "once\n",
               a.name.c_str());
  return 0;
}

int RunList(const GlobalOptions& global, const TokenArgs& a) {
  auto config = LoadConfig(global);
  if (!config.ok()) return Fail(config.status());
  auto store = OpenStore(*config);
  if (!store.ok()) return Fail(store.status());
  auto tokens = (*store)->ListTokens();
  if (!tokens.ok()) return Fail(tokens.status());
  if (a.json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const Token& t : *tokens) {
      arr.push_back({{"name", t.name},
                     {"sha256", t.sha256},
                     {"created_at", FormatTime(t.created_at)},
                     {"revoked_at",
                      t.revoked_at ? nlohmann::json(FormatTime(*t.revoked_at))
                                   : nlohmann::json(nullptr)}});
    }
    Print(arr.dump(2) + "\n");
    return 0;
  }
  Table table({"NAME", "CREATED", "REVOKED", "SHA256"});
  for (const Token& t : *tokens) {
    table.AddRow(
        {t.name, FormatTime(t.created_at), FormatTime(t.revoked_at), t.sha256});
  }
  Print(table.ToString());
  return 0;
}

int RunRevoke(const GlobalOptions& global, const TokenArgs& a) {
  auto config = LoadConfig(global);
  if (!config.ok()) return Fail(config.status());
  auto store = OpenStore(*config);
  if (!store.ok()) return Fail(store.status());
  SystemTime now = Clock::Real().Now();
  Status s = (*store)->RevokeToken(a.name, now);
  if (!s.ok()) return Fail(s);
  (void)(*store)->AppendAudit(
      {.at = now,
       .kind = "token.revoke",
       .actor = "admin",
       .details_json = nlohmann::json{{"name", a.name}}.dump()});
  Print("Revoked token '" + a.name + "'.\n");
  return 0;
}

}  // namespace

CommandAction SetupToken(CLI::App* sub, const GlobalOptions* global) {
  auto a = std::make_shared<TokenArgs>();
  sub->require_subcommand(1);
  CLI::App* create = sub->add_subcommand(
      "create", "create an operator token and print it (once)");
  create->add_option("NAME", a->name, "a name for the token's holder")
      ->required();
  CLI::App* list = sub->add_subcommand("list", "list operator tokens");
  list->add_flag("--json", a->json, "a JSON array");
  CLI::App* revoke = sub->add_subcommand("revoke", "revoke a token by name");
  revoke->add_option("NAME", a->name, "the token's name")->required();
  return [=]() -> int {
    if (*create) return RunCreate(*global, *a);
    if (*list) return RunList(*global, *a);
    return RunRevoke(*global, *a);
  };
}

}  // namespace porthole::server
