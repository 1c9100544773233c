#include "core/keys/krl.h"

#include <stdlib.h>
#include <unistd.h>

#include "core/base/file.h"
#include "core/base/subprocess.h"
#include "core/crypto/digest.h"

namespace porthole::keys {
namespace {

// A private scratch directory, removed with everything in it on scope exit.
class ScratchDir {
 public:
  static Result<ScratchDir> Make() {
    const char* tmp = getenv("TMPDIR");
    std::string tmpl =
        std::string(tmp && *tmp ? tmp : "/tmp") + "/porthole-krl.XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) return PosixError(tmpl, errno);
    return ScratchDir(tmpl);
  }
  ScratchDir(ScratchDir&& o) noexcept : path_(std::move(o.path_)) {
    o.path_.clear();
  }
  ~ScratchDir() {
    if (path_.empty()) return;
    for (const char* f : {"/spec", "/krl"}) unlink((path_ + f).c_str());
    rmdir(path_.c_str());
  }
  const std::string& path() const { return path_; }

 private:
  explicit ScratchDir(std::string p) : path_(std::move(p)) {}
  std::string path_;
};

Status Failed(const std::string& what, const RunResult& r) {
  std::string err = r.err;
  while (!err.empty() && (err.back() == '\n' || err.back() == '\r')) {
    err.pop_back();
  }
  return Status::IoError(what + ": ssh-keygen " + r.Describe() +
                         (err.empty() ? "" : ": " + err));
}

}  // namespace

Status WriteKrl(const std::string& path, const std::vector<PublicKey>& keys,
                const std::string& ssh_keygen) {
  PH_ASSIGN_OR_RETURN(ScratchDir dir, ScratchDir::Make());
  std::string spec;
  for (const auto& k : keys) spec += "hash: " + k.Fingerprint() + "\n";
  const std::string spec_path = dir.path() + "/spec";
  const std::string krl_path = dir.path() + "/krl";
  PH_RETURN_IF_ERROR(
      AtomicReplace(spec_path, spec, ReplaceOptions::NewMode(0600)));
  std::vector<std::string> argv = {ssh_keygen, "-q", "-k", "-f", krl_path};
  if (!keys.empty()) argv.push_back(spec_path);
  PH_ASSIGN_OR_RETURN(RunResult r, RunProcess(argv));
  if (!r.success()) return Failed(path, r);
  PH_ASSIGN_OR_RETURN(std::string krl, ReadFile(krl_path, 64 << 20));
  return AtomicReplace(path, krl, ReplaceOptions::NewMode(0644));
}

Result<bool> KrlRevokes(const std::string& path, const PublicKey& key,
                        const std::string& ssh_keygen) {
  PH_ASSIGN_OR_RETURN(ScratchDir dir, ScratchDir::Make());
  const std::string pub = dir.path() + "/spec";
  PH_RETURN_IF_ERROR(AtomicReplace(
      pub, key.TypeName() + " " + crypto::Base64Encode(key.blob) + "\n",
      ReplaceOptions::NewMode(0600)));
  PH_ASSIGN_OR_RETURN(RunResult r,
                      RunProcess({ssh_keygen, "-Q", "-f", path, pub}));
  if (r.exit_code == 0) return false;
  if (r.exit_code == 1 && r.out.find("REVOKED") != std::string::npos) {
    return true;
  }
  return Failed(path, r);
}

}  // namespace porthole::keys
