#include "fastgpu/core/result.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace fastgpu {
namespace {

Result<int> parse_positive(int value) {
  if (value <= 0) return invalid_argument("value " + std::to_string(value) + " must be > 0");
  return value;
}

Status check_both(int a, int b) {
  FASTGPU_RETURN_IF_ERROR(parse_positive(a).status());
  FASTGPU_RETURN_IF_ERROR(parse_positive(b).status());
  return {};
}

TEST(Result, HoldsValueOrError) {
  const Result<int> good = parse_positive(3);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 3);
  EXPECT_TRUE(good.status().ok());

  const Result<int> bad = parse_positive(-1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad.status().to_string(), "invalid argument: value -1 must be > 0");
  EXPECT_EQ(bad.value_or(7), 7);
}

TEST(Result, MovesOutMoveOnlyValues) {
  Result<std::unique_ptr<int>> boxed = std::make_unique<int>(5);
  std::unique_ptr<int> taken = std::move(boxed).value();
  EXPECT_EQ(*taken, 5);
}

TEST(Status, ReturnIfErrorStopsAtFirstError) {
  EXPECT_TRUE(check_both(1, 2).ok());
  const Status status = check_both(1, -2);
  EXPECT_EQ(status.message(), "value -2 must be > 0");
}

TEST(Status, WithContextPrefixesErrorsOnly) {
  EXPECT_EQ(not_found("no such GPU 9").with_context("--devices").to_string(),
            "not found: --devices: no such GPU 9");
  EXPECT_TRUE(Status{}.with_context("anything").ok());
}

}  // namespace
}  // namespace fastgpu
