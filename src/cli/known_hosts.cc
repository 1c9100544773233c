#include "cli/known_hosts.h"

#include <sstream>

#include "core/base/file.h"
#include "core/crypto/digest.h"

namespace porthole::cli {
namespace {

constexpr size_t kMaxKnownHosts = 16 << 20;

bool LineIsFor(const std::string& line, const std::string& hostspec) {
  size_t start = line.find_first_not_of(" \t");
  if (start == std::string::npos || line[start] == '#') return false;
  size_t end = line.find_first_of(" \t", start);
  std::string field = line.substr(
      start, end == std::string::npos ? std::string::npos : end - start);
  std::istringstream in(field);
  std::string name;
  while (std::getline(in, name, ',')) {
    if (name == hostspec) return true;
  }
  return false;
}

}  // namespace

std::string KnownHostsHostSpec(const std::string& host, uint16_t port) {
  if (port == 22) return host;
  return "[" + host + "]:" + std::to_string(port);
}

std::string KnownHostsLine(const std::string& hostspec,
                           const keys::PublicKey& key) {
  return hostspec + " " + key.TypeName() + " " + crypto::Base64Encode(key.blob);
}

Status UpdateKnownHosts(const std::string& path, const std::string& hostspec,
                        const std::vector<std::string>& key_lines) {
  if (key_lines.empty()) return Status::Ok();
  std::vector<std::string> wanted;
  for (const auto& l : key_lines) {
    auto k = keys::ParsePublicKeyLine(l);
    if (!k.ok()) {
      return Status::InvalidArgument("host key for " + hostspec + ": " +
                                     k.status().message());
    }
    wanted.push_back(KnownHostsLine(hostspec, *k));
  }
  std::string old;
  auto text = ReadFile(path, kMaxKnownHosts);
  if (text.ok()) {
    old = std::move(*text);
  } else if (text.status().code() != StatusCode::kNotFound) {
    return text.status();
  }
  std::string out;
  std::istringstream in(old);
  std::string line;
  while (std::getline(in, line)) {
    if (LineIsFor(line, hostspec)) continue;
    out += line + "\n";
  }
  for (const auto& w : wanted) out += w + "\n";
  if (out == old) return Status::Ok();
  PH_RETURN_IF_ERROR(MakeDirs(DirName(path), 0700));
  return AtomicReplace(path, out, ReplaceOptions::NewMode(0600));
}

}  // namespace porthole::cli
