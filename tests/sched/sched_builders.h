// Small builders for scheduler tests: GPUs, jobs and snapshots in one line each, and the
// check that holds a kept scheduler's call to a reference call.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "fastgpu/sched/scheduler.h"
#include "fastgpu/sched/snapshot.h"

namespace fastgpu::sched::testing {

inline constexpr Bytes kGiB = Bytes{1} << 30;

inline GpuState make_gpu(int index, std::string node = "n0", Bytes total = 80 * kGiB) {
  GpuState gpu;
  gpu.index = index;
  gpu.node = std::move(node);
  gpu.total_bytes = total;
  return gpu;
}

// `count` GPUs on one node, indexes first..first+count-1.
inline std::vector<GpuState> make_node(const std::string& node, int count, int first = 0,
                                       Bytes total = 80 * kGiB) {
  std::vector<GpuState> gpus;
  for (int i = 0; i < count; ++i) gpus.push_back(make_gpu(first + i, node, total));
  return gpus;
}

inline Job make_job(std::uint64_t id, int gpus = 1, Bytes mem = 10 * kGiB, double share = 1.0) {
  Job job;
  job.id = JobId{id};
  job.gpus = gpus;
  job.gpu_mem = mem;
  job.util_share = share;
  job.signature = "sig" + std::to_string(id);
  job.user = "alice";
  return job;
}

inline RunningJob make_running(Job job, std::vector<int> gpus, double start_s = 0.0) {
  RunningJob running;
  running.declared_bytes = job.gpu_mem.value_or(0);
  running.job = std::move(job);
  running.gpus = std::move(gpus);
  running.start_time_s = start_s;
  return running;
}

// The Start decisions of a result, in order.
inline std::vector<Start> starts(const ScheduleResult& result) {
  std::vector<Start> out;
  for (const Decision& decision : result.decisions) {
    if (const auto* start = std::get_if<Start>(&decision)) out.push_back(*start);
  }
  return out;
}

inline std::vector<std::uint64_t> started_ids(const ScheduleResult& result) {
  std::vector<std::uint64_t> ids;
  for (const Start& start : starts(result)) ids.push_back(start.job.value());
  return ids;
}

// Every decision and the reservation, one line each: two results compare equal as text
// exactly when they decide the same.
inline std::string describe(const ScheduleResult& result) {
  std::string text;
  for (const Decision& decision : result.decisions) text += to_string(decision) + "\n";
  if (result.reservation) {
    text += "reserve job " + to_string(result.reservation->job) + " at " +
            std::to_string(result.reservation->start_s) + " on";
    for (int gpu : result.reservation->gpus) text += " " + std::to_string(gpu);
    text += "\n";
  }
  return text;
}

// Holds a kept scheduler's call to a reference call on the same snapshot (the pure
// schedule(), or another search). Fails the test with `where` and returns false when
// only one of them succeeded, when both failed, or when they decide differently.
inline bool kept_matches(const Result<ScheduleResult>& reference,
                         const Result<ScheduleResult>& kept, const std::string& where) {
  EXPECT_EQ(reference.ok(), kept.ok()) << where;
  if (!reference.ok() || !kept.ok()) return false;
  EXPECT_EQ(describe(*reference), describe(*kept)) << where;
  return describe(*reference) == describe(*kept);
}

}  // namespace fastgpu::sched::testing
