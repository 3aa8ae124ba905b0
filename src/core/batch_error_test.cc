#include "core/batch_error.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

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

// The refusal of job `index`, as the engine says it.
Status refusal(std::size_t index) {
  const std::string problem = "asks for 9 GPUs, but this machine has 4; ask for at most 4";
  return invalid_argument("job " + std::to_string(index) + " of the batch " + problem)
      .with_batch_job(index, problem, "gpus");
}

TEST(RefusedJobs, OneReadsAsItAlwaysDid) {
  const Status one = refused_jobs({refusal(3)});
  EXPECT_EQ(one.message(), refusal(3).message());
  ASSERT_EQ(one.batch_jobs().size(), 1u);
  EXPECT_EQ(one.batch_jobs()[0].index, 3u);
}

TEST(RefusedJobs, SeveralAreToldOneALineAndAllKeptAsData) {
  const Status three = refused_jobs({refusal(0), refusal(2), refusal(5)});
  EXPECT_EQ(three.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(three.message(),
            "3 jobs of the batch are refused; nothing was submitted (a batch is taken whole or "
            "not at all):\n" +
                refusal(0).message() + "\n" + refusal(2).message() + "\n" + refusal(5).message());
  ASSERT_EQ(three.batch_jobs().size(), 3u);
  EXPECT_EQ(three.batch_jobs()[1].index, 2u);
  EXPECT_EQ(three.batch_jobs()[1].field, "gpus");
  EXPECT_EQ(three.batch_jobs()[2].message, refusal(5).message());
  EXPECT_EQ(three.batch_job()->index, 0u);  // the first, for a client that reads one
}

// As a job file's errors: the first kMaxBatchErrorsTold, then how many more.
TEST(RefusedJobs, PastTheFirstTwentyTheRestAreCounted) {
  std::vector<Status> refusals;
  for (std::size_t i = 0; i < kMaxBatchErrorsTold + 7; ++i) refusals.push_back(refusal(i));
  const Status many = refused_jobs(refusals);
  const std::string& message = many.message();
  EXPECT_EQ(std::count(message.begin(), message.end(), '\n'), kMaxBatchErrorsTold + 1);
  EXPECT_NE(message.find("\n" + refusal(kMaxBatchErrorsTold - 1).message() + "\n"),
            std::string::npos);
  EXPECT_TRUE(message.ends_with(
      "\nand 7 more refusals after job 19 of the batch; fix these and submit the batch again"))
      << message;
  EXPECT_EQ(many.batch_jobs().size(), kMaxBatchErrorsTold + 7);  // every one, as data
}

}  // namespace
}  // namespace fastgpu
