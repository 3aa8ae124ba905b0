#include "cli/run_progress.h"

#include <gtest/gtest.h>

namespace fastgpu::cli {
namespace {

api::Json job(const char* state, const char* reason = nullptr) {
  api::Json json{{"state", state}};
  if (reason != nullptr) json["waiting"] = {{"reason", reason}, {"detail", "..."}};
  return json;
}

TEST(RunProgress, TheLineSaysWhyTheQueuedJobsWaitMostCommonFirst) {
  const std::vector<api::Json> jobs = {job("COMPLETED"),
                                       job("FAILED"),
                                       job("RUNNING"),
                                       job("QUEUED", "dependency"),
                                       job("QUEUED", "resources"),
                                       job("QUEUED", "resources"),
                                       job("PREEMPTED"),
                                       job("QUEUED", "priority")};
  const BatchProgress progress = count_progress(jobs);
  EXPECT_EQ(progress.queued, 5u);
  EXPECT_EQ(progress_text(progress, 8, 12.4),
            "2/8 done (1 failed), 1 running, 5 queued (2 resources, 1 dependency, 1 priority), "
            "12s");
}

// The line said "14/14 done (13 failed)" where the report said 12 FAILED, 1 CANCELLED.
TEST(RunProgress, EachEndOtherThanCompletedIsCountedInItsOwnWords) {
  const BatchProgress progress = count_progress(
      {job("FAILED"), job("CANCELLED"), job("FAILED"), job("TIMEOUT"), job("COMPLETED")});
  EXPECT_EQ(progress.failed, 4u);
  EXPECT_EQ(progress_text(progress, 5, 40.0),
            "5/5 done (2 failed, 1 cancelled, 1 timed out), 0 running, 0 queued, 40s");
  EXPECT_EQ(progress_text(count_progress({job("CANCELLED")}), 1, 0.0),
            "1/1 done (1 cancelled), 0 running, 0 queued, 0s");
}

TEST(RunProgress, WithoutReasonsTheLineIsTheCountsAlone) {
  const BatchProgress progress = count_progress({job("QUEUED"), job("RUNNING")});
  EXPECT_EQ(progress_text(progress, 2, 0.0), "0/2 done (0 failed), 1 running, 1 queued, 0s");
  // Reasons moving alone are not new progress: a log of plain lines gets no new line.
  BatchProgress other = progress;
  other.waiting["resources"] = 1;
  EXPECT_EQ(other, progress);
}

// On an 80-column terminal the 94-column line wrapped, and each redraw (which clears only
// the last row) left its first row behind.
TEST(RunProgress, TheRedrawnLineFitsTheTerminal) {
  const BatchProgress progress =
      count_progress({job("RUNNING"), job("RUNNING"), job("RUNNING"), job("QUEUED", "array limit"),
                      job("QUEUED", "dependency"), job("QUEUED", "next in line")});
  const std::string full = progress_text(progress, 6, 5.0);
  EXPECT_EQ(full,
            "0/6 done (0 failed), 3 running, 3 queued (1 array limit, 1 dependency, 1 next in "
            "line), 5s");
  EXPECT_EQ(progress_line(progress, 6, 5.0, 0), full);
  EXPECT_EQ(progress_line(progress, 6, 5.0, full.size()), full);
  // Too wide: the reasons go, the counts and the time stay.
  EXPECT_EQ(progress_line(progress, 6, 5.0, 79), "0/6 done (0 failed), 3 running, 3 queued, 5s");
  // Narrower still: cut, marked with '+'.
  const std::string cut = progress_line(progress, 6, 5.0, 20);
  EXPECT_EQ(cut, "0/6 done (0 failed)+");
}

}  // namespace
}  // namespace fastgpu::cli
