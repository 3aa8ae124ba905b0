// YAML job files (`fastgpu run FILE.yaml`): the file's shape (one job, a list, or jobs: with
// defaults:), dependencies by name between its jobs, and the all-or-nothing rule. Each job
// is built by the same code as `fastgpu submit`; every error starts FILE:LINE:COLUMN.
#include "engine/job_file_yaml.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <string>

#include "core/batch_error.h"
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

  // Every error of the file, or the first alone where the file's shape is wrong (the jobs
  // are not where they would be looked for, so any further error would be a guess).
  Result<std::vector<JobSpec>> parse(const YAML::Node& root) {
    if (std::optional<FileError> error = split_root(root)) return located(*error);
    read_entries();
    build_all();
    if (!errors_.empty()) return all_errors();
    return specs_;
  }

  // FILE:LINE:COLUMN: owner: message (lines and columns count from 1).
  Status located(const FileError& error) const {
    return Status(error.status.code(), one_line(error));
  }

 private:
  // An error told once for several jobs: a bad value under defaults: fails each job that
  // takes it, at the same place and in the same words.
  struct Told {
    const FileError* error;
    std::vector<std::size_t> jobs;  // the jobs it fails, when more than one
  };

  std::string one_line(const FileError& error) const {
    const YAML::Mark& mark = error.mark;
    std::string line = mark.is_null()
                           ? file_name_
                           : fmt::format("{}:{}:{}", file_name_, mark.line + 1, mark.column + 1);
    if (!error.owner.empty()) line += ": " + error.owner;
    return line + ": " + error.status.message();
  }

  std::vector<Told> told_once() {
    std::stable_sort(errors_.begin(), errors_.end(), [](const FileError& a, const FileError& b) {
      return std::pair(a.mark.line, a.mark.column) < std::pair(b.mark.line, b.mark.column);
    });
    std::vector<Told> told;
    for (const FileError& error : errors_) {
      auto same = std::find_if(told.begin(), told.end(), [&](const Told& earlier) {
        return earlier.error->mark.pos == error.mark.pos &&
               earlier.error->status.message() == error.status.message();
      });
      if (same == told.end()) {
        told.push_back(Told{&error, {error.job}});
      } else if (same->jobs.back() != error.job) {
        same->jobs.push_back(error.job);
      }
    }
    return told;
  }

  // Jobs share a place only through defaults:, so an error several jobs share is the
  // default's, told once with the jobs it fails ("jobs 1, 2, 3 and 37 more take it").
  std::string told_line(const Told& told) const {
    if (told.jobs.size() < 2) return one_line(*told.error);
    FileError shared = *told.error;
    shared.owner = "defaults";
    constexpr std::size_t kJobsNamed = 5;
    std::string jobs;
    const std::size_t named = std::min(told.jobs.size(), kJobsNamed);
    for (std::size_t i = 0; i < named; ++i) {
      const bool last = i + 1 == told.jobs.size();
      jobs += (i == 0 ? "" : last ? " and " : ", ") + std::to_string(told.jobs[i]);
    }
    if (named < told.jobs.size()) jobs += fmt::format(" and {} more", told.jobs.size() - named);
    return fmt::format("{} (jobs {} take it)", one_line(shared), jobs);
  }

  // One error as it always read; several, one a line in file order under a line that counts
  // them, the first kMaxJobFileErrorsTold of them.
  Status all_errors() {
    const std::vector<Told> told = told_once();
    if (told.size() == 1) return Status(told[0].error->status.code(), told_line(told[0]));
    std::vector<std::string> lines;
    for (const Told& each : told) lines.push_back(told_line(each));
    const std::string text = told_one_a_line(
        fmt::format(
            "{} has {} errors; nothing was submitted (a job file is taken whole or not at all):",
            file_name_, told.size()),
        lines, "error", "run the file again", [&told](std::size_t last) {
          return fmt::format(" after line {}", told[last].error->mark.line + 1);
        });
    return Status(told[0].error->status.code(), text);
  }

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

  void read_entries() {
    Entry defaults;
    if (file_.defaults) {
      read_owned(*file_.defaults, defaults, "defaults");
      // Jobs would be built without the fields they count on, and each found wanting.
      if (!file_.defaults->IsMap()) can_build_ = false;
    }
    for (std::size_t i = 0; i < file_.jobs.size(); ++i) {
      Entry entry;
      entry.number = i + 1;
      entry.mark = file_.jobs[i].Mark();
      std::vector<FileError> errors;
      read_fields(file_.jobs[i], entry, false, errors);
      // Labelled once all is read: a name below a bad field names the job too.
      for (FileError& error : errors) {
        error.owner = job_label(entry);
        error.job = entry.number;
      }
      errors_.insert(errors_.end(), errors.begin(), errors.end());
      entry.mapping = file_.jobs[i].IsMap();
      apply_defaults(defaults, entry);
      anchor_workdir(file_dir_, entry.options);
      entries_.push_back(std::move(entry));
    }
  }

  void read_owned(const YAML::Node& node, Entry& entry, const std::string& owner) {
    std::vector<FileError> errors;
    read_fields(node, entry, true, errors);
    for (FileError& error : errors) error.owner = owner;
    errors_.insert(errors_.end(), errors.begin(), errors.end());
  }

  static std::string job_label(const Entry& entry) {
    if (!entry.options.name) return fmt::format("job {}", entry.number);
    return fmt::format("job {} '{}'", entry.number, *entry.options.name);
  }

  // Builds every job, even after one fails: a later job's own errors are told with it.
  void build_all() {
    if (!can_build_) return;
    std::optional<std::size_t> array_job;
    for (const Entry& entry : entries_) {
      if (entry.options.array && array_job && !entry.unread.contains("array")) {
        errors_.push_back(FileError{
            entry.marks.at("array"),
            invalid_argument(fmt::format(
                "only one array per file, and job {} is already one; submit this array from a "
                "file of its own (one submission makes at most one new array)",
                *array_job)),
            job_label(entry), entry.number});
      }
      if (entry.options.array && !array_job) array_job = entry.number;
      build(entry);
    }
  }

  // A job that fails is kept by name with no specs, so a job waiting for it is not also
  // told that no job has that name.
  void build(const Entry& entry) {
    const NameResolver resolver = [&](std::string_view name) { return resolve(entry, name); };
    const std::size_t first = specs_.size();
    std::vector<FieldError> problems;
    if (entry.mapping) problems = build_entry(entry.options, context_, &resolver, specs_);
    for (const FieldError& problem : problems) {
      if (entry.unread.contains(problem.field)) continue;  // told when it was read
      const auto mark = entry.marks.find(problem.field);
      errors_.push_back(FileError{mark == entry.marks.end() ? entry.mark : mark->second,
                                  problem.status, job_label(entry), entry.number});
    }
    built_.push_back(BuiltJob{entry.options.name.value_or(""), entry.number, first, specs_.size()});
    const std::string place = fmt::format("{}:{}:{}: {}", file_name_, entry.mark.line + 1,
                                          entry.mark.column + 1, job_label(entry));
    places_.resize(specs_.size(), place);
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
  std::vector<FileError> errors_;  // every error found, in the order found
  bool can_build_ = true;
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
    return parser.located({error.mark, invalid_argument("malformed YAML: " + error.msg +
                                                        "; the jobs are checked once the file "
                                                        "reads as YAML")});
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

namespace {

// One refused job at its place in the file: "jobs.yaml:4:3: job 2 'x': asks for 9 GPUs ...".
std::string located_line(const BatchJobError& job, const std::vector<store::JobSpec>& specs,
                         const std::vector<std::string>& places) {
  const store::JobSpec& spec = specs[job.index];
  std::string located = places[job.index] + ": ";
  if (spec.array) located += "array member " + std::to_string(spec.array->index) + " ";
  return located + job.problem;
}

}  // namespace

std::string locate_batch_error(const Status& refused, const std::vector<store::JobSpec>& specs,
                               const std::vector<std::string>& places,
                               const std::string& file_name) {
  const std::vector<BatchJobError>& jobs = refused.batch_jobs();
  const bool placed = !jobs.empty() && places.size() == specs.size() &&
                      std::all_of(jobs.begin(), jobs.end(), [&](const BatchJobError& job) {
                        return job.index < places.size();
                      });
  if (!placed) return refused.message();
  if (jobs.size() == 1) return located_line(jobs.front(), specs, places);
  // As the file's own errors are told (all_errors() above): a line that counts them, then
  // one a line in file order, the first kMaxJobFileErrorsTold of them.
  std::vector<BatchJobError> in_order = jobs;
  std::stable_sort(
      in_order.begin(), in_order.end(),
      [](const BatchJobError& a, const BatchJobError& b) { return a.index < b.index; });
  const std::size_t jobs_refused = distinct_jobs(in_order);  // told twice, counted once
  std::vector<std::string> lines;
  for (const BatchJobError& job : in_order) lines.push_back(located_line(job, specs, places));
  return told_one_a_line(
      fmt::format("the daemon refused {} of {}'s jobs{}; nothing was submitted (a job file is "
                  "taken whole or not at all):",
                  jobs_refused, file_name,
                  jobs_refused == in_order.size()
                      ? std::string()
                      : fmt::format(", for {} problems", in_order.size())),
      lines, "refusal", "run the file again",
      [&](std::size_t last) { return " after " + places[in_order[last].index]; });
}

}  // namespace fastgpu::engine
