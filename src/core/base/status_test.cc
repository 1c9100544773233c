#include "core/base/status.h"

#include <gtest/gtest.h>

#include <cerrno>

#include "core/base/exit_code.h"

namespace porthole {
namespace {

Result<int> Half(int x) {
  if (x % 2) return Status::InvalidArgument("odd: " + std::to_string(x));
  return x / 2;
}

Result<int> Quarter(int x) {
  PH_ASSIGN_OR_RETURN(int h, Half(x));
  PH_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

Status CheckEven(int x) {
  PH_RETURN_IF_ERROR(Half(x).status());
  return Status::Ok();
}

TEST(StatusTest, OkAndErrors) {
  EXPECT_TRUE(Status().ok());
  EXPECT_EQ(Status().ToString(), "OK");
  Status s = Status::NotFound("x.toml: missing");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.Prefixed("load").message(), "load: x.toml: missing");
  EXPECT_TRUE(Status().Prefixed("load").ok());
}

TEST(StatusTest, ResultPropagates) {
  EXPECT_EQ(*Quarter(8), 2);
  Result<int> r = Quarter(6);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "odd: 3");
  EXPECT_TRUE(CheckEven(4).ok());
  EXPECT_EQ(CheckEven(5).code(), StatusCode::kInvalidArgument);
}

TEST(StatusTest, PosixErrorMapsErrno) {
  EXPECT_EQ(PosixError("f", ENOENT).code(), StatusCode::kNotFound);
  EXPECT_EQ(PosixError("f", EACCES).code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(PosixError("f", EROFS).code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(PosixError("f", ENOSPC).code(), StatusCode::kIoError);
  EXPECT_EQ(PosixError("/a/b", ENOSPC).message(),
            "/a/b: No space left on device");
}

TEST(StatusTest, ExitCodes) {
  EXPECT_EQ(ExitCodeFor(Status()), kExitSuccess);
  EXPECT_EQ(ExitCodeFor(Status::InvalidArgument("x")), kExitUsage);
  EXPECT_EQ(ExitCodeFor(Status::IoError("x")), kExitFailure);
  EXPECT_EQ(ExitCodeFor(Status::FailedPrecondition("x")), kExitFailure);
}

}  // namespace
}  // namespace porthole
