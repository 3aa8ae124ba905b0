// A job's energy through the whole engine, read by the real NVML probe from the fake NVML
// library (tests/fake_nvml): the intervals a job starts and ends in are prorated, and a job
// on a GPU whose energy counter cannot be read has a lower bound, not a sum that looks
// exact. The fake answers each probe read with the next value of its energy_mj list: the
// engine reads once when it opens and once at every tick.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/engine_test_util.h"
#include "fastgpu/engine/engine.h"
#include "fastgpu/engine/report.h"
#include "fastgpu/gpu/nvml_probe.h"
#include "fastgpu_test_paths.h"

namespace fastgpu::engine {
namespace {

using nlohmann::json;
using testing::FakeLauncher;
using testing::ManualClock;
using testing::TempDir;

constexpr unsigned long long kGiB = 1ULL << 30;

json fake_gpu(int index, json energy_mj) {
  json gpu = {{"name", "NVIDIA H100 80GB HBM3"},
              {"uuid", "GPU-0000000" + std::to_string(index) + "-aaaa-bbbb-cccc-dddddddddddd"},
              {"pci_bus_id", "00000000:1" + std::to_string(index) + ":00.0"},
              {"memory_total", 80 * kGiB},
              {"memory_reserved", 1 * kGiB},
              {"memory_used", 0},
              {"memory_free", 79 * kGiB},
              {"utilization_gpu", 50},
              {"temperature_c", 40},
              {"processes", json::array()}};
  if (energy_mj.is_null()) {
    gpu["errors"] = {{"nvmlDeviceGetTotalEnergyConsumption", "NOT_SUPPORTED"}};
  } else {
    gpu["energy_mj"] = std::move(energy_mj);
  }
  return gpu;
}

// An engine over the NVML probe on the fake library with these GPUs, samples every 10 s.
struct NvmlSeams {
  NvmlSeams(ManualClock& clock, const TempDir& dir, json gpus) : launcher(clock) {
    const std::string state = (dir.path() / "nvml.json").string();
    std::ofstream(state) << json{{"driver_version", "580.65.06"}, {"gpus", std::move(gpus)}};
    ::setenv("FASTGPU_FAKE_NVML_STATE", state.c_str(), 1);
    NvmlProbeOptions probe_options;
    probe_options.library_path = FASTGPU_FAKE_NVML_PATH;
    auto opened = open_nvml_probe(probe_options);
    if (!opened.ok()) throw std::runtime_error(opened.status().to_string());
    probe = std::move(opened).value();
    auto opened_store = store::open_sqlite_store(":memory:");
    if (!opened_store.ok()) throw std::runtime_error(opened_store.status().to_string());
    store = std::move(opened_store).value();
    options.probe = probe.get();
    options.launcher = &launcher;
    options.store = store.get();
    options.clock = &clock;
    options.state_dir = dir.path();
    options.sample_interval_s = 10.0;
  }
  ~NvmlSeams() { ::unsetenv("FASTGPU_FAKE_NVML_STATE"); }

  FakeLauncher launcher;
  std::unique_ptr<GpuProbe> probe;
  std::unique_ptr<store::StateStore> store;
  EngineOptions options;
};

store::JobSpec job_on(int gpus) {
  store::JobSpec spec;
  spec.name = "short";
  spec.argv = {"/bin/true"};
  spec.working_dir = "/tmp";
  spec.gpus = gpus;
  spec.gpu_mem = 10 * kGiB;
  spec.uid = 1000;
  spec.user = "ada";
  return spec;
}

// Reads (joules): open 0; tick at 0 s 1000 (sampled); at 4 s 1240 (the job starts, no
// sample); at 10 s 1600 (sampled); at 13 s 1750 (the job ended at 13 s; read at its end).
// By hand: 0..10 s read 600 J, 60 J/s, the job's part 4..10 s is 360 J; 10..13 s read
// 150 J, all the job's: 510 J, an estimate (its edges are prorated). Before: 0 J counted
// (no sample at all between two it ran through), shown as "n/a".
// Returns the job's record after it ended.
store::JobRecord run_short_job(NvmlSeams& seams, ManualClock& clock, int gpus) {
  auto engine = Engine::open(seams.options);
  if (!engine.ok()) throw std::runtime_error(engine.status().to_string());
  EXPECT_TRUE((*engine)->tick().ok());  // 0 s
  auto ids = (*engine)->submit(std::vector<store::JobSpec>{job_on(gpus)});
  EXPECT_TRUE(ids.ok());
  clock.advance(4);
  EXPECT_TRUE((*engine)->tick().ok());  // 4 s: starts
  EXPECT_TRUE(seams.launcher.runs(ids->at(0)));
  clock.advance(6);
  EXPECT_TRUE((*engine)->tick().ok());  // 10 s
  clock.advance(3);
  seams.launcher.finish(ids->at(0), exec::Exited{0});
  EXPECT_TRUE((*engine)->tick().ok());  // 13 s: ended
  return seams.store->get_job(ids->at(0)).value();
}

const json kEnergyMj = {0, 1'000'000, 1'240'000, 1'600'000, 1'750'000};

TEST(EngineEnergyTest, AShortJobsEdgesAreProrated) {
  TempDir dir;
  ManualClock clock;
  NvmlSeams seams(clock, dir, json::array({fake_gpu(0, kEnergyMj)}));
  const store::JobRecord job = run_short_job(seams, clock, 1);
  ASSERT_TRUE(job.accounting.energy_joules.has_value());
  EXPECT_DOUBLE_EQ(*job.accounting.energy_joules, 510.0);
  EXPECT_TRUE(job.accounting.energy_is_estimate);
  EXPECT_EQ(energy_words(make_job_report(job)).value_or(""),
            "510 J (estimate: apportioned among jobs sharing a GPU, or prorated over the "
            "sample intervals a job started and ended in)");
}

// The same job on GPUs 0 and 1, whose counter is NOT_SUPPORTED: GPU 0's 510 J is a lower
// bound. Before: 510 J, shown as if it were the job's energy.
TEST(EngineEnergyTest, AGpuWithAnUnreadableCounterLeavesALowerBound) {
  TempDir dir;
  ManualClock clock;
  NvmlSeams seams(clock, dir, json::array({fake_gpu(0, kEnergyMj), fake_gpu(1, nullptr)}));
  const store::JobRecord job = run_short_job(seams, clock, 2);
  EXPECT_FALSE(job.accounting.energy_joules.has_value());
  ASSERT_TRUE(job.accounting.energy_at_least_joules.has_value());
  EXPECT_DOUBLE_EQ(*job.accounting.energy_at_least_joules, 510.0);
  EXPECT_EQ(job.accounting.energy_unread_gpus, std::vector<std::uint32_t>{1});
  const JobReport report = make_job_report(job);
  EXPECT_EQ(energy_words(report).value_or(""),
            "at least 510 J (GPU 1's energy counter unreadable) (estimate: apportioned among "
            "jobs sharing a GPU, or prorated over the sample intervals a job started and "
            "ended in)");
  EXPECT_EQ(render_job_report_table({report}, false).find(">=510 J*") != std::string::npos, true);
}

}  // namespace
}  // namespace fastgpu::engine
