#include "server/store/names.h"

#include <gtest/gtest.h>

#include <string>

namespace porthole::server {
namespace {

TEST(NamesTest, ValidNames) {
  for (const char* name : {"a", "dev-7", "Robot_12.boat", "0", "a.b-c_d",
                           "1b4e28ba-2fa1-4d2e-883f-0016d3cca42"}) {
    EXPECT_TRUE(ValidateDeviceName(name).ok()) << name;
    EXPECT_TRUE(ValidateTokenName(name).ok()) << name;
  }
  EXPECT_TRUE(ValidateDeviceName(std::string(63, 'x')).ok());
}

TEST(NamesTest, InvalidNames) {
  const std::string rule =
      "': use 1-63 letters, digits, '.', '_' and '-', starting with a letter "
      "or digit";
  struct Case {
    std::string name;
    std::string shown;
  };
  const Case cases[] = {
      {"", ""},
      {"-dev", "-dev"},
      {".hidden", ".hidden"},
      {"_x", "_x"},
      {"a b", "a b"},
      {"a/b", "a/b"},
      {"..", ".."},
      {"dev\n7", "dev\\x0a7"},
      {"caf\xc3\xa9", "caf\\xc3\\xa9"},
      {std::string(64, 'x'), std::string(64, 'x')},
      {"a:b", "a:b"},
  };
  for (const Case& c : cases) {
    Status s = ValidateDeviceName(c.name);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(s.message(), "invalid device name '" + c.shown + rule);
    EXPECT_EQ(ValidateTokenName(c.name).message(),
              "invalid token name '" + c.shown + rule);
  }
}

TEST(NamesTest, DeviceNamesAreNotUuids) {
  for (const char* id : {"1b4e28ba-2fa1-4d2e-883f-0016d3cca427",
                         "1B4E28BA-2FA1-4D2E-883F-0016D3CCA427",
                         "1b4e28ba2fa14d2e883f0016d3cca427"}) {
    EXPECT_EQ(ValidateDeviceName(id).message(),
              std::string("invalid device name '") + id +
                  "': a device name must not look like a device id (UUID)");
    // A token name may be anything of the shape.
    EXPECT_TRUE(ValidateTokenName(id).ok());
  }
}

}  // namespace
}  // namespace porthole::server
