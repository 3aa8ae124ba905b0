#include "fastgpu/sched/balancer.h"

#include <gtest/gtest.h>

#include "fastgpu/sched/memory_pressure.h"
#include "sched/sched_builders.h"

namespace fastgpu::sched {
namespace {

using testing::kGiB;
using testing::make_job;
using testing::make_node;
using testing::make_running;

Snapshot overloaded_pair() {
  Snapshot snapshot;
  snapshot.now_s = 1000;
  snapshot.gpus = make_node("n0", 2);
  snapshot.gpus[0].utilization = 0.99;
  snapshot.gpus[1].utilization = 0.0;
  Job a = make_job(1, 1, 10 * kGiB, 0.5);
  Job b = make_job(2, 1, 10 * kGiB, 0.5);
  a.restartable = b.restartable = true;
  snapshot.running = {make_running(a, {0}, 0), make_running(b, {0}, 0)};
  return snapshot;
}

SchedulerConfig balancing() {
  SchedulerConfig config;
  config.balance = true;
  config.balance_min_gain = 0.25;
  return config;
}

TEST(Balancer, MovesARestartableJobToAnIdleGpu) {
  const Snapshot snapshot = overloaded_pair();
  Ledger ledger(snapshot);
  const auto moves = balance_moves(snapshot, balancing(), ledger, {});
  ASSERT_EQ(moves.size(), 1u);
  EXPECT_EQ(to_string(Decision{moves[0]}),
            "move job 1 from gpu 0 to gpu 1: gpu 0 overloaded (utilization 99%, LB 1.00); "
            "gpu 1 idle");
  EXPECT_EQ(ledger.slot(1).jobs, 1);  // the destination is held for it
}

TEST(Balancer, HysteresisAfterTheMove) {
  // After the move each GPU holds one job: neither is overloaded, nothing moves back.
  Snapshot snapshot = overloaded_pair();
  snapshot.running[0].gpus = {1};
  snapshot.running[0].start_time_s = 1000;
  snapshot.gpus[1].utilization = 0.99;
  Ledger ledger(snapshot);
  EXPECT_TRUE(balance_moves(snapshot, balancing(), ledger, {}).empty());
}

TEST(Balancer, LeavesJobsThatCannotMove) {
  Snapshot snapshot = overloaded_pair();
  snapshot.running[0].job.restartable = false;
  snapshot.running[1].start_time_s = 900;  // ran 100 s < min_run_before_move_s
  Ledger ledger(snapshot);
  EXPECT_TRUE(balance_moves(snapshot, balancing(), ledger, {}).empty());
}

TEST(Balancer, RequiresEnoughGain) {
  const Snapshot snapshot = overloaded_pair();
  SchedulerConfig config = balancing();
  config.balance_min_gain = 0.6;  // moving 0.5 of 1.0 lowers the peak by only 0.5
  Ledger ledger(snapshot);
  EXPECT_TRUE(balance_moves(snapshot, config, ledger, {}).empty());
}

TEST(MemoryPressure, NamesTheJobOverrunningItsDeclaration) {
  Snapshot snapshot;
  snapshot.gpus = make_node("n0", 1);
  snapshot.gpus[0].used_bytes = 50 * kGiB;
  RunningJob honest = make_running(make_job(1, 1, 20 * kGiB, 0.5), {0});
  honest.used_bytes = 19 * kGiB;
  RunningJob greedy = make_running(make_job(2, 1, 20 * kGiB, 0.5), {0});
  greedy.used_bytes = 31 * kGiB;
  greedy.job.restartable = true;
  snapshot.running = {honest, greedy};
  SchedulerConfig config;
  const auto actions = memory_pressure_actions(snapshot, config);
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(to_string(Decision{actions[0]}),
            "memory requeue job 2: gpu 0 uses 50.0 GiB, ledger allows 40.0 GiB; job 2 declared "
            "20.0 GiB and uses 31.0 GiB");
}

TEST(MemoryPressure, RequeueFallsBackToWarnForNonRestartableJobs) {
  Snapshot snapshot;
  snapshot.gpus = make_node("n0", 1);
  snapshot.gpus[0].used_bytes = 30 * kGiB;
  snapshot.running = {make_running(make_job(1, 1, 20 * kGiB, 0.5), {0})};  // alone: named
  const auto actions = memory_pressure_actions(snapshot, SchedulerConfig{});
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].action, MemoryActionKind::kWarn);
  SchedulerConfig kill;
  kill.memory_action = MemoryActionKind::kKill;
  EXPECT_EQ(memory_pressure_actions(snapshot, kill)[0].action, MemoryActionKind::kKill);
}

TEST(MemoryPressure, WithinTheLedgerAndToleranceNothingHappens) {
  Snapshot snapshot;
  snapshot.gpus = make_node("n0", 1);
  snapshot.gpus[0].reserved_bytes = kGiB;
  snapshot.gpus[0].used_bytes = 22 * kGiB;
  snapshot.running = {make_running(make_job(1, 1, 20 * kGiB, 0.5), {0})};
  SchedulerConfig config;
  config.memory_tolerance_bytes = kGiB;
  EXPECT_TRUE(memory_pressure_actions(snapshot, config).empty());
}

}  // namespace
}  // namespace fastgpu::sched
