#include "cli/local_offsets.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <optional>
#include <string>

namespace fastgpu::cli {
namespace {

// Sets TZ for the test's span, and puts the one before back.
class TimeZone {
 public:
  explicit TimeZone(const char* zone) {
    if (const char* was = std::getenv("TZ")) before_ = was;
    ::setenv("TZ", zone, 1);
    ::tzset();
  }
  ~TimeZone() {
    if (before_) {
      ::setenv("TZ", before_->c_str(), 1);
    } else {
      ::unsetenv("TZ");
    }
    ::tzset();
  }
  TimeZone(const TimeZone&) = delete;
  TimeZone& operator=(const TimeZone&) = delete;

 private:
  std::optional<std::string> before_;
};

constexpr std::time_t k2026 = 1767225600;  // 2026-01-01T00:00:00Z
constexpr std::time_t k2027 = 1798761600;  // 2027-01-01T00:00:00Z

store::WallTime at(std::time_t seconds) { return store::WallTime(std::chrono::seconds(seconds)); }

// The days of `report --by day` follow summer time: each change is found to the second
// (Debian's tzdata, which scripts/setup.sh installs).
TEST(LocalUtcOffsets, FindEachChangeToAndFromSummerTimeToTheSecond) {
  const TimeZone berlin("Europe/Berlin");
  const engine::UtcOffsets offsets = local_utc_offsets(k2026, k2027);
  EXPECT_EQ(offsets.initial, 3600);
  ASSERT_EQ(offsets.changes.size(), 2u);
  // 2026-03-29T01:00:00Z and 2026-10-25T01:00:00Z.
  EXPECT_EQ(offsets.changes[0], std::make_pair(at(1774746000), std::int64_t{7200}));
  EXPECT_EQ(offsets.changes[1], std::make_pair(at(1792890000), std::int64_t{3600}));
  EXPECT_EQ(utc_offsets_query(offsets),
            "&utc_offset_s=3600&utc_offset_changes=1774746000000000:7200,1792890000000000:3600");

  const TimeZone new_york("America/New_York");
  const engine::UtcOffsets west = local_utc_offsets(k2026, k2027);
  EXPECT_EQ(west.initial, -18000);
  ASSERT_EQ(west.changes.size(), 2u);
  EXPECT_EQ(west.changes[0].second, -14400);
}

TEST(LocalUtcOffsets, AZoneWithoutSummerTimeHasOneOffset) {
  const TimeZone tokyo("Asia/Tokyo");
  const engine::UtcOffsets offsets = local_utc_offsets(k2026, k2027);
  EXPECT_EQ(offsets.initial, 9 * 3600);
  EXPECT_TRUE(offsets.changes.empty());
  EXPECT_EQ(utc_offsets_query(offsets), "&utc_offset_s=32400");
}

}  // namespace
}  // namespace fastgpu::cli
