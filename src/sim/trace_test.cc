// Trace readers on small inline fixtures: fields, gzip, malformed rows in skip and fatal
// modes with exact line numbers, and the errors a user can cause.
#include "fastgpu/sim/trace.h"

#include <gtest/gtest.h>

#include "sim/sim_test_util.h"

namespace fastgpu::sim {
namespace {

using testing::ScratchDir;

constexpr std::string_view kPhilly =
    "timestamp,duration,num_gpus,gpu_time,cluster\n"
    "2017-09-04 10:30:41,2240194.0,8,17921552.0,7f04ca\n"
    "2017-09-07 03:58:57,3256045.0,1,3256045.0,6214e9\n"
    "2017-08-31 23:59:59,60.0,2,120.0,6214e9\n";

TEST(PhillyTrace, SecondsFromTheEarliestJobSortedByTime) {
  const ScratchDir dir;
  const Result<Trace> trace = read_trace("philly", dir.write("p.csv", kPhilly));
  ASSERT_TRUE(trace.ok()) << trace.status().to_string();
  ASSERT_EQ(trace->jobs.size(), 3U);
  const TraceJob& first = trace->jobs[0];
  EXPECT_EQ(first.line, 4U);
  EXPECT_EQ(first.submit_s, 0);
  EXPECT_EQ(first.duration_s, 60.0);
  EXPECT_EQ(first.gpu_count, 2);
  EXPECT_EQ(first.gpu_milli, 1000);
  EXPECT_EQ(first.user, "6214e9");
  // 2017-08-31 23:59:59 → 2017-09-04 10:30:41 is 3 days, 10:30:42.
  EXPECT_EQ(trace->jobs[1].submit_s, 3 * 86400 + 10 * 3600 + 30 * 60 + 42);
  EXPECT_EQ(trace->jobs[1].user, "7f04ca");
  EXPECT_EQ(trace->report.rows_read, 3U);
  EXPECT_EQ(trace->report.rows_skipped, 0U);
  EXPECT_EQ(trace->format, "philly");
  EXPECT_EQ(trace->name, "philly:p.csv");
}

TEST(PhillyTrace, ReadsGzipLikePlainText) {
  const ScratchDir dir;
  const Result<Trace> plain = read_trace("philly", dir.write("p.csv", kPhilly));
  const Result<Trace> packed = read_trace("philly", dir.write_gz("p.csv.gz", kPhilly));
  ASSERT_TRUE(plain.ok());
  ASSERT_TRUE(packed.ok()) << packed.status().to_string();
  ASSERT_EQ(packed->jobs.size(), plain->jobs.size());
  for (std::size_t i = 0; i < plain->jobs.size(); ++i) {
    EXPECT_EQ(packed->jobs[i].submit_s, plain->jobs[i].submit_s);
    EXPECT_EQ(packed->jobs[i].line, plain->jobs[i].line);
  }
}

constexpr std::string_view kPhillyMalformed =
    "timestamp,duration,num_gpus,gpu_time,cluster\n"
    "2017-09-04 10:30:41,100,8,800,7f04ca\n"
    "2017-09-31 00:00:00,100,1,100,6214e9\n"  // line 3: no 31st of September
    "\n"
    "2017-09-05 00:00:00,abc,1,100,6214e9\n"     // line 5: duration
    "2017-09-05 00:00:00,100,1,100\n"            // line 6: a field short
    "2017-09-06 00:00:00,100,1.5,150,6214e9\n";  // line 7: fractional GPUs

TEST(PhillyTrace, SkipModeCountsMalformedRowsWithLineNumbers) {
  const ScratchDir dir;
  const Result<Trace> trace = read_trace("philly", dir.write_gz("bad.csv.gz", kPhillyMalformed));
  ASSERT_TRUE(trace.ok()) << trace.status().to_string();
  EXPECT_EQ(trace->jobs.size(), 1U);
  const ReadReport& report = trace->report;
  EXPECT_EQ(report.rows_read, 5U);
  EXPECT_EQ(report.rows_skipped, 4U);
  ASSERT_EQ(report.skipped.size(), 4U);
  EXPECT_EQ(report.skipped[0].line, 3U);
  EXPECT_EQ(report.skipped[0].reason,
            "column 'timestamp': value '2017-09-31 00:00:00' is not a date 'YYYY-MM-DD HH:MM:SS'");
  EXPECT_EQ(report.skipped[1].line, 5U);
  EXPECT_EQ(report.skipped[1].reason, "column 'duration': value 'abc' is not a number");
  EXPECT_EQ(report.skipped[2].line, 6U);
  EXPECT_NE(report.skipped[2].reason.find("has 4 fields where 5 are expected"), std::string::npos);
  EXPECT_EQ(report.skipped[3].line, 7U);
  EXPECT_EQ(report.skipped[3].reason, "column 'num_gpus': value '1.5' is not a whole number");
  EXPECT_NE(report.summary().find("5 rows read, 4 skipped (line 3:"), std::string::npos);
}

TEST(PhillyTrace, SkipModeKeepsOnlyTheFirstReasons) {
  const ScratchDir dir;
  ReaderOptions options;
  options.max_reasons_kept = 2;
  const Result<Trace> trace = read_trace("philly", dir.write("bad.csv", kPhillyMalformed), options);
  ASSERT_TRUE(trace.ok());
  EXPECT_EQ(trace->report.rows_skipped, 4U);
  ASSERT_EQ(trace->report.skipped.size(), 2U);
  EXPECT_EQ(trace->report.skipped[1].line, 5U);
  EXPECT_NE(trace->report.summary().find("; ...)"), std::string::npos);
}

TEST(PhillyTrace, FatalModeNamesFileLineColumnAndValue) {
  const ScratchDir dir;
  const std::string path = dir.write("bad.csv", kPhillyMalformed);
  ReaderOptions options;
  options.on_malformed = MalformedRows::kFatal;
  const Result<Trace> trace = read_trace("philly", path, options);
  ASSERT_FALSE(trace.ok());
  EXPECT_EQ(trace.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(trace.status().message(),
            "philly trace '" + path +
                "', line 3: column 'timestamp': value '2017-09-31 00:00:00' is not a date "
                "'YYYY-MM-DD HH:MM:SS'; fix the row, or read with malformed rows skipped");
}

// A row with too few fields is the row's problem, counted, not a column named '(row)'.
TEST(PhillyTrace, ARowWithTooFewFieldsSaysHowManyAreExpected) {
  const ScratchDir dir;
  const std::string path = dir.write(
      "short.csv", "timestamp,duration,num_gpus,gpu_time,cluster\n2017-09-01 00:00:00,60,1\n");
  ReaderOptions options;
  options.on_malformed = MalformedRows::kFatal;
  const Result<Trace> trace = read_trace("philly", path, options);
  ASSERT_FALSE(trace.ok());
  EXPECT_NE(trace.status().message().find("line 2: the row '2017-09-01 00:00:00,60,1' has 3 "
                                          "fields where 5 are expected, one per header column"),
            std::string::npos)
      << trace.status().message();
}

TEST(PhillyTrace, MissingColumnIsAFileError) {
  const ScratchDir dir;
  const Result<Trace> trace =
      read_trace("philly", dir.write("x.csv", "timestamp,duration,gpus,cluster\n"));
  ASSERT_FALSE(trace.ok());
  // The columns the format needs beside those the header has, and both fixes.
  EXPECT_EQ(trace.status().message(),
            "philly trace '" + dir.path("x.csv") +
                "': the header has no column 'num_gpus'; a philly trace needs the columns "
                "timestamp, duration, num_gpus, cluster (the header has timestamp, duration, "
                "gpus, cluster); rename the column, or give the trace's own format "
                "(docs/trace-format.md)");
}

TEST(ReadTrace, UnknownFormatListsTheKnownOnes) {
  const Result<Trace> trace = read_trace("helios", "whatever.csv");
  ASSERT_FALSE(trace.ok());
  EXPECT_EQ(trace.status().message(),
            "unknown trace format 'helios'; use one of: philly, openb, chronus, tiresias, generic");
}

TEST(ReadTrace, MissingFileIsNotFound) {
  const ScratchDir dir;
  const Result<Trace> trace = read_trace("philly", dir.path("absent.csv.gz"));
  ASSERT_FALSE(trace.ok());
  EXPECT_EQ(trace.status().code(), ErrorCode::kNotFound);
  EXPECT_NE(trace.status().message().find("absent.csv.gz"), std::string::npos);
}

TEST(ReadTrace, TruncatedGzipIsAnIoError) {
  const ScratchDir dir;
  std::string big(kPhilly);
  for (int i = 0; i < 2000; ++i) big += "2017-09-07 03:58:57,3256045.0,1,3256045.0,6214e9\n";
  const std::string whole = dir.write_gz("whole.csv.gz", big);
  std::ifstream in(whole, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string cut =
      dir.write("cut.csv.gz", std::string_view(bytes).substr(0, bytes.size() / 2));
  const Result<Trace> trace = read_trace("philly", cut);
  ASSERT_FALSE(trace.ok());
  EXPECT_EQ(trace.status().code(), ErrorCode::kIoError);
  EXPECT_NE(trace.status().message().find("cut.csv.gz"), std::string::npos);
}

TEST(ReadTrace, EmptyFileAsksForAHeader) {
  const ScratchDir dir;
  const Result<Trace> trace = read_trace("tiresias", dir.write("empty.csv", "\n\n"));
  ASSERT_FALSE(trace.ok());
  EXPECT_NE(trace.status().message().find("header row"), std::string::npos);
}

TEST(ReadTraceSpec, SplitsFormatAndPath) {
  const ScratchDir dir;
  const std::string path = dir.write("p.csv", kPhilly);
  const Result<Trace> trace = read_trace_spec("philly:" + path);
  ASSERT_TRUE(trace.ok()) << trace.status().to_string();
  EXPECT_EQ(trace->jobs.size(), 3U);
  EXPECT_FALSE(read_trace_spec(path).ok());  // no format
}

TEST(FilterByUser, KeepsOneVcInOrder) {
  const ScratchDir dir;
  const Result<Trace> trace = read_trace("philly", dir.write("p.csv", kPhilly));
  ASSERT_TRUE(trace.ok());
  const Trace vc = filter_by_user(*trace, "6214e9");
  ASSERT_EQ(vc.jobs.size(), 2U);
  EXPECT_LT(vc.jobs[0].submit_s, vc.jobs[1].submit_s);
}

constexpr std::string_view kOpenb =
    "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,"
    "deletion_time,scheduled_time\n"
    "openb-pod-0001,6000,12288,1,460,,LS,Running,427061,12902960,427061\n"
    "openb-pod-0000,12000,16384,1,1000,V100M16|V100M32,LS,Running,0,12537496,0\n"
    "openb-pod-0002,88000,327680,8,1000,,BE,Failed,427061,500000,427061\n"
    "openb-pod-0003,4000,8192,0,0,,Burstable,Pending,5,,\n"
    "openb-pod-0004,4000,8192,1,1200,,BE,Running,6,7,6\n"
    "openb-pod-0005,4000,8192,1,0,,BE,Running,6,7,6\n";  // line 7: a GPU task with no share

TEST(OpenbTrace, MapsSharesModelsAndResources) {
  const ScratchDir dir;
  const Result<Trace> trace = read_trace("openb", dir.write("pods.csv", kOpenb));
  ASSERT_TRUE(trace.ok()) << trace.status().to_string();
  ASSERT_EQ(trace->jobs.size(), 5U);
  const TraceJob& whole = trace->jobs[0];  // creation_time 0 sorts first
  EXPECT_EQ(whole.id, "openb-pod-0000");
  EXPECT_EQ(whole.gpu_models, (std::vector<std::string>{"V100M16", "V100M32"}));
  EXPECT_FALSE(whole.duration_s);  // no departures in FGD's protocol
  const TraceJob& cpu_only = trace->jobs[1];
  EXPECT_EQ(cpu_only.gpu_count, 0);
  EXPECT_EQ(cpu_only.gpu_demand(), 0);
  EXPECT_EQ(trace->jobs[2].gpu_milli, 1000);  // 1200 capped at one GPU, as FGD does
  const TraceJob& shared = trace->jobs[3];    // ties keep file order
  EXPECT_EQ(shared.id, "openb-pod-0001");
  EXPECT_EQ(shared.gpu_count, 1);
  EXPECT_EQ(shared.gpu_milli, 460);
  EXPECT_DOUBLE_EQ(shared.gpu_demand(), 0.46);
  EXPECT_EQ(shared.cpu_milli, 6000);
  EXPECT_EQ(shared.memory_bytes, 12288ULL << 20);
  EXPECT_EQ(shared.job_class, "LS");
  EXPECT_EQ(shared.line, 2U);
  EXPECT_EQ(trace->jobs[4].gpu_count, 8);
  ASSERT_EQ(trace->report.skipped.size(), 1U);
  EXPECT_EQ(trace->report.skipped[0].line, 7U);
  EXPECT_EQ(trace->report.skipped[0].reason,
            "column 'gpu_milli': value '0' is 0 for a task with a GPU");
}

constexpr std::string_view kChronus =
    "job_id,user,num_gpu,submit_time,iterations,model_name,duration,interval,expect_time_list,"
    "expect_value_list,best_effort,job_type\n"
    "0,vc_ed69ec,1,5601,5530,mobilenet_v2,96,5,159-189-229-289,10-8-5-2,0,soft\n"
    "1,vc_6214e9,1,7505,760,alexnet,106,6,235,10,0,strict\n"
    "10,vc_ed69ec,1,918,6832,vgg16,146,10,918,10,1,best\n"
    "11,vc_ed69ec,1,918,6832,vgg16,146,10,918-20,10,0,soft\n";  // line 5: lists differ

TEST(ChronusTrace, DeadlinesAreSubmitPlusExpectTime) {
  const ScratchDir dir;
  const Result<Trace> trace = read_trace("chronus", dir.write_gz("c.csv.gz", kChronus));
  ASSERT_TRUE(trace.ok()) << trace.status().to_string();
  ASSERT_EQ(trace->jobs.size(), 3U);
  const TraceJob& best = trace->jobs[0];
  EXPECT_EQ(best.id, "10");
  EXPECT_FALSE(best.deadline_s);
  EXPECT_EQ(best.job_class, "best");
  const TraceJob& soft = trace->jobs[1];
  EXPECT_EQ(soft.user, "ed69ec");
  EXPECT_EQ(soft.signature, "mobilenet_v2");
  EXPECT_EQ(soft.deadline_s, 5601 + 159);
  ASSERT_EQ(soft.deadline_steps.size(), 4U);
  EXPECT_EQ(soft.deadline_steps[3].deadline_s, 5601 + 289);
  EXPECT_EQ(soft.deadline_steps[3].value, 2);
  const TraceJob& strict = trace->jobs[2];
  EXPECT_EQ(strict.deadline_s, 7505 + 235);
  EXPECT_EQ(strict.duration_s, 106);
  ASSERT_EQ(trace->report.skipped.size(), 1U);
  EXPECT_EQ(trace->report.skipped[0].line, 5U);
  EXPECT_EQ(trace->report.skipped[0].reason,
            "column 'expect_value_list': value '10' does not have one value per "
            "expect_time_list entry");
}

TEST(TiresiasTrace, ReadsCrlfRowsAndModelSignature) {
  const ScratchDir dir;
  const Result<Trace> trace = read_trace(
      "tiresias", dir.write("t.csv",
                            "job_id,num_gpu,submit_time,iterations,model_name,duration,interval\r\n"
                            "0,1,0,606,vgg19,164,30\r\n"
                            "1,8,30,133,vgg11,147,23\r\n"
                            "2,x,53,157,inception4,127,26\r\n"));
  ASSERT_TRUE(trace.ok()) << trace.status().to_string();
  ASSERT_EQ(trace->jobs.size(), 2U);
  EXPECT_EQ(trace->jobs[1].gpu_count, 8);
  EXPECT_EQ(trace->jobs[1].submit_s, 30);
  EXPECT_EQ(trace->jobs[1].duration_s, 147);
  EXPECT_EQ(trace->jobs[1].signature, "vgg11");
  ASSERT_EQ(trace->report.skipped.size(), 1U);
  EXPECT_EQ(trace->report.skipped[0].line, 4U);
  EXPECT_EQ(trace->report.skipped[0].reason, "column 'num_gpu': value 'x' is not a whole number");
}

}  // namespace
}  // namespace fastgpu::sim
