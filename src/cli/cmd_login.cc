// porthole login URL (--ca-sha256 HEX | --ca FILE) [--token T |
// --token-file FILE]; porthole logout.
//
// Trust: with a pin, the first connection trusts nothing: porthole takes the
// certificates the server presents (no request is sent), keeps the one whose
// DER SHA-256 is the pin (porthole-server sends its certificate and its CA),
// and from then on trusts only that CA, with host name checks, as every
// later command does. The token is sent only over that verified connection
// (GET /api/v1/relay checks it). Nothing is written unless all of it worked.
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <iterator>

#include "cli/api_client.h"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "cli/pem.h"
#include "cli/table.h"
#include "core/base/exit_code.h"
#include "core/base/file.h"
#include "core/crypto/signature.h"

namespace porthole::cli {
namespace {

constexpr char kLoginProg[] = "porthole login";
constexpr auto kHandshakeTimeout = std::chrono::seconds(15);

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' ||
                        s.back() == ' ' || s.back() == '\t')) {
    s.pop_back();
  }
  size_t start = s.find_first_not_of(" \t");
  return start == std::string::npos ? "" : s.substr(start);
}

// The token from --token, --token-file (- is stdin), stdin when it is not
// a terminal, or a prompt without echo.
Result<std::string> ReadToken(const std::string& token,
                              const std::string& token_file) {
  if (!token.empty()) return token;
  if (!token_file.empty() && token_file != "-") {
    PH_ASSIGN_OR_RETURN(std::string t, ReadFile(token_file, 64 << 10, true));
    return Trim(t);
  }
  if (token_file == "-" || !isatty(STDIN_FILENO)) {
    std::string t((std::istreambuf_iterator<char>(std::cin)),
                  std::istreambuf_iterator<char>());
    return Trim(t);
  }
  std::fprintf(stderr, "token: ");
  struct termios old, quiet;
  bool restore = tcgetattr(STDIN_FILENO, &old) == 0;
  if (restore) {
    quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  }
  std::string t;
  std::getline(std::cin, t);
  if (restore) tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
  std::fprintf(stderr, "\n");
  return Trim(t);
}

// The CA: from --ca FILE, or the presented certificate matching the pin.
Result<std::string> ObtainCa(const std::string& url, const std::string& pin,
                             const std::string& ca_file) {
  if (!ca_file.empty()) {
    PH_ASSIGN_OR_RETURN(std::string text, ReadFile(ca_file, 1 << 20, true));
    auto certs = SplitPemCertificates(text);
    if (!certs.ok()) return certs.status().Prefixed(ca_file);
    std::string pem;
    for (const auto& der : *certs) pem += crypto::PemEncode(der, "CERTIFICATE");
    return pem;
  }
  PH_ASSIGN_OR_RETURN(std::string want, NormalizeSha256Pin(pin));
  PH_ASSIGN_OR_RETURN(auto certs,
                      http::FetchPeerCertificates(url, kHandshakeTimeout));
  std::string seen;
  for (const auto& der : certs) {
    std::string sha = CertificateSha256(der);
    if (sha == want) return crypto::PemEncode(der, "CERTIFICATE");
    seen += (seen.empty() ? "" : ", ") + sha;
  }
  return Status::FailedPrecondition(
      url + ": no certificate the server presented has SHA-256 " + want +
      " (it presented " + std::to_string(certs.size()) + ": " + seen +
      "); check the pin porthole-server printed, or use --ca FILE");
}

}  // namespace

int RunLogin(const Args& args) {
  CLI::App app(
      "Log in to a porthole-server: pin its CA, check the token, "
      "save both (~/.config/porthole/operator.toml, 0600).",
      kLoginProg);
  std::string url, token, token_file, pin, ca_file;
  bool json = false;
  app.add_option("URL", url, "the operator API, e.g. https://host:8444")
      ->required();
  app.add_option("--token", token,
                 "the operator token (visible in ps and "
                 "shell history: prefer --token-file)");
  app.add_option("--token-file", token_file,
                 "read the token from FILE ('-': stdin)");
  app.add_option("--ca-sha256", pin,
                 "SHA-256 of the server CA certificate (porthole-server "
                 "prints it)");
  app.add_option("--ca", ca_file, "the server CA certificate (PEM) instead");
  app.add_flag("--json", json, "print the result as JSON");
  if (int rc = ParseCli(app, args); rc >= 0) return rc;
  if (pin.empty() == ca_file.empty()) {
    return Fail(kLoginProg,
                Status::InvalidArgument(
                    "give exactly one of --ca-sha256 HEX and --ca FILE "
                    "(see porthole login --help)"));
  }
  if (!token.empty() && !token_file.empty()) {
    return Fail(kLoginProg, Status::InvalidArgument(
                                "give --token or --token-file, not both"));
  }
  auto base = NormalizeServerUrl(url);
  if (!base.ok()) return Fail(kLoginProg, base.status());
  auto tok = ReadToken(token, token_file);
  if (!tok.ok()) return Fail(kLoginProg, tok.status());
  if (Status s = CheckToken(*tok); !s.ok()) return Fail(kLoginProg, s);
  if (!pin.empty()) {
    if (auto p = NormalizeSha256Pin(pin); !p.ok())
      return Fail(kLoginProg, p.status());
  }
  auto path = OperatorConfigPath();
  if (!path.ok()) return Fail(kLoginProg, path.status());

  auto ca = ObtainCa(*base, pin, ca_file);
  if (!ca.ok()) return Fail(kLoginProg, ca.status());
  OperatorConfig config{*base, *tok, *ca};
  auto api = OperatorApi::FromConfig(config);
  if (!api.ok()) return Fail(kLoginProg, api.status());
  auto r = api->Call("GET", "/api/v1/relay");
  if (!r.ok()) return Fail(kLoginProg, r.status());
  if (r->status == 401) {
    std::string why = r->error ? Printable(r->error->description) : "";
    return Fail(kLoginProg,
                Status::PermissionDenied(*base + " refused the token" +
                                         (why.empty() ? "" : " (" + why + ")") +
                                         "; nothing saved"));
  }
  if (r->status != 200) return Fail(kLoginProg, OperatorApi::ErrorStatus(*r));
  auto relay = ParseRelay(r->body);
  if (!relay.ok()) return Fail(kLoginProg, relay.status());
  if (Status s = SaveOperatorConfig(*path, config); !s.ok()) {
    return Fail(kLoginProg, s);
  }
  auto ca_certs = SplitPemCertificates(config.ca_pem);
  std::string ca_sha = ca_certs.ok() ? CertificateSha256((*ca_certs)[0]) : "";
  if (json) {
    PrintJson(Json{{"server", config.server},
                   {"config", *path},
                   {"ca_sha256", ca_sha},
                   {"relay", r->body}});
  } else {
    Print("logged in to " + config.server + " (CA sha256 " + ca_sha +
          ", relay " + Printable(relay->host) + ":" +
          std::to_string(relay->port) + "); saved " + *path + "\n");
  }
  return kExitSuccess;
}

int RunLogout(const Args& args) {
  CLI::App app("Forget the server, token and CA that porthole login saved.",
               "porthole logout");
  if (int rc = ParseCli(app, args); rc >= 0) return rc;
  auto path = OperatorConfigPath();
  if (!path.ok()) return Fail("porthole logout", path.status());
  bool existed = PathExists(*path);
  if (Status s = RemoveOperatorConfig(*path); !s.ok()) {
    return Fail("porthole logout", s);
  }
  Print(existed ? "logged out (removed " + *path + ")\n"
                : "not logged in (no " + *path + ")\n");
  return kExitSuccess;
}

}  // namespace porthole::cli
