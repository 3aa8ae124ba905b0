// Reading job fields from YAML nodes, shared by the job-file parser (job_file_yaml.cc) and
// its field readers (job_file_yaml_fields.cc). Private to src/engine.
#pragma once

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "engine/job_file_internal.h"

namespace fastgpu::engine::internal {

// One job of the file (or its defaults:), as read, before it is built.
struct Entry {
  SubmitOptions options;
  std::map<std::string, YAML::Mark> marks;  // field -> where it is written
  YAML::Mark mark;                          // the job's mapping
  std::size_t number = 0;                   // 1-based place in the file; 0 for defaults
};

// Where an error is, and what it is.
struct FileError {
  YAML::Mark mark;
  Status status;
};

// Reads one mapping of fields into `entry`: unknown fields (with the closest known one),
// fields given twice, and values of the wrong YAML type are errors. `in_defaults` refuses
// fields that cannot be shared (name).
std::optional<FileError> read_fields(const YAML::Node& node, Entry& entry, bool in_defaults);

// Gives `entry` each field of `defaults` it does not set itself; env names merge, the job's
// value winning.
void apply_defaults(const Entry& defaults, Entry& entry);

// Makes a relative workdir relative to the job file's folder.
void anchor_workdir(const std::filesystem::path& file_dir, SubmitOptions& options);

}  // namespace fastgpu::engine::internal
