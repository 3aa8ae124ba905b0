#include "fastgpu/api/json_text.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fastgpu/api/job_json.h"

namespace fastgpu::api {
namespace {

void expect_indented_as_dump(const Json& value) {
  const Result<std::string> indented = indent_compact_json(value.dump());
  ASSERT_TRUE(indented.ok()) << indented.status().to_string();
  EXPECT_EQ(*indented, value.dump(2)) << value.dump();
}

TEST(IndentCompactJson, LaysOutScalarsAsDumpDoes) {
  for (const Json& value : std::vector<Json>{nullptr, true, false, 0, -7, 18446744073709551615ull,
                                             0.25, 1.0, 1e-7, 3600.0, -2.5e300, "text", ""}) {
    expect_indented_as_dump(value);
  }
}

TEST(IndentCompactJson, LaysOutNestedAndEmptyContainersAsDumpDoes) {
  expect_indented_as_dump(Json::object());
  expect_indented_as_dump(Json::array());
  expect_indented_as_dump(Json::parse(R"({"a": {}, "b": [], "c": [[], [{}], {"d": [1, 2, [3]]}],
                                          "e": {"f": {"g": null}}, "h": [true, false]})"));
}

TEST(IndentCompactJson, CopiesStringsWithTheirEscapesAndBrackets) {
  expect_indented_as_dump(Json{{"quote\"key", "a \"b\" \\ c"},
                               {"brackets", "{[,:]} \\\""},
                               {"control", std::string("tab\there\nnew\x01line")},
                               {"utf8", "caf\xc3\xa9 \xe2\x82\xac"},
                               {"ends in backslash", "\\"}});
}

TEST(IndentCompactJson, LaysOutAJobListingAsDumpDoes) {
  store::JobRecord job;
  job.id = JobId(12);
  job.spec.name = "sweep";
  job.spec.argv = {"python", "train.py", "--lr", "0.1"};
  job.spec.working_dir = "/home/ana";
  job.spec.environment = {"HOME=/home/ana", "PS1=\\u@\\h:\\w\\$ "};
  job.spec.array = store::ArrayMember{12, 3, 4};
  job.spec.util_share = 0.25;
  job.placed_gpus = {0, 3};
  JobListingText listing(JobFields::kAll);
  listing.add(job);
  listing.add(job);
  const std::string text = std::move(listing).finish();
  const Result<std::string> indented = indent_compact_json(text);
  ASSERT_TRUE(indented.ok()) << indented.status().to_string();
  EXPECT_EQ(*indented, Json::parse(text).dump(2));
}

TEST(IndentCompactJson, RefusesTextThatDoesNotClose) {
  for (const char* text :
       {R"({"a":[1,2})", R"({"a":"b)", R"([1,2)", "]", R"({"a": 1})", R"({"a":"b\"})"}) {
    const Result<std::string> indented = indent_compact_json(text);
    ASSERT_FALSE(indented.ok()) << text;
    EXPECT_EQ(indented.status().code(), ErrorCode::kInvalidArgument) << text;
  }
}

}  // namespace
}  // namespace fastgpu::api
