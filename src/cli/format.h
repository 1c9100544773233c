// What the operator commands print for people: the API's resources as
// tables and "key: value" blocks. Every string from the server passes
// through Printable() (table.h). Times are shown relative to `now`.
#ifndef PORTHOLE_CLI_FORMAT_H_
#define PORTHOLE_CLI_FORMAT_H_

#include <string>
#include <vector>

#include "cli/api_types.h"
#include "core/base/clock.h"

namespace porthole::cli {

// "SHA256:... (ED25519)" for an OpenSSH key line, or "(unparseable key)".
std::string KeySummary(const std::string& line);

// NAME ID LAST SEEN SESSION TUNNEL [REMOVED]
std::string DevicesTable(const std::vector<Device>& devices, SystemTime now,
                         bool show_removed);
std::string DeviceDetails(const Device& d, SystemTime now);

// ID DEVICE STATE TUNNEL EXPIRES OPENED BY KEYS
std::string SessionsTable(const std::vector<Session>& sessions, SystemTime now);
std::string SessionDetails(const Session& s, SystemTime now);

// ID DEVICE COMMAND STATE RESULT CREATED BY
std::string CommandsTable(const std::vector<Command>& commands, SystemTime now);
// "key: value" lines, then the device's stdout and stderr, each line
// indented by two spaces under a "stdout:" / "stderr:" heading.
std::string CommandDetails(const Command& c, SystemTime now);
// "exit 0", "exit 3", "failed: <error>", "pending".
std::string CommandOutcome(const Command& c);

// SEQ AT KIND DEVICE SESSION ACTOR DETAILS
std::string AuditTable(const std::vector<AuditEvent>& events);
// One event as one line (for --follow): the same columns, two spaces apart.
std::string AuditLine(const AuditEvent& e);

// `porthole policy show`.
std::string PolicyText(const PolicyStatus& p);

}  // namespace porthole::cli

#endif  // PORTHOLE_CLI_FORMAT_H_
