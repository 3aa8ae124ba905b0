// Alibaba openb pod lists (cluster-trace-gpu-v2023, the FGD paper's trace):
//   name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,
//   creation_time,deletion_time,scheduled_time
// The submit time is creation_time. No duration: FGD's protocol never lets a task finish,
// so deletion_time is not read. gpu_milli is the share of one GPU a single-GPU task asks
// for; as in FGD, values above 1000 count as 1000, and multi-GPU tasks take whole GPUs.
#include <algorithm>

#include "sim/trace_reader.h"

namespace fastgpu::sim {
namespace {

constexpr std::int64_t kMaxGpus = 64;
constexpr std::int64_t kMaxMilli = 1'000'000;
constexpr std::uint64_t kMib = 1ULL << 20;

// "V100M16|V100M32" → {"V100M16", "V100M32"}; "" → {} (any model).
std::vector<std::string> split_models(std::string_view spec) {
  std::vector<std::string> models;
  while (!spec.empty()) {
    const std::size_t bar = spec.find('|');
    const std::string_view model = trim(spec.substr(0, bar));
    if (!model.empty()) models.emplace_back(model);
    if (bar == std::string_view::npos) break;
    spec.remove_prefix(bar + 1);
  }
  return models;
}

void parse_gpu_share(CsvRow& row, TraceJob& job) {
  job.gpu_count = static_cast<int>(row.integer("num_gpu", 0, kMaxGpus));
  const std::int64_t milli = row.integer("gpu_milli", 0, kMaxMilli);
  if (job.gpu_count == 1) {
    if (milli == 0) row.fail("gpu_milli", row.text("gpu_milli"), "is 0 for a task with a GPU");
    job.gpu_milli = static_cast<int>(std::min<std::int64_t>(milli, 1000));
  }
}

void parse_openb_row(CsvRow& row, TraceJob& job) {
  job.id = std::string(row.text("name"));
  if (job.id.empty()) row.fail("name", "", "is empty; a task name is required");
  job.submit_s = row.number("creation_time");
  parse_gpu_share(row, job);
  job.gpu_models = split_models(row.text("gpu_spec"));
  job.cpu_milli = row.integer("cpu_milli", 0, kMaxMilli * 1000);
  job.memory_bytes = static_cast<std::uint64_t>(row.integer("memory_mib", 0, 1LL << 40)) * kMib;
  job.job_class = std::string(row.text("qos"));
}

}  // namespace

Result<Trace> read_openb_trace(const std::string& path, const ReaderOptions& options) {
  CsvFormat format;
  format.name = "openb";
  format.required = {"name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli", "creation_time"};
  format.parse_row = parse_openb_row;
  return read_csv_trace(path, format, options);
}

}  // namespace fastgpu::sim
