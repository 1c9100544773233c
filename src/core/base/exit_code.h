// Process exit codes shared by every porthole program.
#ifndef PORTHOLE_CORE_BASE_EXIT_CODE_H_
#define PORTHOLE_CORE_BASE_EXIT_CODE_H_

#include "core/base/status.h"

namespace porthole {

enum ExitCode : int {
  kExitSuccess = 0,
  kExitFailure = 1,  // the request was understood but could not be carried out
  kExitUsage = 2,    // bad arguments, bad config, malformed input
};

// kExitUsage for kInvalidArgument, kExitFailure for any other error.
inline ExitCode ExitCodeFor(const Status& s) {
  if (s.ok()) return kExitSuccess;
  return s.code() == StatusCode::kInvalidArgument ? kExitUsage : kExitFailure;
}

}  // namespace porthole

#endif  // PORTHOLE_CORE_BASE_EXIT_CODE_H_
