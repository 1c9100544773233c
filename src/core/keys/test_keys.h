// Test helper: real OpenSSH keys made by ssh-keygen in a temporary directory.
#ifndef PORTHOLE_CORE_KEYS_TEST_KEYS_H_
#define PORTHOLE_CORE_KEYS_TEST_KEYS_H_

#include <cstdlib>
#include <string>

#include "core/base/file.h"
#include "core/base/subprocess.h"

namespace porthole::keys {

// Makes a key pair `dir/name` (+ .pub) of `type` ("ed25519", "rsa", ...) with
// `comment`; returns the public key line without its newline. Aborts on
// failure: a test without its keys cannot say anything.
inline std::string MakeTestKey(const std::string& dir, const std::string& name,
                               const std::string& type = "ed25519",
                               const std::string& comment = "") {
  std::string path = dir + "/" + name;
  auto r = RunProcess({"ssh-keygen", "-q", "-t", type, "-N", "", "-C",
                       comment.empty() ? name : comment, "-f", path});
  if (!r.ok() || !r->success()) std::abort();
  auto pub = ReadFile(path + ".pub", 1 << 20);
  if (!pub.ok()) std::abort();
  std::string line = *pub;
  while (!line.empty() && line.back() == '\n') line.pop_back();
  return line;
}

// The key fixtures in src/core/keys/testdata/: a file's whole text ("" when
// it cannot be read; the test then fails on the content), and its first line
// without the newline.
inline std::string ReadKeyFixture(const std::string& name) {
  Result<std::string> text = ReadFile(
      std::string(PORTHOLE_SOURCE_DIR) + "/src/core/keys/testdata/" + name,
      1 << 20);
  return text.ok() ? *text : "";
}
inline std::string KeyFixtureLine(const std::string& name) {
  std::string text = ReadKeyFixture(name);
  return text.substr(0, text.find('\n'));
}

}  // namespace porthole::keys

#endif  // PORTHOLE_CORE_KEYS_TEST_KEYS_H_
