#include "agent/version.h"

#include "agent/version_info.h"

namespace porthole::agent {

std::string UserAgent() {
  return std::string("porthole-agent/") + PORTHOLE_VERSION + " (" + kGitCommit +
         "; " + kBuildDate + "; " + PORTHOLE_COMPILER + ")";
}

}  // namespace porthole::agent
