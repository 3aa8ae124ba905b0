#include "fastgpu/sched/history.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

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

// The estimates select their run instead of sorting the history: on runs in any order,
// of odd and even counts, with repeats, they answer as the sorted history reads.
TEST(History, EstimatesReadTheSortedHistoryWhateverTheOrder) {
  std::mt19937_64 random(17);
  for (std::size_t size = 1; size <= 120; ++size) {
    SignatureHistory history;
    for (std::size_t i = 0; i < size; ++i) {
      history.peak_bytes.push_back(static_cast<Bytes>(random() % 40 + 1) * 256 * kMiB);
      history.run_seconds.push_back(static_cast<double>(random() % 50) * 30.0 + 0.5);
    }
    std::vector<Bytes> peaks = history.peak_bytes;
    std::vector<double> runs = history.run_seconds;
    std::sort(peaks.begin(), peaks.end());
    std::sort(runs.begin(), runs.end());
    const double median =
        size % 2 == 1 ? runs[size / 2] : (runs[size / 2 - 1] + runs[size / 2]) / 2;
    EXPECT_EQ(*estimate_run_seconds(history), median) << size << " runs";
    const auto p90 = static_cast<std::size_t>(std::ceil(0.9 * static_cast<double>(size))) - 1;
    EXPECT_EQ(*estimate_auto_bytes(history, 0.9, 0.0), peaks[p90]) << size << " runs";
    EXPECT_EQ(*estimate_auto_bytes(history, 1.0, 0.0), peaks.back()) << size << " runs";
    EXPECT_EQ(*estimate_auto_bytes(history, 0.0, 0.0), peaks.front()) << size << " runs";
  }
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
