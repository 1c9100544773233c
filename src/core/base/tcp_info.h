// What the kernel knows about a TCP connection that the socket API does
// not say (TCP_INFO).
#ifndef PORTHOLE_CORE_BASE_TCP_INFO_H_
#define PORTHOLE_CORE_BASE_TCP_INFO_H_

#include <cstdint>
#include <optional>

namespace porthole {

// The number of segments carrying data that `fd` (a connected TCP socket)
// has received, in order or not, retransmissions included; nullopt when the
// kernel does not say (not TCP, a kernel before 4.6). Unlike the bytes a
// reader sees, it moves while a lost segment holds everything behind it
// back; unlike the time of the last ACK, it does not move for a peer whose
// kernel acknowledges but whose program has stopped sending.
std::optional<uint32_t> TcpDataSegmentsIn(int fd);

}  // namespace porthole

#endif  // PORTHOLE_CORE_BASE_TCP_INFO_H_
