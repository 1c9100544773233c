// Helpers for tests: a temporary directory removed with its contents, and
// the small functions several test files need.
#ifndef PORTHOLE_CORE_BASE_TEST_UTIL_H_
#define PORTHOLE_CORE_BASE_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <time.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "core/base/file.h"

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

// `path`'s contents; a test failure (and "") when it cannot be read.
inline std::string ReadOrDie(const std::string& path) {
  Result<std::string> text = ReadFile(path, 1 << 20);
  EXPECT_TRUE(text.ok()) << text.status().message();
  return text.ok() ? *text : "";
}

// The names in directory `dir`; none when it does not exist.
inline std::set<std::string> FilesIn(const std::string& dir) {
  std::set<std::string> names;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    names.insert(e.path().filename().string());
  }
  return names;
}

// n pseudo-random bytes, the same for the same seed.
inline std::string RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// The CPU time this process used while the calling thread slept `wall`.
inline double CpuSecondsDuring(std::chrono::milliseconds wall) {
  auto cpu = [] {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + ts.tv_nsec / 1e9;
  };
  double before = cpu();
  std::this_thread::sleep_for(wall);  // measuring, not synchronising
  return cpu() - before;
}

}  // namespace porthole

#endif  // PORTHOLE_CORE_BASE_TEST_UTIL_H_
