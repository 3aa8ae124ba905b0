// The "stopping" object in words, as `show` and `cancel` print it.
#include "cli/job_stopping.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

namespace fastgpu::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr std::int64_t kSecond = 1'000'000;
constexpr std::int64_t kSigterm = 1'764'600'000 * kSecond;

api::Json stopping(const std::string& cause) {
  return api::Json{{"cause", cause},
                   {"by_uid", nullptr},
                   {"detail", nullptr},
                   {"since_us", kSigterm},
                   {"kill_at_us", kSigterm + 10 * kSecond},
                   {"asked_us", nullptr},
                   {"sigterm_for", nullptr}};
}

// The local clock's "HH:MM:SS" of a moment `seconds` after the SIGTERM, as the text has it.
std::string at(int seconds) {
  const auto moment = static_cast<std::time_t>(kSigterm / kSecond + seconds);
  std::tm parts{};
  localtime_r(&moment, &parts);
  char text[16] = {};
  std::strftime(text, sizeof(text), "%H:%M:%S", &parts);
  return text;
}

TEST(JobStopping, ARequestThatSentSigtermIsToldAtThatMoment) {
  const std::string text = stopping_details(stopping("preempted"), kSigterm, ::geteuid());
  EXPECT_THAT(text, HasSubstr("preempted by the scheduler at " + at(0)));
  EXPECT_THAT(text, HasSubstr("SIGKILL at " + at(10) + " if still running"));
  EXPECT_THAT(text, Not(HasSubstr("earlier")));
}

// A cancel 4 s after a preemption: told at its own moment, with the SIGTERM's after it.
// It read "cancelled by you at" the preemption's moment.
TEST(JobStopping, ACancelAfterAPreemptionIsToldAtItsOwnMomentAndTheSigtermsAfterIt) {
  api::Json later = stopping("cancelled");
  later["by_uid"] = ::geteuid();
  later["asked_us"] = kSigterm + 4 * kSecond;
  later["sigterm_for"] = api::Json{{"cause", "preempted"}, {"by_uid", nullptr}};
  EXPECT_EQ(stopping_details(later, kSigterm + 5 * kSecond, ::geteuid()),
            "cancelled by you at " + at(4) + "; SIGTERM went out earlier, at " + at(0) +
                ", when it was preempted by the scheduler; SIGKILL at " + at(10) +
                " if still running");
}

}  // namespace
}  // namespace fastgpu::cli
