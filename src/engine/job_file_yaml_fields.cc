// Reading one job's fields from YAML into a SubmitOptions, with the same field names as the
// flags: the type checks (a list where a value belongs), unknown and repeated fields, and
// the defaults: mapping.
#include <fmt/format.h>

#include <algorithm>
#include <string>

#include "engine/job_file_yaml.h"

namespace fastgpu::engine::internal {
namespace {

const char* kind_name(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Null: return "nothing";
    default: return "a single value";
  }
}

std::optional<FileError> type_error(const YAML::Node& node, std::string_view field,
                                    std::string_view expected) {
  return FileError{node.Mark(), invalid_argument(fmt::format("{}: expected {}, found {}", field,
                                                             expected, kind_name(node)))};
}

// A scalar's text, or an error for a list, a mapping or nothing.
std::optional<FileError> scalar_text(const YAML::Node& node, std::string_view field,
                                     std::string& out) {
  if (node.IsNull()) {
    return FileError{node.Mark(), invalid_argument(fmt::format(
                                      "{} has no value; give one or remove the line", field))};
  }
  if (!node.IsScalar()) return type_error(node, field, "a single value");
  out = node.Scalar();
  return std::nullopt;
}

std::optional<FileError> scalar_field(const YAML::Node& node, std::string_view field,
                                      std::optional<std::string>& out) {
  std::string text;
  if (auto error = scalar_text(node, field, text)) return error;
  out = std::move(text);
  return std::nullopt;
}

// A single value or a list of single values.
std::optional<FileError> scalar_list(const YAML::Node& node, std::string_view field,
                                     std::vector<std::string>& out) {
  if (!node.IsSequence()) {
    std::string text;
    if (auto error = scalar_text(node, field, text)) return error;
    out.push_back(std::move(text));
    return std::nullopt;
  }
  for (const YAML::Node& item : node) {
    std::string text;
    if (auto error = scalar_text(item, fmt::format("{} item", field), text)) return error;
    out.push_back(std::move(text));
  }
  return std::nullopt;
}

std::optional<FileError> read_command(const YAML::Node& node, SubmitOptions& options) {
  if (node.IsSequence()) {
    if (node.size() == 0) {
      return FileError{node.Mark(),
                       invalid_argument("command is an empty list; give the program and its "
                                        "arguments, e.g. command: [python, train.py]")};
    }
    return scalar_list(node, "command", options.argv);
  }
  if (node.IsScalar()) {
    options.shell_command = node.Scalar();
    return std::nullopt;
  }
  return type_error(node, "command",
                    "a list (the program and its arguments) or a string (a shell command)");
}

std::optional<FileError> read_array(const YAML::Node& node, SubmitOptions& options) {
  std::vector<std::string> items;
  if (auto error = scalar_list(node, "array", items)) return error;
  std::string joined;
  for (const std::string& item : items) joined += (joined.empty() ? "" : ",") + item;
  options.array = joined;
  return std::nullopt;
}

std::optional<FileError> read_env_pair(const YAML::Node& key, const YAML::Node& value,
                                       SubmitOptions& options) {
  std::string name;
  std::string text;
  if (auto error = scalar_text(key, "env name", name)) return error;
  if (value.IsNull()) {
    return FileError{key.Mark(),
                     invalid_argument(fmt::format(
                         "env {} has no value; write {}: \"\" for an empty one", name, name))};
  }
  if (auto error = scalar_text(value, fmt::format("env {}", name), text)) return error;
  if (Status valid = check_env_key(name); !valid.ok()) return FileError{key.Mark(), valid};
  options.env.emplace_back(std::move(name), std::move(text));
  return std::nullopt;
}

// A mapping NAME: value, or a list of "NAME=value" strings.
std::optional<FileError> read_env(const YAML::Node& node, SubmitOptions& options) {
  if (node.IsMap()) {
    for (const auto& pair : node) {
      if (auto error = read_env_pair(pair.first, pair.second, options)) return error;
    }
    return std::nullopt;
  }
  if (!node.IsSequence()) return type_error(node, "env", "a mapping of NAME: value");
  for (const YAML::Node& item : node) {
    std::string text;
    if (auto error = scalar_text(item, "env item", text)) return error;
    const std::size_t equals = text.find('=');
    if (equals == std::string::npos) {
      return FileError{item.Mark(),
                       invalid_argument(fmt::format("env item '{}' is not NAME=value", text))};
    }
    if (Status valid = check_env_key(text.substr(0, equals)); !valid.ok()) {
      return FileError{item.Mark(), valid};
    }
    options.env.emplace_back(text.substr(0, equals), text.substr(equals + 1));
  }
  return std::nullopt;
}

using FieldReader = std::optional<FileError> (*)(const YAML::Node&, SubmitOptions&);

// The fields of a job, in documentation order (job_field_names()).
const std::vector<std::pair<std::string, FieldReader>>& field_readers() {
  static const std::vector<std::pair<std::string, FieldReader>> kReaders = {
      {"name",
       [](const YAML::Node& n, SubmitOptions& o) { return scalar_field(n, "name", o.name); }},
      {"command", read_command},
      {"gpus",
       [](const YAML::Node& n, SubmitOptions& o) { return scalar_field(n, "gpus", o.gpus); }},
      {"gpu-mem",
       [](const YAML::Node& n, SubmitOptions& o) { return scalar_field(n, "gpu-mem", o.gpu_mem); }},
      {"share",
       [](const YAML::Node& n, SubmitOptions& o) { return scalar_field(n, "share", o.share); }},
      {"time",
       [](const YAML::Node& n, SubmitOptions& o) { return scalar_field(n, "time", o.time); }},
      {"grace",
       [](const YAML::Node& n, SubmitOptions& o) { return scalar_field(n, "grace", o.grace); }},
      {"priority", [](const YAML::Node& n,
                      SubmitOptions& o) { return scalar_field(n, "priority", o.priority); }},
      {"after",
       [](const YAML::Node& n, SubmitOptions& o) { return scalar_list(n, "after", o.after); }},
      {"array", read_array},
      {"restartable",
       [](const YAML::Node& n, SubmitOptions& o) {
         return scalar_field(n, "restartable", o.restartable);
       }},
      {"hold",
       [](const YAML::Node& n, SubmitOptions& o) { return scalar_field(n, "hold", o.hold); }},
      {"deadline", [](const YAML::Node& n,
                      SubmitOptions& o) { return scalar_field(n, "deadline", o.deadline); }},
      {"workdir",
       [](const YAML::Node& n, SubmitOptions& o) { return scalar_field(n, "workdir", o.workdir); }},
      {"env", read_env},
  };
  return kReaders;
}

// The fields a job (or, without `name`, defaults:) takes.
std::vector<std::string> field_names(bool in_defaults) {
  std::vector<std::string> names = job_field_names();
  if (in_defaults) std::erase(names, std::string("name"));
  return names;
}

Status unknown_field(const std::string& key, bool in_defaults) {
  if (key == "<<") {
    return invalid_argument(
        "YAML merge keys (<<) are not supported; put the fields jobs share under defaults:");
  }
  const std::vector<std::string> names = field_names(in_defaults);
  if (std::optional<std::string> close = closest_name(key, names)) {
    return invalid_argument(fmt::format("unknown field '{}'; did you mean {}?", key, *close));
  }
  std::string list;
  for (const std::string& name : names) list += (list.empty() ? "" : ", ") + name;
  return invalid_argument(fmt::format("unknown field '{}'; the fields are {}", key, list));
}

// One `key: value` of a job (or of defaults:) into `entry`.
std::optional<FileError> read_field(const YAML::Node& key_node, const YAML::Node& value,
                                    Entry& entry, bool in_defaults) {
  std::string key;
  if (auto error = scalar_text(key_node, "field name", key)) return error;
  const auto& readers = field_readers();
  const auto reader = std::find_if(readers.begin(), readers.end(),
                                   [&](const auto& known) { return known.first == key; });
  if (reader == readers.end()) return FileError{key_node.Mark(), unknown_field(key, in_defaults)};
  if (in_defaults && key == "name") {
    return FileError{key_node.Mark(),
                     invalid_argument("name cannot be a default (every job would share it); "
                                      "give each job its own name")};
  }
  if (entry.marks.contains(key)) {
    return FileError{key_node.Mark(),
                     invalid_argument(fmt::format("field '{}' is given twice", key))};
  }
  // Errors about the value point at it; a value left empty has no place of its own.
  entry.marks.emplace(key, value.Mark().is_null() ? key_node.Mark() : value.Mark());
  std::optional<FileError> error = reader->second(value, entry.options);
  // Told here; building the job would otherwise say it again in other words ("command is
  // missing" after "command: expected a list or a string").
  if (error) entry.unread.insert(key);
  return error;
}

}  // namespace

void read_fields(const YAML::Node& node, Entry& entry, bool in_defaults,
                 std::vector<FileError>& errors) {
  if (!node.IsMap()) {
    // The error's owner names it already ("defaults", "job 2"): "defaults: defaults: ...".
    errors.push_back(FileError{
        node.Mark(),
        invalid_argument(fmt::format(
            "expected a mapping of fields (command:, gpus:, gpu-mem:, ...), found {}{}",
            kind_name(node), in_defaults ? " (defaults: applies fields to every job)" : ""))});
    return;
  }
  for (const auto& pair : node) {
    if (auto error = read_field(pair.first, pair.second, entry, in_defaults)) {
      errors.push_back(*std::move(error));
    }
  }
}

void apply_defaults(const Entry& defaults, Entry& entry) {
  SubmitOptions& job = entry.options;
  const SubmitOptions& base = defaults.options;
  const auto take = [&](const char* field, auto member) {
    if (entry.marks.contains(field) || !defaults.marks.contains(field)) return;
    job.*member = base.*member;
    entry.marks[field] = defaults.marks.at(field);
    if (defaults.unread.contains(field)) entry.unread.insert(field);
  };
  take("gpus", &SubmitOptions::gpus);
  take("gpu-mem", &SubmitOptions::gpu_mem);
  take("share", &SubmitOptions::share);
  take("time", &SubmitOptions::time);
  take("grace", &SubmitOptions::grace);
  take("priority", &SubmitOptions::priority);
  take("after", &SubmitOptions::after);
  take("array", &SubmitOptions::array);
  take("restartable", &SubmitOptions::restartable);
  take("hold", &SubmitOptions::hold);
  take("deadline", &SubmitOptions::deadline);
  take("workdir", &SubmitOptions::workdir);
  if (!entry.marks.contains("command") && defaults.marks.contains("command")) {
    job.argv = base.argv;
    job.shell_command = base.shell_command;
    entry.marks["command"] = defaults.marks.at("command");
    if (defaults.unread.contains("command")) entry.unread.insert("command");
  }
  std::vector<std::pair<std::string, std::string>> env = base.env;
  env.insert(env.end(), job.env.begin(), job.env.end());
  job.env = std::move(env);
  if (!entry.marks.contains("env") && defaults.marks.contains("env")) {
    entry.marks["env"] = defaults.marks.at("env");
  }
  if (defaults.unread.contains("env")) entry.unread.insert("env");
}

void anchor_workdir(const std::filesystem::path& file_dir, SubmitOptions& options) {
  if (!options.workdir || options.workdir->empty()) return;
  const std::string& text = *options.workdir;
  if (text.front() == '~' || std::filesystem::path(text).is_absolute()) return;
  options.workdir = (file_dir / text).string();
}

}  // namespace fastgpu::engine::internal
