// The scheduler's settings file: what a daemon's user may tune of SchedulerConfig, as YAML.
//
//   policy: priority             # fifo, priority, sjf, srtf, edf, las, fair
//   strategy: pack               # pack, spread
//   memory_action: kill          # a job over its declared memory: warn, requeue or kill
//   memory_tolerance: 512M       # measured use may exceed the ledger by this much
//   balance: true                # move restartable jobs off overloaded GPUs
//
// Every key is optional (the rest keep their defaults). Durations and sizes are written as
// the CLI reads them ("5m", "1d", "512M"); a bare number is seconds or bytes. The settings
// also print as JSON under the same keys (durations in seconds, sizes in bytes), which reads
// back as the same settings: YAML reads JSON.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "fastgpu/core/result.h"
#include "fastgpu/sched/config.h"

namespace fastgpu::sched {

// The keys a settings file may hold, in the order they print.
const std::vector<std::string_view>& settings_keys();

// `base` with the text's settings applied. An unknown key, a value of the wrong kind or out
// of range is an error naming the key, its line, the value and what to write instead.
// `keys_set`, when given, receives the keys the text sets, in the file's form ("policy").
Result<SchedulerConfig> parse_settings(std::string_view yaml, SchedulerConfig base = {},
                                       std::vector<std::string>* keys_set = nullptr);

// parse_settings of a file's text; errors name the file.
Result<SchedulerConfig> read_settings(const std::filesystem::path& file, SchedulerConfig base = {},
                                      std::vector<std::string>* keys_set = nullptr);

// Every key of the settings and its value in `config`.
nlohmann::ordered_json settings_json(const SchedulerConfig& config);

// A value of settings_json() under its key, as a settings file writes it: "1h", "[1h, 10h]",
// "2G", "0.95", "fifo".
std::string setting_text(std::string_view key, const nlohmann::ordered_json& value);

// A setting whose value differs between two settings_json() documents, named by its key in
// the file ("memory-tolerance") and each value as setting_text writes it ("0 -> 2G").
struct SettingChange {
  std::string key;
  std::string from;
  std::string to;
};
// The keys of `to` that `from` holds with another value, in `to`'s order.
std::vector<SettingChange> setting_changes(const nlohmann::ordered_json& from,
                                           const nlohmann::ordered_json& to);

}  // namespace fastgpu::sched
