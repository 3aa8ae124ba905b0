#include "fastgpu/api/resubmit.h"

#include <fmt/format.h>

#include <map>
#include <string>
#include <utility>

namespace fastgpu::api {

Status check_resubmitter(const store::JobRecord& job, std::uint32_t uid) {
  if (job.spec.uid == uid) return {};
  return failed_precondition(fmt::format(
      "job {} belongs to {} (uid {}), not to you (uid {}): resubmitted by you it would run "
      "their command as you; its owner may resubmit it",
      job.id.value(), job.spec.user, job.spec.uid, uid));
}

Status carry_dependencies(const JobReader& read, const std::vector<store::JobRecord>& jobs,
                          std::vector<store::JobSpec>& specs, std::set<std::uint64_t>& dropped) {
  std::map<std::uint64_t, std::size_t> batch_index;
  for (std::size_t i = 0; i < jobs.size(); ++i) batch_index[jobs[i].id.value()] = i;
  std::map<std::uint64_t, bool> ended;  // a 10,000-member array names one job
  for (store::JobSpec& spec : specs) {
    std::vector<store::Dependency> kept;
    for (const store::Dependency& dependency : spec.dependencies) {
      const std::uint64_t target = dependency.job.value();
      if (const auto in_batch = batch_index.find(target); in_batch != batch_index.end()) {
        kept.push_back(store::Dependency{JobId(0), dependency.kind, in_batch->second});
        continue;
      }
      auto known = ended.find(target);
      if (known == ended.end()) {
        Result<Json> json = read(target);
        if (!json.ok() && json.status().code() != ErrorCode::kNotFound) return json.status();
        bool over = true;  // forgotten: it ended long ago
        if (json.ok()) {
          Result<store::JobState> state =
              store::parse_job_state(json->value("state", std::string()));
          over = !state.ok() || store::is_terminal(*state);
        }
        known = ended.emplace(target, over).first;
      }
      if (known->second) {
        dropped.insert(target);
      } else {
        kept.push_back(dependency);
      }
    }
    spec.dependencies = std::move(kept);
  }
  return {};
}

}  // namespace fastgpu::api
