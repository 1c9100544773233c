// VALID_FOR of `porthole keys add`: "Nh", "Nd", "Nw", "Nm" (hours, days,
// weeks, calendar months) or "forever".
#ifndef PORTHOLE_CLI_VALID_FOR_H_
#define PORTHOLE_CLI_VALID_FOR_H_

#include <optional>
#include <string_view>

#include "core/base/clock.h"
#include "core/base/status.h"

namespace porthole::cli {

// A timed key may live at most this long; longer is what "forever" is for.
inline constexpr int kMaxValidForYears = 10;

// The expiry time for `text` counted from `now` (UTC, whole minutes, seconds
// dropped), or unset for "forever". N is a positive decimal without sign or
// leading zeros; months add calendar months (Jan 31 + 1m = Feb 28/29).
// Errors are kInvalidArgument naming the value.
Result<std::optional<SystemTime>> ParseValidFor(std::string_view text,
                                                SystemTime now);

}  // namespace porthole::cli

#endif  // PORTHOLE_CLI_VALID_FOR_H_
