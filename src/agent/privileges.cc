#include "agent/privileges.h"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <vector>

#include "core/base/file.h"

namespace porthole::agent {

Status DropPrivileges(const config::UserGroup& who) {
  std::vector<char> buf(16384);
  passwd pw, *pwp = nullptr;
  if (getpwnam_r(who.user.c_str(), &pw, buf.data(), buf.size(), &pwp) != 0 ||
      pwp == nullptr) {
    return Status::InvalidArgument("device.unprivileged_user_group: no user '" +
                                   who.user + "'");
  }
  std::vector<char> gbuf(16384);
  group gr, *grp = nullptr;
  if (getgrnam_r(who.group.c_str(), &gr, gbuf.data(), gbuf.size(), &grp) !=
          0 ||
      grp == nullptr) {
    return Status::InvalidArgument(
        "device.unprivileged_user_group: no group '" + who.group + "'");
  }
  const uid_t uid = pw.pw_uid;
  const gid_t gid = gr.gr_gid;
  if (uid == 0) {
    return Status::InvalidArgument(
        "device.unprivileged_user_group: '" + who.user +
        "' is root; name an unprivileged user");
  }
  if (initgroups(who.user.c_str(), gid) != 0) {
    return PosixError("initgroups " + who.user, errno);
  }
  if (setresgid(gid, gid, gid) != 0) {
    return PosixError("setgid " + who.group, errno);
  }
  if (setresuid(uid, uid, uid) != 0) {
    return PosixError("setuid " + who.user, errno);
  }
  uid_t r, e, s;
  gid_t rg, eg, sg;
  if (getresuid(&r, &e, &s) != 0 || getresgid(&rg, &eg, &sg) != 0 ||
      r != uid || e != uid || s != uid || rg != gid || eg != gid ||
      sg != gid) {
    return Status::Internal("privilege drop to " + who.ToString() +
                            " did not take (ids differ)");
  }
  if (setuid(0) == 0) {
    return Status::Internal("privilege drop to " + who.ToString() +
                            " did not take: setuid(0) still works");
  }
  return Status::Ok();
}

Status CheckWritable(std::string_view key, const std::string& path) {
  std::string p = path;
  while (!PathExists(p)) {
    std::string parent = DirName(p);
    if (parent == p) break;
    p = parent;
  }
  struct stat st;
  if (stat(p.c_str(), &st) != 0) return PosixError(std::string(key) + ": " + p, errno);
  const int want = S_ISDIR(st.st_mode) ? (W_OK | X_OK) : W_OK;
  if (access(p.c_str(), want) == 0) return Status::Ok();
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", st.st_mode & 07777);
  std::string what = p == path ? path : path + " cannot be created: " + p;
  return Status::FailedPrecondition(
      std::string(key) + ": " + what + " is not writable by uid " +
      std::to_string(geteuid()) + " (owner " + std::to_string(st.st_uid) +
      ":" + std::to_string(st.st_gid) + ", mode " + mode + ")");
}

}  // namespace porthole::agent
