// Small descriptor helpers shared by the event loops (the reverse tunnel,
// the embedded SSH server) and the subprocess runner.
#ifndef PORTHOLE_CORE_BASE_FD_IO_H_
#define PORTHOLE_CORE_BASE_FD_IO_H_

#include <sys/types.h>

#include <cstddef>

namespace porthole {

// Sets O_NONBLOCK; false (errno set) if fcntl fails.
bool SetNonBlocking(int fd);

// write(2) that never raises SIGPIPE, whatever the process's disposition:
// a library must not depend on its host ignoring the signal. SIGPIPE is
// blocked around the write and the one this write caused (not one that was
// already pending) is swallowed. Returns what write(2) returns, errno kept
// (EPIPE when the reader is gone).
ssize_t WriteWithoutSigpipe(int fd, const void* data, size_t len);

}  // namespace porthole

#endif  // PORTHOLE_CORE_BASE_FD_IO_H_
