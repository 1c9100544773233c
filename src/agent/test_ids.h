// Test helper: the command ids the agent's unit tests use.
#ifndef PORTHOLE_AGENT_TEST_IDS_H_
#define PORTHOLE_AGENT_TEST_IDS_H_

namespace porthole::agent {

inline constexpr char kId[] =
    "urn:tdx-ota:command:0b61a0c4-3f5e-4c1e-9a8e-5a0d0e7c2f11";
inline constexpr char kId2[] =
    "urn:tdx-ota:command:1b61a0c4-3f5e-4c1e-9a8e-5a0d0e7c2f11";

}  // namespace porthole::agent

#endif  // PORTHOLE_AGENT_TEST_IDS_H_
