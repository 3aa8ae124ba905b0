// Reading job fields from YAML nodes, shared by the job-file parser (job_file_yaml.cc) and
// its field readers (job_file_yaml_fields.cc). Private to src/engine.
#pragma once

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "engine/job_file_internal.h"

namespace fastgpu::engine::internal {

// One job of the file (or its defaults:), as read, before it is built.
struct Entry {
  SubmitOptions options;
  std::map<std::string, YAML::Mark> marks;  // field -> where it is written
  std::set<std::string> unread;             // fields whose value was refused (told already)
  YAML::Mark mark;                          // the job's mapping
  bool mapping = true;                      // false: not a mapping of fields (told already)
  std::size_t number = 0;                   // 1-based place in the file; 0 for defaults
};

// Where an error is, whose it is ("job 2 'train'", "defaults", or empty for the file), and
// what it is.
struct FileError {
  YAML::Mark mark;
  Status status;
  std::string owner = {};
  std::size_t job = 0;  // the owner's number in the file; 0 for none
};

// Reads one mapping of fields into `entry`, adding an error to `errors` for each unknown
// field (with the closest known one), field given twice and value of the wrong YAML type;
// a field whose value is refused joins entry.unread. `in_defaults` refuses fields that
// cannot be shared (name). The errors have no owner yet.
void read_fields(const YAML::Node& node, Entry& entry, bool in_defaults,
                 std::vector<FileError>& errors);

// Gives `entry` each field of `defaults` it does not set itself (and, unread, each such field
// whose default was refused); env names merge, the job's value winning.
void apply_defaults(const Entry& defaults, Entry& entry);

// Makes a relative workdir relative to the job file's folder.
void anchor_workdir(const std::filesystem::path& file_dir, SubmitOptions& options);

}  // namespace fastgpu::engine::internal
