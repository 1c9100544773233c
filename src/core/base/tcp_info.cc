// linux/tcp.h, not netinet/tcp.h: glibc's struct tcp_info stops before the
// segment counters (the two headers cannot be included together).
#include "core/base/tcp_info.h"

#include <linux/tcp.h>
#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>

namespace porthole {

std::optional<uint32_t> TcpDataSegmentsIn(int fd) {
  struct tcp_info info {};
  socklen_t len = sizeof info;
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) {
    return std::nullopt;
  }
  if (len < offsetof(struct tcp_info, tcpi_data_segs_in) +
                sizeof info.tcpi_data_segs_in) {
    return std::nullopt;
  }
  return info.tcpi_data_segs_in;
}

}  // namespace porthole
