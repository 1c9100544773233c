// Build facts written at build time by version_info.cmake into
// version_info.cc (in the build tree).
#ifndef PORTHOLE_AGENT_VERSION_INFO_H_
#define PORTHOLE_AGENT_VERSION_INFO_H_

namespace porthole::agent {

extern const char kGitCommit[];  // short hash, or "unknown"
extern const char kBuildDate[];  // YYYY-MM-DD (UTC)

}  // namespace porthole::agent

#endif  // PORTHOLE_AGENT_VERSION_INFO_H_
