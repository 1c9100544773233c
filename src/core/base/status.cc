#include "core/base/status.h"

#include <cerrno>
#include <cstring>

namespace porthole {

Status Status::Prefixed(std::string_view prefix) const {
  if (ok()) return *this;
  std::string m(prefix);
  m += ": ";
  m += message_;
  return Status(code_, std::move(m));
}

Status PosixError(std::string_view context, int err) {
  std::string m(context);
  m += ": ";
  m += std::strerror(err);
  switch (err) {
    case ENOENT:
      return Status::NotFound(std::move(m));
    case EACCES:
    case EPERM:
    case EROFS:
      return Status::PermissionDenied(std::move(m));
    case EEXIST:
      return Status::AlreadyExists(std::move(m));
    default:
      return Status::IoError(std::move(m));
  }
}

}  // namespace porthole
