// The agent's version as a User-Agent string, in RAC's shape (PROTOCOL.md
// 3.1): "porthole-agent/VERSION (COMMIT; DATE; COMPILER-TARGET)", e.g.
//   porthole-agent/0.1.0 (3f2c1ab; 2025-07-30; gcc-12.2.0-x86_64-linux-gnu)
// COMMIT is the short git hash of the build ("unknown" outside git) and DATE
// the build's UTC date (SOURCE_DATE_EPOCH is honoured). `porthole-agent
// --version` prints it; the HTTP client sends it as User-Agent.
#ifndef PORTHOLE_AGENT_VERSION_H_
#define PORTHOLE_AGENT_VERSION_H_

#include <string>

namespace porthole::agent {

std::string UserAgent();

}  // namespace porthole::agent

#endif  // PORTHOLE_AGENT_VERSION_H_
