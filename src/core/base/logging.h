// Logging: plain lines to stderr through spdlog (journald keeps stderr).
//
// The level comes from PORTHOLE_LOG ("debug", "info", ...); for familiarity a
// RUST_LOG-style value such as "rac=debug" or "porthole=trace" is understood
// too. Never log secrets.
#ifndef PORTHOLE_CORE_BASE_LOGGING_H_
#define PORTHOLE_CORE_BASE_LOGGING_H_

#include <spdlog/spdlog.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace porthole {

// Sets up the default logger named `program`. `default_level` applies when
// the environment says nothing. Safe to call more than once.
void InitLogging(std::string_view program,
                 spdlog::level::level_enum default_level = spdlog::level::info);

// Parses a level from a PORTHOLE_LOG / RUST_LOG value; false if none found.
bool ParseLogLevel(std::string_view value, spdlog::level::level_enum* level);

// Peer-chosen text (user names, host names, commands, libssh errors) made
// safe for one log line or audit detail: control characters become '?',
// and text past `max` bytes is cut ("..." marks the cut).
std::string LogSafe(std::string_view s, size_t max = 200);

}  // namespace porthole

#endif  // PORTHOLE_CORE_BASE_LOGGING_H_
