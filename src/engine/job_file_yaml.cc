// YAML job files (`fastgpu run FILE.yaml`): the file's shape (one job, a list, or jobs: with
// defaults:), dependencies by name between its jobs, and the all-or-nothing rule. Each job
// is built by the same code as `fastgpu submit`; every error starts FILE:LINE:COLUMN.
#include "engine/job_file_yaml.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <string>

#include "core/yaml_text.h"

namespace fastgpu::engine {
namespace internal {
namespace {

using store::JobSpec;

// A job already built: the batch indices [first, end) of its specs.
struct BuiltJob {
  std::string name;
  std::size_t number = 0;
  std::size_t first = 0;
  std::size_t end = 0;
};

struct FileJobs {
  std::vector<YAML::Node> jobs;
  std::optional<YAML::Node> defaults;
};

class FileParser {
 public:
  FileParser(std::string file_name, const SubmitContext& context)
      : file_name_(std::move(file_name)), context_(context) {
    file_dir_ = (context.working_dir / file_name_).lexically_normal().parent_path();
  }

  const std::vector<std::string>& places() const { return places_; }

  Result<std::vector<JobSpec>> parse(const YAML::Node& root) {
    std::optional<FileError> error = split_root(root);
    if (!error) error = read_entries();
    if (!error) error = build_all();
    if (error) return located(*error);
    return specs_;
  }

  // FILE:LINE:COLUMN: message (lines and columns count from 1).
  Status located(const FileError& error) const {
    const YAML::Mark& mark = error.mark;
    const std::string where =
        mark.is_null() ? file_name_
                       : fmt::format("{}:{}:{}", file_name_, mark.line + 1, mark.column + 1);
    return Status(error.status.code(), fmt::format("{}: {}", where, error.status.message()));
  }

 private:
  static std::optional<FileError> error_at(const YAML::Node& node, std::string message) {
    return FileError{node.Mark(), invalid_argument(std::move(message))};
  }

  std::optional<FileError> split_root(const YAML::Node& root) {
    constexpr std::string_view kShapes =
        "write one job (a mapping with command:), a list of jobs, or jobs: [...] with optional "
        "defaults:";
    if (root.IsNull()) return error_at(root, fmt::format("no jobs in the file; {}", kShapes));
    if (root.IsSequence()) {
      for (const YAML::Node& job : root) file_.jobs.push_back(job);
    } else if (root.IsMap() && (root["jobs"] || root["defaults"])) {
      if (auto error = split_batch(root)) return error;
    } else if (root.IsMap()) {
      file_.jobs.push_back(root);
    } else {
      return error_at(root, fmt::format("found a single value; {}", kShapes));
    }
    if (file_.jobs.empty())
      return error_at(root, fmt::format("the job list is empty; {}", kShapes));
    return std::nullopt;
  }

  // The mapping form: jobs: and defaults:, nothing else at the top.
  std::optional<FileError> split_batch(const YAML::Node& root) {
    for (const auto& pair : root) {
      const std::string key = pair.first.IsScalar() ? pair.first.Scalar() : "";
      if (key == "jobs" && pair.second.IsSequence()) {
        for (const YAML::Node& job : pair.second) file_.jobs.push_back(job);
      } else if (key == "jobs") {
        return error_at(pair.second, "jobs: expected a list of jobs (each item starts with -)");
      } else if (key == "defaults") {
        file_.defaults = pair.second;
      } else {
        return error_at(pair.first, top_level_problem(key));
      }
    }
    if (!root["jobs"]) return error_at(root, "defaults: is given but jobs: is missing");
    return std::nullopt;
  }

  static std::string top_level_problem(const std::string& key) {
    const std::vector<std::string>& fields = job_field_names();
    if (std::find(fields.begin(), fields.end(), key) != fields.end()) {
      return fmt::format(
          "'{}' is a job field at the top level, next to jobs:; put it under "
          "defaults: (for every job) or inside a job",
          key);
    }
    const std::optional<std::string> close = closest_name(key, {"jobs", "defaults"});
    return fmt::format("unknown top-level field '{}'; {}", key,
                       close ? fmt::format("did you mean {}?", *close)
                             : std::string("the top level has only jobs: and defaults:"));
  }

  std::optional<FileError> read_entries() {
    Entry defaults;
    if (file_.defaults) {
      if (auto error = read_fields(*file_.defaults, defaults, true)) {
        return FileError{error->mark, error->status.with_context("defaults")};
      }
    }
    for (std::size_t i = 0; i < file_.jobs.size(); ++i) {
      Entry entry;
      entry.number = i + 1;
      entry.mark = file_.jobs[i].Mark();
      if (auto error = read_fields(file_.jobs[i], entry, false)) {
        if (!entry.options.name) entry.options.name = unread_name(file_.jobs[i]);
        return FileError{error->mark, error->status.with_context(job_label(entry))};
      }
      apply_defaults(defaults, entry);
      anchor_workdir(file_dir_, entry.options);
      entries_.push_back(std::move(entry));
    }
    return std::nullopt;
  }

  // The job's name as written, for a job whose fields failed before its name was read.
  static std::optional<std::string> unread_name(const YAML::Node& job) {
    if (!job.IsMap() || !job["name"] || !job["name"].IsScalar()) return std::nullopt;
    return job["name"].Scalar();
  }

  static std::string job_label(const Entry& entry) {
    if (!entry.options.name) return fmt::format("job {}", entry.number);
    return fmt::format("job {} '{}'", entry.number, *entry.options.name);
  }

  std::optional<FileError> build_all() {
    std::optional<std::size_t> array_job;
    for (const Entry& entry : entries_) {
      if (entry.options.array && array_job) {
        return FileError{entry.marks.at("array"),
                         invalid_argument(fmt::format(
                             "{}: only one array per file, and job {} is already one; submit "
                             "this array from a file of its own (one submission makes at most "
                             "one new array)",
                             job_label(entry), *array_job))};
      }
      if (entry.options.array) array_job = entry.number;
      if (auto error = build(entry)) return error;
    }
    return std::nullopt;
  }

  std::optional<FileError> build(const Entry& entry) {
    const NameResolver resolver = [&](std::string_view name) { return resolve(entry, name); };
    std::string failed_field;
    const std::size_t first = specs_.size();
    const Status status = build_entry(entry.options, context_, &resolver, specs_, failed_field);
    if (!status.ok()) {
      const auto mark = entry.marks.find(failed_field);
      return FileError{mark == entry.marks.end() ? entry.mark : mark->second,
                       status.with_context(job_label(entry))};
    }
    built_.push_back(BuiltJob{entry.options.name.value_or(""), entry.number, first, specs_.size()});
    const std::string place = fmt::format("{}:{}:{}: {}", file_name_, entry.mark.line + 1,
                                          entry.mark.column + 1, job_label(entry));
    places_.resize(specs_.size(), place);
    return std::nullopt;
  }

  // The batch indices `name` stands for, seen from `entry`: one earlier job, all its specs.
  Result<std::vector<std::size_t>> resolve(const Entry& entry, std::string_view name) const {
    std::vector<const BuiltJob*> matches;
    for (const BuiltJob& job : built_) {
      if (job.name == name) matches.push_back(&job);
    }
    if (matches.size() > 1) {
      return invalid_argument(
          fmt::format("jobs {} and {} are both named '{}'; give them "
                      "different names",
                      matches[0]->number, matches[1]->number, name));
    }
    if (matches.empty()) return not_earlier(entry, name);
    std::vector<std::size_t> indices;
    for (std::size_t i = matches[0]->first; i < matches[0]->end; ++i) indices.push_back(i);
    return indices;
  }

  Status not_earlier(const Entry& entry, std::string_view name) const {
    if (entry.options.name == name) return invalid_argument("a job cannot wait for itself");
    for (const Entry& later : entries_) {
      if (later.number > entry.number && later.options.name == name) {
        return invalid_argument(fmt::format(
            "'{}' is job {}, which comes later in the file; a job waits only for jobs above "
            "it, so move job {} '{}' before {}",
            name, later.number, later.number, name, job_label(entry)));
      }
    }
    std::vector<std::string> names;
    for (const BuiltJob& job : built_) {
      if (!job.name.empty()) names.push_back(job.name);
    }
    const std::optional<std::string> close = closest_name(name, names);
    return invalid_argument(fmt::format(
        "no job named '{}' in this file{}; to wait for a job submitted before, give its id", name,
        close ? fmt::format(" (did you mean {}?)", *close) : std::string()));
  }

  std::string file_name_;
  const SubmitContext& context_;
  std::filesystem::path file_dir_;
  FileJobs file_;
  std::vector<Entry> entries_;
  std::vector<BuiltJob> built_;
  std::vector<JobSpec> specs_;
  std::vector<std::string> places_;  // per spec, where its job is (parse_job_file)
};

}  // namespace
}  // namespace internal

Result<std::vector<store::JobSpec>> parse_job_file(std::string_view yaml_text,
                                                   const std::string& file_name,
                                                   const SubmitContext& context,
                                                   std::vector<std::string>* places) {
  internal::FileParser parser(file_name, context);
  YamlText text;
  try {
    text = load_yaml_text(std::string(yaml_text));
  } catch (const YAML::Exception& error) {
    return parser.located({error.mark, invalid_argument("malformed YAML: " + error.msg)});
  }
  if (text.second_document) {
    return parser.located(
        {*text.second_document,
         invalid_argument("a second YAML document begins here (after '---'), and a job file is "
                          "one document: list every job under `jobs:` (see docs/job-files.md); "
                          "nothing was submitted")});
  }
  try {
    Result<std::vector<store::JobSpec>> specs = parser.parse(text.root);
    if (specs.ok() && places != nullptr) *places = parser.places();
    return specs;
  } catch (const YAML::Exception& error) {
    // The readers check node types before converting, so this is a gap in those checks.
    return parser.located({error.mark, internal_error("could not read the file: " + error.msg)});
  }
}

std::string locate_batch_error(const Status& refused, const std::vector<store::JobSpec>& specs,
                               const std::vector<std::string>& places) {
  const std::optional<BatchJobError>& job = refused.batch_job();
  if (!job || places.size() != specs.size() || job->index >= places.size()) {
    return refused.message();
  }
  const store::JobSpec& spec = specs[job->index];
  std::string located = places[job->index] + ": ";
  if (spec.array) located += "array member " + std::to_string(spec.array->index) + " ";
  return located + job->problem;
}

}  // namespace fastgpu::engine
