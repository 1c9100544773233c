// Durations on the operator's command line: `--for 1h`, `--wait 2m`,
// `--timeout 5m`, `audit --since 1h`. The text form is the operator API's
// (docs/operator-api.md): "90s", "15m", "1h", "1h30m", "7d", i.e. one or
// more NUMBER UNIT pairs with units d, h, m, s strictly decreasing, or a
// bare number of seconds ("3600"). Numbers are decimal without sign.
#ifndef PORTHOLE_CLI_DURATION_ARG_H_
#define PORTHOLE_CLI_DURATION_ARG_H_

#include <chrono>
#include <string>
#include <string_view>

#include "core/base/status.h"

namespace porthole::cli {

// Longer than this is refused (no option means ten years).
inline constexpr std::chrono::seconds kMaxDurationArg{10LL * 366 * 86400};

// The duration `text` names; it must be more than zero and at most
// kMaxDurationArg. Errors are kInvalidArgument and quote `option` and the
// text: "--for '1x': unknown unit 'x' (use d, h, m, s: 90s, 15m, 1h30m, 7d)".
Result<std::chrono::seconds> ParseDurationArg(std::string_view text,
                                              std::string_view option);

// The shortest text form ParseDurationArg() reads back: "1h30m", "7d",
// "45s"; "0s" for zero or less.
std::string FormatDurationArg(std::chrono::seconds d);

}  // namespace porthole::cli

#endif  // PORTHOLE_CLI_DURATION_ARG_H_
