#include "core/base/logging.h"

#include <spdlog/sinks/stdout_sinks.h>

#include <cstdlib>
#include <string>

namespace porthole {

bool ParseLogLevel(std::string_view value, spdlog::level::level_enum* level) {
  // "rac=debug,other=warn" or "debug": take the entry for rac/porthole, or a
  // bare level.
  bool found = false;
  while (!value.empty()) {
    auto comma = value.find(',');
    std::string_view item = value.substr(0, comma);
    value = comma == std::string_view::npos ? "" : value.substr(comma + 1);
    auto eq = item.find('=');
    std::string_view target, name = item;
    if (eq != std::string_view::npos) {
      target = item.substr(0, eq);
      name = item.substr(eq + 1);
    }
    if (!target.empty() && target != "rac" && target != "porthole") continue;
    auto l = spdlog::level::from_str(std::string(name));
    if (l == spdlog::level::off && name != "off") continue;
    *level = l;
    found = true;
  }
  return found;
}

void InitLogging(std::string_view program,
                 spdlog::level::level_enum default_level) {
  spdlog::drop(std::string(program));
  auto logger = spdlog::stderr_logger_mt(std::string(program));
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v",
                      spdlog::pattern_time_type::utc);
  spdlog::level::level_enum level = default_level;
  for (const char* var : {"PORTHOLE_LOG", "RUST_LOG"}) {
    const char* v = std::getenv(var);
    if (v != nullptr && ParseLogLevel(v, &level)) break;
  }
  logger->set_level(level);
  spdlog::set_default_logger(logger);
}

std::string LogSafe(std::string_view s, size_t max) {
  std::string out;
  for (char ch : s.substr(0, max)) {
    auto u = static_cast<unsigned char>(ch);
    out += (u < 0x20 || u == 0x7f) ? '?' : ch;
  }
  if (s.size() > max) out += "...";
  return out;
}

}  // namespace porthole
