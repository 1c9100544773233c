#include "cli/pem.h"

#include <cctype>

#include "core/crypto/digest.h"
#include "core/crypto/signature.h"

namespace porthole::cli {
namespace {

constexpr std::string_view kBegin = "-----BEGIN ";
constexpr std::string_view kEnd = "-----END ";
constexpr size_t kMaxBlocks = 64;

}  // namespace

Result<std::vector<std::string>> SplitPemCertificates(std::string_view text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while ((pos = text.find(kBegin, pos)) != std::string_view::npos) {
    if (out.size() == kMaxBlocks) {
      return Status::InvalidArgument("more than " + std::to_string(kMaxBlocks) +
                                     " PEM blocks");
    }
    size_t label_end = text.find("-----", pos + kBegin.size());
    if (label_end == std::string_view::npos) {
      return Status::InvalidArgument("truncated PEM header");
    }
    std::string_view label =
        text.substr(pos + kBegin.size(), label_end - pos - kBegin.size());
    if (label != "CERTIFICATE") {
      return Status::InvalidArgument("PEM block " +
                                     std::to_string(out.size() + 1) +
                                     " is not a CERTIFICATE");
    }
    std::string end_marker = std::string(kEnd) + "CERTIFICATE-----";
    size_t end = text.find(end_marker, label_end);
    if (end == std::string_view::npos) {
      return Status::InvalidArgument(
          "PEM block " + std::to_string(out.size() + 1) + " has no END line");
    }
    end += end_marker.size();
    auto der = crypto::PemDecode(text.substr(pos, end - pos), "CERTIFICATE");
    if (!der.ok()) {
      return Status::InvalidArgument("PEM block " +
                                     std::to_string(out.size() + 1) + ": " +
                                     der.status().message());
    }
    if (der->empty()) {
      return Status::InvalidArgument(
          "PEM block " + std::to_string(out.size() + 1) + " is empty");
    }
    out.push_back(std::move(*der));
    pos = end;
  }
  if (out.empty()) return Status::InvalidArgument("no PEM certificate");
  return out;
}

std::string CertificateSha256(std::string_view der) {
  return crypto::HexEncode(crypto::Sha256(der));
}

Result<std::string> NormalizeSha256Pin(std::string_view text) {
  std::string_view t = text;
  for (std::string_view prefix :
       {"sha256 Fingerprint=", "SHA256 Fingerprint=", "sha256:", "SHA256:"}) {
    if (t.starts_with(prefix)) {
      t.remove_prefix(prefix.size());
      break;
    }
  }
  std::string hex;
  for (size_t i = 0; i < t.size(); ++i) {
    char c = t[i];
    if (c == ':' && i % 3 == 2) continue;
    if (!std::isxdigit(static_cast<unsigned char>(c))) {
      hex.clear();
      break;
    }
    hex += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  bool colons = t.find(':') != std::string_view::npos;
  if (hex.size() != 64 || (colons && t.size() != 95)) {
    return Status::InvalidArgument(
        "--ca-sha256 '" + std::string(text.substr(0, 120)) +
        "': expected the CA certificate's SHA-256 as 64 hex digits");
  }
  return hex;
}

}  // namespace porthole::cli
