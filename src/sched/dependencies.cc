#include "sched/dependencies.h"

#include <string>
#include <vector>

namespace fastgpu::sched {

DependencyIndex::DependencyIndex(const Snapshot& snapshot) {
  for (const Job& job : snapshot.queue) {
    for (const Dependency& dependency : job.dependencies) {
      targets_.emplace(dependency.job, TargetState::kUnknown);
    }
  }
  if (targets_.empty()) return;
  auto mark = [&](JobId id, TargetState state) {
    auto it = targets_.find(id);
    if (it != targets_.end()) it->second = state;
  };
  for (const FinishedJob& done : snapshot.finished) {
    mark(done.id,
         done.state == EndState::kSucceeded ? TargetState::kSucceeded : TargetState::kFailed);
  }
  for (const RunningJob& running : snapshot.running) mark(running.job.id, TargetState::kRunning);
  for (const Job& job : snapshot.queue) {
    auto it = targets_.find(job.id);
    if (it == targets_.end()) continue;
    it->second = TargetState::kQueued;
    queued_targets_.emplace(job.id, &job);
  }
}

TargetState DependencyIndex::state(JobId id) const {
  auto it = targets_.find(id);
  return it == targets_.end() ? TargetState::kUnknown : it->second;
}

bool DependencyIndex::satisfied(const Dependency& dependency) const {
  const TargetState target = state(dependency.job);
  if (dependency.kind == DependencyKind::kAfterOk) return target == TargetState::kSucceeded;
  return target == TargetState::kSucceeded || target == TargetState::kFailed;
}

bool DependencyIndex::satisfied(const Job& job) const {
  for (const Dependency& dependency : job.dependencies) {
    if (!satisfied(dependency)) return false;
  }
  return true;
}

bool DependencyIndex::never_satisfiable(const Job& job) const {
  for (const Dependency& dependency : job.dependencies) {
    if (dependency.kind == DependencyKind::kAfterOk &&
        state(dependency.job) == TargetState::kFailed) {
      return true;
    }
  }
  return false;
}

namespace {

enum class Mark { kNew, kActive, kDone };

// Depth-first search over queued jobs; an edge back to an active job closes a cycle.
bool find_cycle(const Job& job, const std::unordered_map<JobId, const Job*>& queued,
                std::unordered_map<JobId, Mark>& marks, std::vector<JobId>& path) {
  marks[job.id] = Mark::kActive;
  path.push_back(job.id);
  for (const Dependency& dependency : job.dependencies) {
    auto next = queued.find(dependency.job);
    if (next == queued.end()) continue;
    const Mark mark = marks[dependency.job];
    if (mark == Mark::kActive) {
      path.push_back(dependency.job);
      return true;
    }
    if (mark == Mark::kNew && find_cycle(*next->second, queued, marks, path)) return true;
  }
  marks[job.id] = Mark::kDone;
  path.pop_back();
  return false;
}

std::string describe_cycle(const std::vector<JobId>& path) {
  // The path ends with the job that closes the cycle; print from its first occurrence.
  std::size_t start = 0;
  while (path[start] != path.back()) ++start;
  std::string text;
  for (std::size_t i = start; i < path.size(); ++i) {
    if (!text.empty()) text += " -> ";
    text += to_string(path[i]);
  }
  return text;
}

}  // namespace

Status DependencyIndex::check(const Snapshot& snapshot) const {
  for (const Job& job : snapshot.queue) {
    for (const Dependency& dependency : job.dependencies) {
      if (state(dependency.job) != TargetState::kUnknown) continue;
      return invalid_argument("job " + to_string(job.id) + " depends on job " +
                              to_string(dependency.job) +
                              ", which is not queued, running or finished; remove the "
                              "dependency or submit that job first");
    }
  }
  std::unordered_map<JobId, Mark> marks;
  std::vector<JobId> path;
  for (const Job& job : snapshot.queue) {
    if (job.dependencies.empty() || marks[job.id] != Mark::kNew) continue;
    if (find_cycle(job, queued_targets_, marks, path)) {
      return invalid_argument("dependency cycle: " + describe_cycle(path) +
                              "; no job in it can ever start; cancel one of them or drop "
                              "one dependency");
    }
  }
  return {};
}

}  // namespace fastgpu::sched
