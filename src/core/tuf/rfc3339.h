// RFC 3339 timestamps, as metadata `expires` and latest_known_time.json
// carry them.
#ifndef PORTHOLE_CORE_TUF_RFC3339_H_
#define PORTHOLE_CORE_TUF_RFC3339_H_

#include <string>
#include <string_view>

#include "core/base/clock.h"
#include "core/base/status.h"

namespace porthole::tuf {

// Parses "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)" ('t' and 'z' in
// lower case too), as chrono's DateTime<Utc> deserialiser accepts it. The
// date must exist; a leap second (":60") is refused. Fractions beyond
// nanoseconds are truncated. Errors are kInvalidArgument.
Result<SystemTime> ParseRfc3339(std::string_view text);

// "2034-03-12T15:48:31Z"; sub-second parts are dropped.
std::string FormatRfc3339(SystemTime time);

// With nanoseconds when there are any: "2025-07-30T16:10:39.123456789Z".
std::string FormatRfc3339Nanos(SystemTime time);

}  // namespace porthole::tuf

#endif  // PORTHOLE_CORE_TUF_RFC3339_H_
