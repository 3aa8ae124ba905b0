#include "fastgpu/api/metrics.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace fastgpu::api {
namespace {

using std::chrono::seconds;

GpuDevice read_gpu() {
  GpuDevice gpu;
  gpu.index = 0;
  gpu.name = "NVIDIA H100 80GB HBM3";
  gpu.uuid = "GPU-0a1b";
  gpu.pci_bus_id = "00000000:1B:00.0";
  gpu.memory_total_bytes = 80ULL << 30;
  gpu.memory_used_bytes = 3ULL << 30;
  gpu.memory_free_bytes = 77ULL << 30;
  gpu.gpu_utilization_percent = 42;
  gpu.power_watts = 312.5;
  gpu.energy_millijoules = 123456789;
  gpu.temperature_celsius = 61;
  gpu.processes = std::vector<GpuProcess>{{100, 1ULL << 30}, {200, std::nullopt}};
  return gpu;
}

// A GPU whose power and energy the driver could not read, and that fell off the bus.
GpuDevice unread_gpu() {
  GpuDevice gpu;
  gpu.index = 1;
  gpu.memory_used_bytes = 0;
  gpu.health.healthy = false;
  gpu.health.reasons = {"GPU is lost (NVML_ERROR_GPU_IS_LOST)"};
  gpu.unreadable_fields = {{"power_watts", "not supported"}};
  return gpu;
}

store::JobRecord running_job() {
  store::JobRecord job;
  job.id = JobId{7};
  job.state = store::JobState::kRunning;
  job.spec.name = "train \"big\"\nv2\\x";
  job.spec.user = "ada";
  job.spec.submit_time = store::WallTime(seconds(1000));
  job.start_time = store::WallTime(seconds(1060));
  job.placed_gpus = {0, 1};
  job.placed_bytes_per_gpu = 20LL << 30;
  return job;
}

MetricsInput input() {
  MetricsInput in;
  in.reading.source = "nvml";
  in.reading.devices = {read_gpu(), unread_gpu()};
  in.hostname = "box";
  in.jobs_by_state = {{store::JobState::kQueued, 5}, {store::JobState::kRunning, 1}};
  in.entries_by_state = {{store::JobState::kQueued, 9}, {store::JobState::kFailed, 3}};
  in.running = {running_job()};
  in.now = store::WallTime(seconds(1160));
  in.uptime_s = 30;
  return in;
}

bool has_line(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

TEST(PrometheusMetrics, GpusAreNamedAsDcgmExporterNamesThem) {
  const std::string text = prometheus_text(metric_families(input()));
  const std::string labels =
      R"({gpu="0",device="nvidia0",UUID="GPU-0a1b",model_name="NVIDIA H100 80GB HBM3",)"
      R"(pci_bus_id="00000000:1B:00.0",Hostname="box"})";
  EXPECT_TRUE(has_line(text, "DCGM_FI_DEV_GPU_UTIL" + labels + " 42")) << text;
  EXPECT_TRUE(has_line(text, "DCGM_FI_DEV_FB_USED" + labels + " 3072")) << text;  // MiB
  EXPECT_TRUE(has_line(text, "DCGM_FI_DEV_FB_FREE" + labels + " 78848")) << text;
  EXPECT_TRUE(has_line(text, "DCGM_FI_DEV_POWER_USAGE" + labels + " 312.5")) << text;
  EXPECT_TRUE(has_line(text, "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION" + labels + " 123456789"))
      << text;
  EXPECT_TRUE(has_line(text, "DCGM_FI_DEV_GPU_TEMP" + labels + " 61")) << text;
  EXPECT_TRUE(has_line(text, "fastgpu_gpu_processes" + labels + " 2")) << text;
  EXPECT_TRUE(has_line(text, "fastgpu_gpu_healthy" + labels + " 1")) << text;
  EXPECT_TRUE(has_line(text, "# TYPE DCGM_FI_DEV_GPU_UTIL gauge")) << text;
}

TEST(PrometheusMetrics, AFieldThatCouldNotBeReadHasNoSampleNotZero) {
  const std::string text = prometheus_text(metric_families(input()));
  const std::string gpu1 = R"({gpu="1",device="nvidia1",Hostname="box"})";
  EXPECT_TRUE(has_line(text, "DCGM_FI_DEV_FB_USED" + gpu1 + " 0")) << text;  // read: 0 used
  EXPECT_EQ(text.find("DCGM_FI_DEV_POWER_USAGE" + gpu1), std::string::npos) << text;
  EXPECT_EQ(text.find("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION" + gpu1), std::string::npos) << text;
  EXPECT_EQ(text.find("fastgpu_gpu_processes" + gpu1), std::string::npos) << text;
  EXPECT_TRUE(has_line(text, "fastgpu_gpu_healthy" + gpu1 + " 0")) << text;
  // No GPU reads its memory clock: the family is left out, HELP and TYPE too.
  EXPECT_EQ(text.find("DCGM_FI_DEV_MEM_CLOCK"), std::string::npos) << text;
}

TEST(PrometheusMetrics, EachFamilyHasOneHelpAndOneTypeBeforeItsSamples) {
  const std::string text = prometheus_text(metric_families(input()));
  const std::size_t help = text.find("# HELP DCGM_FI_DEV_FB_USED ");
  const std::size_t type = text.find("# TYPE DCGM_FI_DEV_FB_USED gauge");
  const std::size_t first = text.find("\nDCGM_FI_DEV_FB_USED{");
  ASSERT_NE(help, std::string::npos);
  EXPECT_EQ(text.find("# HELP DCGM_FI_DEV_FB_USED ", help + 1), std::string::npos);
  EXPECT_LT(help, type);
  EXPECT_LT(type, first);
  // Both GPUs' samples follow, together.
  const std::size_t second = text.find("\nDCGM_FI_DEV_FB_USED{gpu=\"1\"");
  EXPECT_EQ(text.find('#', first), text.find('#', second)) << text;
}

TEST(PrometheusMetrics, RunningJobsAndTheQueueAreCounted) {
  const std::string text = prometheus_text(metric_families(input()));
  // The name's quote, newline and backslash escaped as the format asks.
  const std::string job = R"({job="7",name="train \"big\"\nv2\\x",user="ada"})";
  EXPECT_TRUE(has_line(text, "fastgpu_job_gpus" + job + " 2")) << text;
  EXPECT_TRUE(has_line(text, "fastgpu_job_run_seconds" + job + " 100")) << text;
  EXPECT_TRUE(has_line(text, "fastgpu_job_wait_seconds" + job + " 60")) << text;
  EXPECT_TRUE(has_line(text, "fastgpu_job_gpu_seconds" + job + " 200")) << text;
  // No limit: no sample. With one, its seconds, beside the run's.
  EXPECT_EQ(text.find("fastgpu_job_time_limit_seconds"), std::string::npos) << text;
  MetricsInput limited = input();
  limited.running.front().spec.time_limit_s = 7200;
  EXPECT_TRUE(has_line(prometheus_text(metric_families(limited)),
                       "fastgpu_job_time_limit_seconds" + job + " 7200"));
  EXPECT_TRUE(has_line(text, "fastgpu_job_gpu_memory_declared_bytes" + job + " 21474836480"))
      << text;
  // Preempted and started again: its earlier runs' 50 GPU-seconds count too.
  MetricsInput restarted = input();
  restarted.running.front().accounting.gpu_seconds = 50.0;
  EXPECT_TRUE(has_line(prometheus_text(metric_families(restarted)),
                       "fastgpu_job_gpu_seconds" + job + " 250"));
  // No peak measured yet: no sample.
  EXPECT_EQ(text.find("fastgpu_job_gpu_memory_peak_bytes"), std::string::npos) << text;
  EXPECT_TRUE(has_line(text, R"(fastgpu_jobs{state="QUEUED"} 5)")) << text;
  EXPECT_TRUE(has_line(text, R"(fastgpu_jobs{state="TIMEOUT"} 0)")) << text;
  EXPECT_TRUE(has_line(text, "fastgpu_jobs_held 0")) << text;
  MetricsInput holding = input();
  holding.held_jobs = 2;
  EXPECT_TRUE(has_line(prometheus_text(metric_families(holding)), "fastgpu_jobs_held 2"));
  // The counter of entries, every state present (0 where none entered).
  EXPECT_TRUE(has_line(text, R"(fastgpu_jobs_entered_total{state="FAILED"} 3)")) << text;
  EXPECT_TRUE(has_line(text, R"(fastgpu_jobs_entered_total{state="TIMEOUT"} 0)")) << text;
  EXPECT_NE(text.find("# TYPE fastgpu_jobs_entered_total counter"), std::string::npos) << text;
  EXPECT_TRUE(has_line(text, "fastgpu_gpus_simulated 0")) << text;
  EXPECT_TRUE(has_line(text, "fastgpu_daemon_uptime_seconds 30")) << text;
}

TEST(PrometheusMetrics, WhatARunningJobUsedSoFarComesFromTheEngine) {
  MetricsInput in = input();
  in.running.front().run_peak_gpu_mem = 4LL << 30;  // the store's, from the last raise
  engine::RunningUsage used;
  used.peak_gpu_mem = 6LL << 30;  // the engine's, newer
  used.mean_util_percent = 87.5;
  used.energy_joules = 1234.5;
  in.usage[JobId{7}] = used;
  const std::string text = prometheus_text(metric_families(in));
  const std::string job = R"({job="7",name="train \"big\"\nv2\\x",user="ada"})";
  EXPECT_TRUE(has_line(text, "fastgpu_job_gpu_memory_peak_bytes" + job + " 6442450944")) << text;
  EXPECT_TRUE(has_line(text, "fastgpu_job_gpu_utilization_percent" + job + " 87.5")) << text;
  EXPECT_TRUE(has_line(text, "fastgpu_job_energy_joules" + job + " 1234.5")) << text;
  // A job the engine does not meter: the peak the store kept.
  in.usage.clear();
  const std::string adopted = prometheus_text(metric_families(in));
  EXPECT_TRUE(has_line(adopted, "fastgpu_job_gpu_memory_peak_bytes" + job + " 4294967296"))
      << adopted;
  EXPECT_EQ(adopted.find("fastgpu_job_energy_joules"), std::string::npos) << adopted;
}

TEST(PrometheusMetrics, ALabelValueThatIsNotUtf8IsMadeValid) {
  MetricsInput in = input();
  in.running.front().spec.name = std::string("a\xff") + "b\xc3(\xe2\x82\xac";
  const std::string text = prometheus_text(metric_families(in));
  EXPECT_NE(text.find("name=\"a\xEF\xBF\xBD"
                      "b\xEF\xBF\xBD(\xe2\x82\xac\""),
            std::string::npos)
      << text;
}

TEST(PrometheusMetrics, TheJsonFormHasTheSameSamples) {
  const Json json = metrics_json(metric_families(input()));
  ASSERT_TRUE(json.is_array());
  const Json* used = nullptr;
  for (const Json& family : json) {
    if (family["name"] == "DCGM_FI_DEV_FB_USED") used = &family;
  }
  ASSERT_NE(used, nullptr) << json.dump();
  EXPECT_EQ((*used)["type"], "gauge");
  ASSERT_EQ((*used)["samples"].size(), 2u);
  EXPECT_EQ((*used)["samples"][0]["labels"]["UUID"], "GPU-0a1b");
  EXPECT_EQ((*used)["samples"][0]["value"], 3072.0);
}

}  // namespace
}  // namespace fastgpu::api
