// The generic trace format (docs/trace-format.md) in its CSV and JSON Lines forms.
#include <gtest/gtest.h>

#include "fastgpu/sim/trace.h"
#include "sim/sim_test_util.h"

namespace fastgpu::sim {
namespace {

using testing::ScratchDir;

constexpr std::string_view kGenericCsv =
    "# exported by fastgpu history\n"
    "id,submit,duration,gpus,gpu_mem,user,priority,deadline,signature,gpu_model\n"
    "train-a,120,2h30m,2,20G,alice,5,20000,resnet50,A100|H100\n"
    "eval-b,60,90,0.25,,bob,,,,\n"
    ",0,,0,,carol,,,,\n";

TEST(GenericTrace, CsvMapsEveryField) {
  const ScratchDir dir;
  const Result<Trace> trace = read_trace("generic", dir.write("g.csv", kGenericCsv));
  ASSERT_TRUE(trace.ok()) << trace.status().to_string();
  ASSERT_EQ(trace->jobs.size(), 3U);
  const TraceJob& unnamed = trace->jobs[0];
  EXPECT_EQ(unnamed.id, "2");  // row index when the id is empty
  EXPECT_EQ(unnamed.gpu_count, 0);
  EXPECT_FALSE(unnamed.duration_s);
  const TraceJob& share = trace->jobs[1];
  EXPECT_EQ(share.gpu_count, 1);
  EXPECT_EQ(share.gpu_milli, 250);
  EXPECT_EQ(share.duration_s, 90);
  EXPECT_FALSE(share.priority);
  const TraceJob& full = trace->jobs[2];
  EXPECT_EQ(full.id, "train-a");
  EXPECT_EQ(full.line, 3U);
  EXPECT_EQ(full.submit_s, 120);
  EXPECT_EQ(full.duration_s, 9000);
  EXPECT_EQ(full.gpu_count, 2);
  EXPECT_EQ(full.gpu_mem_bytes, 20ULL << 30);
  EXPECT_EQ(full.user, "alice");
  EXPECT_EQ(full.priority, 5);
  EXPECT_EQ(full.deadline_s, 20000);
  EXPECT_EQ(full.signature, "resnet50");
  EXPECT_EQ(full.gpu_models, (std::vector<std::string>{"A100", "H100"}));
  EXPECT_TRUE(trace->report.warnings.empty());
}

TEST(GenericTrace, JsonLinesMatchesCsv) {
  const ScratchDir dir;
  const std::string jsonl =
      "{\"id\": \"train-a\", \"submit\": 120, \"duration\": \"2h30m\", \"gpus\": 2, "
      "\"gpu_mem\": \"20G\", \"user\": \"alice\", \"priority\": 5, \"deadline\": 20000, "
      "\"signature\": \"resnet50\", \"gpu_model\": \"A100|H100\"}\n"
      "{\"id\": \"eval-b\", \"submit\": 60, \"duration\": 90, \"gpus\": 0.25, \"user\": \"bob\", "
      "\"note\": \"x\", \"prority\": 3}\n";
  const Result<Trace> trace = read_trace("generic", dir.write_gz("g.jsonl.gz", jsonl));
  ASSERT_TRUE(trace.ok()) << trace.status().to_string();
  ASSERT_EQ(trace->jobs.size(), 2U);
  const TraceJob& full = trace->jobs[1];
  EXPECT_EQ(full.duration_s, 9000);
  EXPECT_EQ(full.gpu_mem_bytes, 20ULL << 30);
  EXPECT_EQ(full.priority, 5);
  EXPECT_EQ(full.deadline_s, 20000);
  EXPECT_EQ(full.gpu_models.size(), 2U);
  EXPECT_EQ(trace->jobs[0].gpu_milli, 250);
  // A typo of a known field is named with the field it looks like.
  EXPECT_EQ(trace->report.warnings,
            (std::vector<std::string>{"ignored unknown field 'note'",
                                      "ignored unknown field 'prority' (did you mean priority?)"}));
}

// JSON writers give very short or very long numbers in exponent form (nlohmann writes a
// 10 µs run as 1e-05); `history --trace` output of a trivial job must replay.
TEST(GenericTrace, JsonNumbersInExponentFormAreRead) {
  const ScratchDir dir;
  const Result<Trace> trace = read_trace(
      "generic", dir.write("e.jsonl",
                           "{\"id\": \"a\", \"submit\": 0.0, \"duration\": 1e-05, \"gpus\": 0}\n"
                           "{\"id\": \"b\", \"submit\": 2.5e3, \"duration\": 1.5E+2, "
                           "\"gpus\": 0.5}\n"));
  ASSERT_TRUE(trace.ok()) << trace.status().to_string();
  EXPECT_EQ(trace->report.rows_skipped, 0U);
  ASSERT_EQ(trace->jobs.size(), 2U);
  EXPECT_DOUBLE_EQ(*trace->jobs[0].duration_s, 1e-05);
  EXPECT_DOUBLE_EQ(trace->jobs[1].submit_s, 2500);
  EXPECT_DOUBLE_EQ(*trace->jobs[1].duration_s, 150);
}

TEST(GenericTrace, CalendarTimesBecomeSecondsFromTheFirstSubmit) {
  const ScratchDir dir;
  const Result<Trace> trace =
      read_trace("generic", dir.write("g.csv",
                                      "id,submit,gpus,deadline\n"
                                      "a,2026-01-01 10:00:00,1,2026-01-01 12:00:00\n"
                                      "b,2026-01-01T09:00:00Z,1,\n"));
  ASSERT_TRUE(trace.ok()) << trace.status().to_string();
  ASSERT_EQ(trace->jobs.size(), 2U);
  EXPECT_EQ(trace->jobs[0].id, "b");
  EXPECT_EQ(trace->jobs[0].submit_s, 0);
  EXPECT_EQ(trace->jobs[1].submit_s, 3600);
  EXPECT_EQ(trace->jobs[1].deadline_s, 3 * 3600);
}

TEST(GenericTrace, MalformedRowsInBothFormsCarryLineNumbers) {
  const ScratchDir dir;
  const Result<Trace> csv = read_trace(
      "generic", dir.write("g.csv",
                           "submit,gpus,duration,gpu_mem,color\n"
                           "0,1.5,,,red\n"                  // line 2: fractional above one GPU
                           "1,1,soon,,red\n"                // line 3: duration
                           "2026-01-01 00:00:00,1,,,red\n"  // line 4: mixes dates and seconds
                           "3,1,,20X,red\n"                 // line 5: memory unit
                           "4,1,60,16G,red\n"));
  ASSERT_TRUE(csv.ok()) << csv.status().to_string();
  ASSERT_EQ(csv->jobs.size(), 1U);
  EXPECT_EQ(csv->report.warnings, (std::vector<std::string>{"ignored unknown column 'color'"}));
  const auto& skipped = csv->report.skipped;
  ASSERT_EQ(skipped.size(), 4U);
  EXPECT_EQ(skipped[0].line, 2U);
  EXPECT_EQ(skipped[0].reason,
            "column 'gpus': value '1.5' is fractional above 1; use a whole count or a share < 1");
  EXPECT_EQ(skipped[1].line, 3U);
  EXPECT_NE(skipped[1].reason.find("column 'duration': value 'soon'"), std::string::npos);
  EXPECT_EQ(skipped[2].line, 4U);
  EXPECT_NE(skipped[2].reason.find("mixes dates and seconds"), std::string::npos);
  EXPECT_EQ(skipped[3].line, 5U);
  EXPECT_NE(skipped[3].reason.find("column 'gpu_mem': value '20X'"), std::string::npos);

  const Result<Trace> jsonl =
      read_trace("generic", dir.write("g.jsonl",
                                      "{\"submit\": 0, \"gpus\": 1}\n"
                                      "\n"
                                      "{\"submit\": 1, \"gpus\": 1\n"        // line 3: not JSON
                                      "{\"gpus\": 1}\n"                      // line 4: no submit
                                      "{\"submit\": 2, \"gpus\": [1]}\n"));  // line 5: array
  ASSERT_TRUE(jsonl.ok()) << jsonl.status().to_string();
  EXPECT_EQ(jsonl->jobs.size(), 1U);
  ASSERT_EQ(jsonl->report.skipped.size(), 3U);
  EXPECT_EQ(jsonl->report.skipped[0].line, 3U);
  EXPECT_NE(jsonl->report.skipped[0].reason.find("is not a JSON object"), std::string::npos);
  EXPECT_EQ(jsonl->report.skipped[1].line, 4U);
  EXPECT_EQ(jsonl->report.skipped[1].reason,
            "column 'submit': value '' is missing; it is required");
  EXPECT_EQ(jsonl->report.skipped[2].line, 5U);
  EXPECT_EQ(jsonl->report.skipped[2].reason,
            "column 'gpus': value '[1]' must be a string or a number");
}

// A time more than 1e11 s from 0 is a row's mistake (milliseconds since the epoch read as
// seconds), not a job thousands of years away; epoch seconds are read as they are.
TEST(GenericTrace, TimesThousandsOfYearsAwayAreMalformed) {
  const ScratchDir dir;
  const Result<Trace> trace = read_trace(
      "generic", dir.write("g.csv",
                           "id,submit,duration,gpus,deadline\n"
                           "a,1700000000,10,1,\n"
                           "b,1700000000000,10,1,\n"        // line 3: epoch milliseconds
                           "c,1700000001,10,1,-1e300\n"));  // line 4: a deadline as absurd
  ASSERT_TRUE(trace.ok()) << trace.status().to_string();
  ASSERT_EQ(trace->jobs.size(), 1U);
  EXPECT_EQ(trace->jobs[0].submit_s, 1700000000);
  ASSERT_EQ(trace->report.skipped.size(), 2U);
  EXPECT_EQ(trace->report.skipped[0].line, 3U);
  EXPECT_EQ(trace->report.skipped[0].reason,
            "column 'submit': value '1700000000000' is more than 1e11 s (about 3,170 years) from "
            "0; write seconds (milliseconds or microseconds since the epoch would read as that)");
  EXPECT_EQ(trace->report.skipped[1].line, 4U);
  EXPECT_NE(trace->report.skipped[1].reason.find("column 'deadline': value '-1e300' is more"),
            std::string::npos);
}

TEST(GenericTrace, FatalModeStopsAtTheFirstBadJsonLine) {
  const ScratchDir dir;
  const std::string path =
      dir.write("g.jsonl", "{\"submit\": 0, \"gpus\": 1}\n{\"submit\": \"x\", \"gpus\": 1}\n");
  ReaderOptions options;
  options.on_malformed = MalformedRows::kFatal;
  const Result<Trace> trace = read_trace("generic", path, options);
  ASSERT_FALSE(trace.ok());
  EXPECT_EQ(trace.status().message(),
            "generic trace '" + path +
                "', line 2: column 'submit': value 'x' is neither seconds nor a date "
                "'YYYY-MM-DD HH:MM:SS'; fix the row, or read with malformed rows skipped");
}

}  // namespace
}  // namespace fastgpu::sim
