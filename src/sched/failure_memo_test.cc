// The failure memo answers as the plain list of the failures it recorded does.
#include "sched/failure_memo.h"

#include <gtest/gtest.h>

#include <vector>

#include "sched/sched_builders.h"

namespace fastgpu::sched {
namespace {

using testing::kGiB;

Demand demand(int gpus, Bytes bytes, double share, bool whole = false) {
  Demand made;
  made.gpus = gpus;
  made.bytes = bytes;
  made.share = share;
  made.whole_memory = whole;
  return made;
}

// The reference: every recorded failure in a list, asked one by one.
bool dominated_by_any(const std::vector<Demand>& failed, const Demand& asked) {
  for (const Demand& one : failed) {
    if (one.whole_memory == asked.whole_memory && one.gpus <= asked.gpus &&
        one.bytes <= asked.bytes && one.share <= asked.share) {
      return true;
    }
  }
  return false;
}

Demand random_demand(testing::RandomStream& stream) {
  static constexpr double kShares[] = {0.1, 0.25, 0.3, 0.5, 0.75, 1.0};
  return demand(stream.pick(1, 9), stream.pick(0, 12) * 2 * kGiB, kShares[stream.pick(0, 5)],
                stream.pick(0, 3) == 0);
}

TEST(FailureMemo, AnswersAsTheListOfRecordedFailures) {
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    testing::RandomStream stream(seed);
    FailureMemo memo;
    std::vector<Demand> recorded;
    for (int round = 0; round < 3; ++round) {
      for (int step = 0; step < 120; ++step) {
        const Demand asked = random_demand(stream);
        ASSERT_EQ(memo.dominated(asked), dominated_by_any(recorded, asked))
            << "seed " << seed << " round " << round << " step " << step;
        if (stream.pick(0, 2) == 0) {
          // The walk adds a demand it just found undominated without asking again.
          if (!memo.dominated(asked) && stream.pick(0, 1) == 0) {
            memo.add_undominated(asked);
          } else {
            memo.add(asked);
          }
          if (recorded.size() < FailureMemo::kMaxEntries) recorded.push_back(asked);
        }
      }
      memo.clear();  // the next call starts empty
      recorded.clear();
    }
  }
}

TEST(FailureMemo, ADemandLargerInEveryDimensionIsDominated) {
  FailureMemo memo;
  memo.add(demand(2, 10 * kGiB, 0.5));
  EXPECT_TRUE(memo.dominated(demand(2, 10 * kGiB, 0.5)));
  EXPECT_TRUE(memo.dominated(demand(4, 20 * kGiB, 1.0)));
  EXPECT_FALSE(memo.dominated(demand(1, 20 * kGiB, 1.0)));        // fewer GPUs
  EXPECT_FALSE(memo.dominated(demand(2, 8 * kGiB, 1.0)));         // fewer bytes
  EXPECT_FALSE(memo.dominated(demand(2, 20 * kGiB, 0.25)));       // a smaller share
  EXPECT_FALSE(memo.dominated(demand(2, 20 * kGiB, 0.5, true)));  // the other memory kind
}

TEST(FailureMemo, RecordsOnlyTheFirstFailures) {
  FailureMemo memo;
  for (std::size_t i = 0; i < FailureMemo::kMaxEntries; ++i) memo.add(demand(8, 80 * kGiB, 1.0));
  memo.add(demand(1, 0, 0.1));  // one too many: not recorded
  EXPECT_FALSE(memo.dominated(demand(1, 0, 0.1)));
  memo.clear();
  memo.add(demand(1, 0, 0.1));
  EXPECT_TRUE(memo.dominated(demand(1, 0, 0.1)));
}

}  // namespace
}  // namespace fastgpu::sched
