#include "cli/operator_keys.h"

#include <dirent.h>

#include <algorithm>
#include <sstream>

#include "core/base/file.h"
#include "core/base/subprocess.h"

namespace porthole::cli {
namespace {

constexpr size_t kMaxKeyFile = 64 << 10;

// The first non-empty, non-comment line of a .pub file, parsed.
Result<OperatorKey> ParsePubText(const std::string& text,
                                 const std::string& source) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    size_t start = line.find_first_not_of(" \t\r");
    if (start == std::string::npos || line[start] == '#') continue;
    auto key = keys::ParsePublicKeyLine(line);
    if (!key.ok()) return key.status().Prefixed(source);
    if (key->certificate) {
      return Status::InvalidArgument(
          source + ": a certificate; sessions take plain public keys");
    }
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) {
      line.pop_back();
    }
    return OperatorKey{line.substr(start), std::move(*key), source, ""};
  }
  return Status::InvalidArgument(source + ": no public key in the file");
}

bool LooksLikePrivateKey(const std::string& text) {
  return text.find("-----BEGIN ") != std::string::npos &&
         text.find("PRIVATE KEY-----") != std::string::npos;
}

}  // namespace

Result<OperatorKey> LoadKeyArg(const std::string& path) {
  auto text = ReadFile(path, kMaxKeyFile, true);
  if (!text.ok()) return text.status();
  if (!LooksLikePrivateKey(*text)) {
    PH_ASSIGN_OR_RETURN(OperatorKey k, ParsePubText(*text, path));
    std::string priv = path.ends_with(".pub") ? path.substr(0, path.size() - 4)
                                              : std::string();
    k.identity_file = !priv.empty() && PathExists(priv) ? priv : path;
    return k;
  }
  std::string pub = path + ".pub";
  auto pub_text = ReadFile(pub, kMaxKeyFile, true);
  if (!pub_text.ok()) {
    if (pub_text.status().code() == StatusCode::kNotFound) {
      return Status::NotFound(path + ": a private key without " + pub +
                              " (ssh-keygen -y -f " + path + " > " + pub + ")");
    }
    return pub_text.status();
  }
  PH_ASSIGN_OR_RETURN(OperatorKey k, ParsePubText(*pub_text, pub));
  k.identity_file = path;
  return k;
}

std::vector<OperatorKey> CandidateKeys(const std::string& ssh_dir,
                                       const std::string& agent_lines,
                                       std::vector<std::string>* warnings) {
  std::vector<OperatorKey> out;
  auto add = [&](OperatorKey k) {
    for (const auto& o : out) {
      if (o.key == k.key) return;
    }
    out.push_back(std::move(k));
  };
  std::vector<std::string> names;
  if (DIR* d = opendir(ssh_dir.c_str())) {
    while (struct dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n.starts_with("id_") && n.ends_with(".pub")) names.push_back(n);
    }
    closedir(d);
  }
  std::sort(names.begin(), names.end());
  for (const auto& n : names) {
    auto k = LoadKeyArg(ssh_dir + "/" + n);
    if (!k.ok()) {
      if (warnings) warnings->push_back("skipping " + k.status().message());
      continue;
    }
    add(std::move(*k));
  }
  std::istringstream in(agent_lines);
  std::string line;
  while (std::getline(in, line)) {
    auto key = keys::ParsePublicKeyLine(line);
    if (!key.ok() || key->certificate) continue;
    add(OperatorKey{line, std::move(*key), "ssh-agent", ""});
  }
  return out;
}

std::string AgentIdentities() {
  if (std::getenv("SSH_AUTH_SOCK") == nullptr) return "";
  RunOptions o;
  o.timeout = std::chrono::seconds(10);
  auto r = RunProcess({"ssh-add", "-L"}, o);
  if (!r.ok() || !r->success()) return "";
  return r->out;
}

bool ContainsKey(const std::vector<std::string>& lines,
                 const keys::PublicKey& key) {
  for (const auto& l : lines) {
    auto k = keys::ParsePublicKeyLine(l);
    if (k.ok() && *k == key) return true;
  }
  return false;
}

Result<OperatorKey> SelectAllowedKey(const std::vector<OperatorKey>& candidates,
                                     const std::vector<std::string>& allowed) {
  std::vector<keys::PublicKey> parsed;
  for (const auto& l : allowed) {
    auto k = keys::ParsePublicKeyLine(l);
    if (k.ok()) parsed.push_back(std::move(*k));
  }
  for (const auto& c : candidates) {
    if (std::find(parsed.begin(), parsed.end(), c.key) != parsed.end()) {
      return c;
    }
  }
  if (candidates.empty()) {
    return Status::FailedPrecondition(
        "no SSH key found (~/.ssh/id_*.pub or ssh-agent); give one with "
        "--key FILE");
  }
  std::string tried;
  for (const auto& c : candidates) {
    tried += (tried.empty() ? "" : ", ") + c.key.Fingerprint();
  }
  return Status::FailedPrecondition(
      "none of your keys is allowed by the server's signed policy (tried " +
      tried + "); porthole policy allow-key FILE, or --key FILE");
}

}  // namespace porthole::cli
