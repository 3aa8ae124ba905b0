#include <optional>
#include <string>

#include "cli/status_render.h"

namespace fastgpu::cli {
namespace {

using json = Json;

// Absent means unreadable, and unreadable must never look like 0: it becomes null.
template <typename T>
json or_null(const std::optional<T>& value) {
  return value ? json(*value) : json(nullptr);
}

json process_to_json(const GpuProcess& process, const ProcessLookup& lookup) {
  const ProcessInfo info = lookup ? lookup(process.pid) : ProcessInfo{};
  return {{"pid", process.pid},
          {"user", or_null(info.user)},
          {"command", or_null(info.command)},
          {"used_memory_bytes", or_null(process.used_memory_bytes)}};
}

json processes_to_json(const GpuDevice& device, const ProcessLookup& lookup) {
  if (!device.processes) return nullptr;
  json list = json::array();
  for (const GpuProcess& process : *device.processes) {
    list.push_back(process_to_json(process, lookup));
  }
  return list;
}

json unreadable_to_json(const GpuDevice& device) {
  json list = json::array();
  for (const UnreadableField& field : device.unreadable_fields) {
    list.push_back({{"field", field.field}, {"reason", field.reason}});
  }
  return list;
}

json hold_to_json(const LedgerHold& hold) {
  return {{"job", or_null(hold.job)},         {"user", hold.user},   {"name", or_null(hold.name)},
          {"command", or_null(hold.command)}, {"bytes", hold.bytes}, {"share", hold.share}};
}

json ledger_to_json(const StatusContext& context, std::uint32_t index) {
  const auto found = context.ledgers.find(index);
  if (found == context.ledgers.end()) return nullptr;
  const LedgerView& ledger = found->second;
  json jobs = json::array();
  for (const LedgerHold& hold : ledger.jobs) jobs.push_back(hold_to_json(hold));
  json processes = json::array();
  for (const LedgerView::Process& process : ledger.processes) {
    processes.push_back(
        {{"pid", process.pid}, {"job", or_null(process.job)}, {"user", process.user}});
  }
  return {{"open", ledger.open},
          {"gone", ledger.gone},
          {"usable_bytes", ledger.usable_bytes},
          {"foreign_bytes", ledger.foreign_bytes},
          {"declared_bytes", ledger.declared_bytes},
          {"free_bytes", ledger.free_bytes},
          {"share_used", ledger.share_used},
          {"free_share", ledger.free_share},
          {"jobs", std::move(jobs)},
          {"processes", std::move(processes)}};
}

json device_to_json(const GpuDevice& device, const StatusContext& context) {
  const ProcessLookup& lookup = context.lookup;
  return {
      {"index", device.index},
      {"name", or_null(device.name)},
      {"uuid", or_null(device.uuid)},
      {"pci_bus_id", or_null(device.pci_bus_id)},
      {"memory_total_bytes", or_null(device.memory_total_bytes)},
      {"memory_used_bytes", or_null(device.memory_used_bytes)},
      {"memory_free_bytes", or_null(device.memory_free_bytes)},
      {"memory_reserved_bytes", or_null(device.memory_reserved_bytes)},
      {"gpu_utilization_percent", or_null(device.gpu_utilization_percent)},
      {"memory_utilization_percent", or_null(device.memory_utilization_percent)},
      {"power_watts", or_null(device.power_watts)},
      {"power_limit_watts", or_null(device.power_limit_watts)},
      {"energy_millijoules", or_null(device.energy_millijoules)},
      {"temperature_celsius", or_null(device.temperature_celsius)},
      {"sm_clock_mhz", or_null(device.sm_clock_mhz)},
      {"memory_clock_mhz", or_null(device.memory_clock_mhz)},
      {"processes", processes_to_json(device, lookup)},
      {"health", {{"healthy", device.health.healthy}, {"reasons", device.health.reasons}}},
      {"unreadable_fields", unreadable_to_json(device)},
      {"ledger", ledger_to_json(context, device.index)},
  };
}

}  // namespace

Json status_to_json(const GpuReading& reading, const StatusContext& context) {
  json devices = json::array();
  for (const GpuDevice& device : reading.devices) {
    devices.push_back(device_to_json(device, context));
  }
  return {
      {"schema_version", kStatusSchemaVersion},
      {"source", reading.source},
      {"host", context.host},
      {"time", context.utc_time},
      {"driver_version", or_null(reading.driver_version)},
      {"nvml_version", or_null(reading.nvml_version)},
      {"cuda_driver_version", or_null(reading.cuda_driver_version)},
      {"devices", std::move(devices)},
      {"ledger_note", context.ledger_note.empty() ? Json() : Json(context.ledger_note)},
  };
}

Result<LedgerView> ledger_from_json(const Json& json) {
  try {
    LedgerView ledger;
    ledger.open = json.at("open").get<bool>();
    ledger.gone = json.at("gone").get<bool>();
    ledger.usable_bytes = json.at("usable_bytes").get<std::uint64_t>();
    ledger.foreign_bytes = json.at("foreign_bytes").get<std::uint64_t>();
    ledger.declared_bytes = json.at("declared_bytes").get<std::uint64_t>();
    ledger.free_bytes = json.at("free_bytes").get<std::uint64_t>();
    ledger.share_used = json.at("share_used").get<double>();
    ledger.free_share = json.at("free_share").get<double>();
    for (const Json& entry : json.at("jobs")) {
      LedgerHold hold;
      if (!entry.at("job").is_null()) hold.job = entry.at("job").get<std::uint64_t>();
      hold.user = entry.at("user").get<std::string>();
      if (!entry.at("name").is_null()) hold.name = entry.at("name").get<std::string>();
      if (!entry.at("command").is_null()) hold.command = entry.at("command").get<std::string>();
      hold.bytes = entry.at("bytes").get<std::uint64_t>();
      hold.share = entry.at("share").get<double>();
      ledger.jobs.push_back(std::move(hold));
    }
    for (const Json& entry : json.at("processes")) {
      LedgerView::Process process;
      process.pid = entry.at("pid").get<std::uint32_t>();
      if (!entry.at("job").is_null()) process.job = entry.at("job").get<std::uint64_t>();
      process.user = entry.at("user").get<std::string>();
      ledger.processes.push_back(std::move(process));
    }
    return ledger;
  } catch (const Json::exception& error) {
    return invalid_argument(std::string("the daemon's ledger of a GPU cannot be read: ") +
                            error.what());
  }
}

}  // namespace fastgpu::cli
