#include "server/store/names.h"

#include <string>

#include "core/config/agent_config.h"
#include "core/config/toml.h"

namespace porthole::server {
namespace {

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9');
}

Status CheckName(std::string_view kind, std::string_view name) {
  bool ok = !name.empty() && name.size() <= kMaxNameLength && IsAlnum(name[0]);
  for (char c : name) {
    if (!IsAlnum(c) && c != '.' && c != '_' && c != '-') ok = false;
  }
  if (ok) return Status::Ok();
  return Status::InvalidArgument(
      "invalid " + std::string(kind) + " name '" +
      config::PrintableText(name, 80) +
      "': use 1-63 letters, digits, '.', '_' and '-', starting with a letter "
      "or digit");
}

}  // namespace

Status ValidateDeviceName(std::string_view name) {
  PH_RETURN_IF_ERROR(CheckName("device", name));
  if (config::ParseUuid(name).ok()) {
    return Status::InvalidArgument(
        "invalid device name '" + std::string(name) +
        "': a device name must not look like a device id (UUID)");
  }
  return Status::Ok();
}

Status ValidateTokenName(std::string_view name) {
  return CheckName("token", name);
}

}  // namespace porthole::server
