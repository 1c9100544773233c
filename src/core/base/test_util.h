// Helpers for tests: a temporary directory removed with its contents.
#ifndef PORTHOLE_CORE_BASE_TEST_UTIL_H_
#define PORTHOLE_CORE_BASE_TEST_UTIL_H_

#include <cstdlib>
#include <filesystem>
#include <string>

namespace porthole {

class TempDir {
 public:
  TempDir() {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "porthole-test.XXXXXX")
            .string();
    if (mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Join(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace porthole

#endif  // PORTHOLE_CORE_BASE_TEST_UTIL_H_
