#include "core/batch_error.h"

#include <gtest/gtest.h>

namespace fastgpu {
namespace {

TEST(LocatedInBatch, TheProblemIsTheMessageWithoutItsLead) {
  const Status refused = invalid_argument("job 2 of the batch ('train'): gpus must be 0 to 64");
  const Status located = located_in_batch(refused, 2, "job 2 of the batch ('train'): ");
  ASSERT_TRUE(located.batch_job().has_value());
  EXPECT_EQ(located.batch_job()->index, 2u);
  EXPECT_EQ(located.batch_job()->problem, "gpus must be 0 to 64");
  EXPECT_EQ(located.message(), refused.message());
  EXPECT_EQ(located.code(), ErrorCode::kInvalidArgument);
}

TEST(LocatedInBatch, AMessageInOtherWordsIsTheProblemWhole) {
  const Status located = located_in_batch(invalid_argument("no such field"), 0, "job 0: ");
  ASSERT_TRUE(located.batch_job().has_value());
  EXPECT_EQ(located.batch_job()->problem, "no such field");
}

}  // namespace
}  // namespace fastgpu
