#include "fastgpu/sched/history.h"

#include <gtest/gtest.h>

namespace fastgpu::sched {
namespace {

constexpr Bytes kMiB = Bytes{1} << 20;

TEST(History, AutoBytesIsAHighPercentilePlusMargin) {
  SignatureHistory history;
  for (Bytes i = 1; i <= 20; ++i) history.peak_bytes.push_back(i * 100 * kMiB);
  // Nearest rank of p95 over 20 runs is the 19th: 1900 MiB, + 10% = 2090 MiB.
  EXPECT_EQ(estimate_auto_bytes(history, 0.95, 0.10), 2090 * kMiB);
  EXPECT_EQ(estimate_auto_bytes(history, 1.0, 0.0), 2000 * kMiB);
}

TEST(History, AutoBytesRoundsUpToWholeMiB) {
  SignatureHistory history;
  history.peak_bytes = {1000};
  EXPECT_EQ(estimate_auto_bytes(history, 0.95, 0.10), kMiB);
}

TEST(History, NothingObservedMeansNoEstimate) {
  const SignatureHistory empty;
  EXPECT_FALSE(estimate_auto_bytes(empty, 0.95, 0.1).has_value());
  EXPECT_FALSE(estimate_run_seconds(empty).has_value());
}

TEST(History, RunSecondsIsTheMedian) {
  SignatureHistory history;
  history.run_seconds = {50, 10, 30};
  EXPECT_DOUBLE_EQ(*estimate_run_seconds(history), 30);
  history.run_seconds.push_back(40);
  EXPECT_DOUBLE_EQ(*estimate_run_seconds(history), 35);
}

TEST(History, CacheAnswersPerSignature) {
  std::map<std::string, SignatureHistory> all;
  all["a"].peak_bytes = {100 * kMiB};
  const EstimateCache cache(all, 0.95, 0.0);
  EXPECT_EQ(cache.auto_bytes("a"), 100 * kMiB);
  EXPECT_FALSE(cache.auto_bytes("b").has_value());
}

}  // namespace
}  // namespace fastgpu::sched
