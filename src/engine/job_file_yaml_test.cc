// Job files: their shapes, defaults, dependencies by name, locations in error messages, the
// all-or-nothing rule, and the example batches shipped in examples/.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "engine/job_file_test_util.h"
#include "fastgpu/engine/job_file.h"
#include "fastgpu_test_paths.h"

namespace fastgpu::engine {
namespace {

using store::Dependency;
using store::DependencyKind;
using store::JobSpec;
using testing::alice;
using ::testing::AllOf;
using ::testing::ElementsAre;
using testing::error_of;
using testing::from_yaml;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

std::vector<std::string> names(const std::vector<JobSpec>& specs) {
  std::vector<std::string> out;
  for (const JobSpec& spec : specs) out.push_back(spec.name);
  return out;
}

TEST(JobFileYaml, OneJobAListOrJobsWithDefaults) {
  auto one = from_yaml("name: a\ncommand: [x]\n");
  ASSERT_TRUE(one.ok()) << one.status().message();
  EXPECT_THAT(names(*one), ElementsAre("a"));

  auto list = from_yaml("- {name: a, command: [x]}\n- {name: b, command: [y]}\n");
  ASSERT_TRUE(list.ok()) << list.status().message();
  EXPECT_THAT(names(*list), ElementsAre("a", "b"));

  auto batch = from_yaml(R"(
defaults:
  gpu-mem: 8G
  share: 0.25
  env: {A: "1", B: "2"}
  command: [python, step.py]
jobs:
  - name: a
  - name: b
    gpu-mem: 16G
    env: {B: "3"}
  - name: c
    command: "echo hi"
)");
  ASSERT_TRUE(batch.ok()) << batch.status().message();
  ASSERT_THAT(names(*batch), ElementsAre("a", "b", "c"));
  const JobSpec& a = (*batch)[0];
  const JobSpec& b = (*batch)[1];
  const JobSpec& c = (*batch)[2];
  EXPECT_EQ(a.gpu_mem, Bytes{8} << 30);
  EXPECT_EQ(b.gpu_mem, Bytes{16} << 30) << "a job's field replaces the default";
  EXPECT_DOUBLE_EQ(c.util_share, 0.25);
  EXPECT_THAT(a.argv, ElementsAre("python", "step.py"));
  EXPECT_EQ(c.shell_command, "echo hi");
  EXPECT_TRUE(c.argv.empty());
  EXPECT_THAT(a.environment, AllOf(::testing::Contains("A=1"), ::testing::Contains("B=2")));
  EXPECT_THAT(b.environment, AllOf(::testing::Contains("A=1"), ::testing::Contains("B=3"),
                                   ::testing::Not(::testing::Contains("B=2"))))
      << "env merges with the defaults', the job's value winning";
}

TEST(JobFileYaml, AfterByNameBecomesABatchIndex) {
  auto specs = from_yaml(R"(
- {name: prep, command: [prep]}
- {name: train, command: [train], after: prep}
- {name: eval, command: [eval], after: ['afterany:train', 'prep', 42]}
)");
  ASSERT_TRUE(specs.ok()) << specs.status().message();
  EXPECT_THAT((*specs)[1].dependencies,
              ElementsAre(Dependency{JobId(0), DependencyKind::kAfterOk, 0}));
  EXPECT_THAT((*specs)[2].dependencies,
              ElementsAre(Dependency{JobId(0), DependencyKind::kAfterAny, 1},
                          Dependency{JobId(0), DependencyKind::kAfterOk, 0},
                          Dependency{JobId(42), DependencyKind::kAfterOk, std::nullopt}));
}

TEST(JobFileYaml, AfterAnArrayWaitsForEveryMember) {
  auto specs = from_yaml(R"(
- {name: prep, command: [prep]}
- {name: sweep, command: [sweep], array: 0-2, after: prep}
- {name: merge, command: [merge], after: sweep}
)");
  ASSERT_TRUE(specs.ok()) << specs.status().message();
  ASSERT_EQ(specs->size(), 5u);
  for (std::size_t i = 1; i <= 3; ++i) {
    EXPECT_THAT((*specs)[i].dependencies,
                ElementsAre(Dependency{JobId(0), DependencyKind::kAfterOk, 0}));
  }
  EXPECT_THAT((*specs)[4].dependencies,
              ElementsAre(Dependency{JobId(0), DependencyKind::kAfterOk, 1},
                          Dependency{JobId(0), DependencyKind::kAfterOk, 2},
                          Dependency{JobId(0), DependencyKind::kAfterOk, 3}));
}

TEST(JobFileYaml, ForwardUnknownSelfAndAmbiguousNamesAreErrors) {
  EXPECT_THAT(error_of(from_yaml(R"(
- {name: eval, command: [eval], after: train}
- {name: train, command: [train]}
)")),
              AllOf(StartsWith("jobs.yaml:2:40: job 1 'eval': after 'train'"),
                    HasSubstr("'train' is job 2, which comes later in the file"),
                    HasSubstr("move job 2 'train' before job 1 'eval'")));
  EXPECT_THAT(error_of(from_yaml(R"(
- {name: train, command: [train]}
- {name: eval, command: [eval], after: trian}
)")),
              AllOf(HasSubstr("job 2 'eval': after 'trian': no job named 'trian'"),
                    HasSubstr("did you mean train?")));
  EXPECT_THAT(error_of(from_yaml("{name: a, command: [x], after: a}")),
              HasSubstr("a job cannot wait for itself"));
  EXPECT_THAT(error_of(from_yaml(R"(
- {name: a, command: [x]}
- {name: a, command: [y]}
- {name: b, command: [z], after: a}
)")),
              HasSubstr("jobs 1 and 2 are both named 'a'"));
}

TEST(JobFileYaml, MalformedYamlGivesLineAndColumn) {
  EXPECT_THAT(error_of(from_yaml("- name: a\n  command: [x\n- name: b\n", "batch.yaml")),
              AllOf(StartsWith("batch.yaml:"), HasSubstr("malformed YAML")));
  EXPECT_THAT(error_of(from_yaml("name: a\n  gpus: 2\n")),
              StartsWith("jobs.yaml:2:7: malformed YAML"));
}

// yaml-cpp's Load reads the first document of a stream: `---` between two jobs ran only the
// first, and the second was dropped without a word.
TEST(JobFileYaml, ASecondDocumentIsRefusedNotDropped) {
  EXPECT_EQ(error_of(from_yaml("name: a\ncommand: [x]\n---\nname: b\ncommand: [y]\n")),
            "jobs.yaml:4:1: a second YAML document begins here (after '---'), and a job file is "
            "one document: list every job under `jobs:` (see docs/job-files.md); nothing was "
            "submitted");
  // A `---` that opens the file or closes it, with nothing after it, loses nothing.
  EXPECT_EQ(from_yaml("---\nname: a\ncommand: [x]\n").value().size(), 1u);
  EXPECT_EQ(from_yaml("name: a\ncommand: [x]\n---\n").value().size(), 1u);
}

// The daemon's refusals name a job by its place in the batch; `run` says where it is in
// the file, as the file's own errors do.
TEST(JobFileYaml, ADaemonsRefusalIsToldAtTheJobsPlaceInTheFile) {
  std::vector<std::string> places;
  const std::vector<JobSpec> specs =
      parse_job_file("- {name: a, command: [x]}\n- {name: sweep, array: 0-2, command: [y]}\n",
                     "batch.yaml", alice(), &places)
          .value();
  ASSERT_EQ(places.size(), 4u);
  EXPECT_EQ(places[0], "batch.yaml:1:3: job 1 'a'");
  EXPECT_EQ(places[3], "batch.yaml:2:3: job 2 'sweep'");
  const auto refusal = [](const std::string& message, std::size_t index,
                          const std::string& problem) {
    return invalid_argument(message).with_batch_job(index, problem);
  };
  EXPECT_EQ(locate_batch_error(refusal("job 0 of the batch ('a') asks for 9 GPUs, but ...", 0,
                                       "asks for 9 GPUs, but ..."),
                               specs, places),
            "batch.yaml:1:3: job 1 'a': asks for 9 GPUs, but ...");
  EXPECT_EQ(
      locate_batch_error(refusal("array member 2 ('sweep') asks for 9 GPUs", 3, "asks for 9 GPUs"),
                         specs, places),
      "batch.yaml:2:3: job 2 'sweep': array member 2 asks for 9 GPUs");
  EXPECT_EQ(locate_batch_error(unavailable("the daemon is busy"), specs, places),
            "the daemon is busy");
  EXPECT_EQ(locate_batch_error(refusal("job 7 of the batch: out of range", 7, "out of range"),
                               specs, places),
            "job 7 of the batch: out of range");
}

// The store names a job by its place among the jobs inserted ("job 2 of 4 in the batch"),
// which the words `run` used to read back did not cover: such a refusal was not located.
TEST(JobFileYaml, ARefusalIsLocatedByItsIndexWhateverItsWords) {
  std::vector<std::string> places;
  const std::vector<JobSpec> specs =
      parse_job_file("- {name: a, command: [x]}\n- {name: b, command: [y]}\n", "batch.yaml",
                     alice(), &places)
          .value();
  const Status refused =
      invalid_argument("job 2 of 2 in the batch 'b' depends on job 99, which does not exist")
          .with_batch_job(1, "depends on job 99, which does not exist");
  EXPECT_EQ(locate_batch_error(refused, specs, places),
            "batch.yaml:2:3: job 2 'b': depends on job 99, which does not exist");
}

// The daemon's refusals of several jobs were told one a resubmission; they read as the
// file's own errors do: counted, then each at its place in file order.
TEST(JobFileYaml, SeveralRefusalsOfTheDaemonAreEachLocated) {
  std::vector<std::string> places;
  const std::vector<JobSpec> specs = parse_job_file(
                                         "- {name: a, command: [x]}\n- {name: b, command: [y]}\n"
                                         "- {name: sweep, array: 0-1, command: [z]}\n",
                                         "batch.yaml", alice(), &places)
                                         .value();
  const std::vector<BatchJobError> jobs = {
      {0, "asks for 9 GPUs, but this machine has 4; ask for at most 4", "", "gpus"},
      {3, "declares 1 TiB of GPU memory per GPU, more than ...", "", "gpu_mem"}};
  const Status refused =
      invalid_argument("2 jobs of the batch are refused; ...").with_batch_jobs(jobs);
  EXPECT_EQ(locate_batch_error(refused, specs, places, "batch.yaml"),
            "the daemon refused 2 of batch.yaml's jobs; nothing was submitted (a job file is "
            "taken whole or not at all):\n"
            "batch.yaml:1:3: job 1 'a': asks for 9 GPUs, but this machine has 4; ask for at "
            "most 4\n"
            "batch.yaml:3:3: job 3 'sweep': array member 1 declares 1 TiB of GPU memory per "
            "GPU, more than ...");

  std::vector<JobSpec> many_specs(kMaxJobFileErrorsTold + 3, specs[0]);
  std::vector<std::string> many_places;
  std::vector<BatchJobError> many;
  for (std::size_t i = 0; i < many_specs.size(); ++i) {
    many_places.push_back(fmt::format("big.yaml:{}:3: job {}", i + 1, i + 1));
    many.push_back({i, "asks for 9 GPUs"});
  }
  const std::string told = locate_batch_error(invalid_argument("...").with_batch_jobs(many),
                                              many_specs, many_places, "big.yaml");
  EXPECT_EQ(std::count(told.begin(), told.end(), '\n'), kMaxJobFileErrorsTold + 1);
  EXPECT_TRUE(
      told.ends_with("\nand 3 more refusals after big.yaml:20:3: job 20; fix these "
                     "and run the file again"))
      << told;
}

TEST(JobFileYaml, UnknownFieldNamesTheJobAndSuggests) {
  EXPECT_EQ(error_of(from_yaml(R"(
- {name: prep, command: [x]}
- name: train
  command: [y]
  gpu_mem: 20G
)")),
            "jobs.yaml:5:3: job 2 'train': unknown field 'gpu_mem'; did you mean gpu-mem?");
  // The name below the bad field names the job too (it said "job 1:" alone).
  EXPECT_EQ(error_of(from_yaml("- {gpu_mem: 20G, name: train, command: [y]}\n")),
            "jobs.yaml:1:4: job 1 'train': unknown field 'gpu_mem'; did you mean gpu-mem?");
  EXPECT_THAT(error_of(from_yaml("{command: [x], memory: 2G}")),
              HasSubstr("job 1: unknown field 'memory'; did you mean gpu-mem?"));
  EXPECT_THAT(error_of(from_yaml("{command: [x], depends_on: 3}")),
              HasSubstr("did you mean after?"));
  EXPECT_THAT(error_of(from_yaml("{command: [x], zzzzzz: 3}")),
              HasSubstr("unknown field 'zzzzzz'; the fields are name, command, gpus, gpu-mem"));
  // Under defaults: the list leaves out name, which cannot be a default.
  EXPECT_THAT(error_of(from_yaml("defaults: {zzzzzz: 3}\njobs: [{command: [x]}]\n")),
              HasSubstr("unknown field 'zzzzzz'; the fields are command, gpus, gpu-mem"));
}

TEST(JobFileYaml, WrongTypesAndEmptyValuesAreNamed) {
  EXPECT_THAT(error_of(from_yaml("command: [x]\ngpus: [1, 2]\n")),
              HasSubstr("jobs.yaml:2:7: job 1: gpus: expected a single value, found a list"));
  EXPECT_THAT(error_of(from_yaml("command: [x]\ngpus:\n")),
              HasSubstr("job 1: gpus has no value; give one or remove the line"));
  EXPECT_THAT(error_of(from_yaml("command: [x, [y]]\n")),
              HasSubstr("command item: expected a single value, found a list"));
  EXPECT_THAT(error_of(from_yaml("command: [x]\ngpus: 1\ngpus: 2\n")),
              HasSubstr("jobs.yaml:3:1: job 1: field 'gpus' is given twice"));
  EXPECT_THAT(error_of(from_yaml("- [x]\n")), HasSubstr("job 1: expected a mapping of fields"));
}

TEST(JobFileYaml, FileShapeErrors) {
  EXPECT_THAT(error_of(from_yaml("")), HasSubstr("no jobs in the file"));
  EXPECT_THAT(error_of(from_yaml("jobs: []\n")), HasSubstr("the job list is empty"));
  EXPECT_THAT(error_of(from_yaml("just text\n")), HasSubstr("found a single value"));
  EXPECT_THAT(error_of(from_yaml("jobs: {command: [x]}\n")),
              HasSubstr("jobs: expected a list of jobs"));
  EXPECT_THAT(error_of(from_yaml("gpus: 1\njobs:\n  - command: [x]\n")),
              HasSubstr("'gpus' is a job field at the top level, next to jobs:; put it under "
                        "defaults:"));
  EXPECT_THAT(error_of(from_yaml("default: {gpus: 1}\njobs:\n  - command: [x]\n")),
              HasSubstr("unknown top-level field 'default'; did you mean defaults?"));
  EXPECT_THAT(error_of(from_yaml("defaults: {gpus: 1}\n")), HasSubstr("jobs: is missing"));
  EXPECT_THAT(error_of(from_yaml("defaults: {name: x}\njobs:\n  - command: [x]\n")),
              HasSubstr("defaults: name cannot be a default"));
  EXPECT_THAT(error_of(from_yaml("defaults: {gpus: -1}\njobs:\n  - command: [x]\n")),
              HasSubstr("jobs.yaml:1:18: job 1: gpus '-1' is negative"))
      << "a bad default points at the default's line";
  // Said once: "defaults: defaults: expected a mapping".
  EXPECT_THAT(error_of(from_yaml("defaults: 3\njobs:\n  - command: [x]\n")),
              HasSubstr("jobs.yaml:1:11: defaults: expected a mapping of fields"));
}

TEST(JobFileYaml, OneBadJobRejectsTheWholeBatch) {
  auto specs = from_yaml(R"(
- {name: a, command: [x]}
- {name: b, command: [y]}
- {name: c, command: [z], share: 2}
)");
  ASSERT_FALSE(specs.ok());
  EXPECT_EQ(specs.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(specs.status().message(),
              StartsWith("jobs.yaml:4:34: job 3 'c': share '2' is outside (0, 1]"));
}

// A user fixing a 40-job batch ran it again and again, told one error a try.
TEST(JobFileYaml, EveryErrorOfTheFileIsToldAtOnceInFileOrder) {
  const Result<std::vector<JobSpec>> specs = from_yaml(R"(jobs:
  - name: prep
    command: [python, prep.py]
    gpus: -1
    time: zz
  - name: train
    gpu_mem: 20G
    after: prep
    command: [python, train.py]
  - {name: eval, command: [x], share: 2}
)");
  ASSERT_FALSE(specs.ok());
  EXPECT_EQ(specs.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(specs.status().message(),
            "jobs.yaml has 4 errors; nothing was submitted (a job file is taken whole or not at "
            "all):\n"
            "jobs.yaml:4:11: job 1 'prep': gpus '-1' is negative; use 0 for a CPU-only job or a "
            "count such as 2\n"
            "jobs.yaml:5:11: job 1 'prep': time 'zz': expected a number at 'zz'; use a limit "
            "such as 90m, 2h, 1h30m, 1-00:00:00 (Slurm's D-HH:MM:SS), a bare number of minutes "
            "(90), or unlimited\n"
            "jobs.yaml:7:5: job 2 'train': unknown field 'gpu_mem'; did you mean gpu-mem?\n"
            "jobs.yaml:10:39: job 3 'eval': share '2' is outside (0, 1]; use the fraction of one "
            "GPU's compute the job needs, e.g. 0.5 or 50%, or 1 for a GPU of its own")
      << "job 2's after: prep is not an error: job 1 is there, with errors of its own";
}

// An error told when the field is read is not told again by the job's build in other words.
TEST(JobFileYaml, AValueOfTheWrongTypeIsToldOnce) {
  EXPECT_EQ(error_of(from_yaml("- {command: {x: 1}, gpus: 1}\n- [x]\n- {command: [y], gpus: q}\n")),
            "jobs.yaml has 3 errors; nothing was submitted (a job file is taken whole or not at "
            "all):\n"
            "jobs.yaml:1:13: job 1: command: expected a list (the program and its arguments) or a "
            "string (a shell command), found a mapping\n"
            "jobs.yaml:2:3: job 2: expected a mapping of fields (command:, gpus:, gpu-mem:, "
            "...), found a list\n"
            "jobs.yaml:3:24: job 3: gpus 'q' is not a whole number; use 0 for a CPU-only job or a "
            "count such as 2");
}

// A bad default fails every job that takes it, at one place, in the same words.
TEST(JobFileYaml, ABadDefaultIsToldOnceWithTheJobsThatTakeIt) {
  std::string text = "defaults: {gpus: -1}\njobs:\n";
  for (int i = 0; i < 8; ++i) text += "  - {command: [x]}\n";
  text += "  - {command: [x], gpus: 1, time: zz}\n";
  const std::string message = error_of(from_yaml(text));
  EXPECT_THAT(message, AllOf(StartsWith("jobs.yaml has 2 errors;"),
                             HasSubstr("\njobs.yaml:1:18: defaults: gpus '-1' is negative; use 0 "
                                       "for a CPU-only job or a count such as 2 (jobs 1, 2, 3, "
                                       "4, 5 and 3 more take it)\n"),
                             HasSubstr("\njobs.yaml:11:35: job 9: time 'zz'")));
}

TEST(JobFileYaml, ManyErrorsAreCappedWithACountOfTheRest) {
  std::string text;
  const std::size_t jobs = kMaxJobFileErrorsTold + 7;
  for (std::size_t i = 1; i <= jobs; ++i) text += fmt::format("- {{command: [x], gpus: -{}}}\n", i);
  const std::string message = error_of(from_yaml(text));
  EXPECT_THAT(message, StartsWith(fmt::format("jobs.yaml has {} errors;", jobs)));
  EXPECT_THAT(message, HasSubstr(fmt::format("\njobs.yaml:{}:24: job {}: gpus '-{}' is negative",
                                             kMaxJobFileErrorsTold, kMaxJobFileErrorsTold,
                                             kMaxJobFileErrorsTold)));
  EXPECT_THAT(message, Not(HasSubstr(fmt::format("job {}:", kMaxJobFileErrorsTold + 1))));
  EXPECT_THAT(message,
              ::testing::EndsWith(fmt::format("\nand 7 more errors after line {}; fix these and "
                                              "run the file again",
                                              kMaxJobFileErrorsTold)));
  EXPECT_EQ(std::count(message.begin(), message.end(), '\n'), kMaxJobFileErrorsTold + 1);
}

// Past a YAML syntax error nothing can be read, and past a wrong top level the jobs are not
// where they would be looked for: the first error alone, as before.
TEST(JobFileYaml, AFileThatIsNotReadAsJobsIsToldByItsFirstError) {
  EXPECT_EQ(error_of(from_yaml("- {command: [x], gpus: -1\n- {command: [y], time: zz}\n")),
            "jobs.yaml:2:3: malformed YAML: end of map flow not found; the jobs are checked "
            "once the file reads as YAML");
  EXPECT_THAT(error_of(from_yaml("default: {gpus: 1}\njobs:\n  - {command: [x], gpus: -1}\n")),
              StartsWith("jobs.yaml:1:1: unknown top-level field 'default'; did you mean "
                         "defaults?"));
}

TEST(JobFileYaml, OnlyOneArrayPerFile) {
  EXPECT_THAT(error_of(from_yaml(R"(
- {name: a, command: [x], array: 0-3}
- {name: b, command: [y], array: 0-3}
)")),
              HasSubstr("job 2 'b': only one array per file, and job 1 is already one"));
}

TEST(JobFileYaml, RelativeWorkdirIsRelativeToTheFile) {
  const std::string text = "- {command: [x], workdir: data}\n- {command: [y]}\n";
  auto specs = from_yaml(text, "sub/jobs.yaml");
  ASSERT_TRUE(specs.ok()) << specs.status().message();
  EXPECT_EQ((*specs)[0].working_dir, "/home/alice/project/sub/data");
  EXPECT_EQ((*specs)[1].working_dir, "/home/alice/project")
      << "without workdir a job runs where fastgpu run was started";
  EXPECT_EQ(from_yaml(text, "/srv/batches/jobs.yaml")->front().working_dir, "/srv/batches/data");
}

TEST(JobFileYaml, ParsedBatchIsAcceptedByTheStore) {
  auto specs = from_yaml(R"(
- {name: prep, command: [prep], gpus: 0}
- {name: sweep, command: [sweep], array: 0-3%2, after: prep, gpu-mem: 4G, share: 0.5}
- {name: merge, command: [merge], after: 'afterany:sweep'}
)");
  ASSERT_TRUE(specs.ok()) << specs.status().message();
  auto store = store::open_sqlite_store(":memory:");
  ASSERT_TRUE(store.ok()) << store.status().message();
  auto ids = (*store)->submit(*specs);
  ASSERT_TRUE(ids.ok()) << ids.status().message();
  ASSERT_EQ(ids->size(), 6u);
  auto merge = (*store)->get_job(ids->back());
  ASSERT_TRUE(merge.ok());
  ASSERT_EQ(merge->spec.dependencies.size(), 4u);
  EXPECT_EQ(merge->spec.dependencies.front().job, (*ids)[1]);
  auto member = (*store)->get_job((*ids)[2]);
  ASSERT_TRUE(member.ok());
  EXPECT_EQ(member->spec.array->array_id, (*ids)[1].value());
}

// `after: [prep, prep]` once stopped `fastgpu run` with the store's "UNIQUE constraint
// failed: dependencies.job, dependencies.after"; a name given twice is waited for once.
TEST(JobFileYaml, AJobNamedTwiceInAfterIsWaitedForOnce) {
  auto specs = from_yaml(R"(
- {name: prep, command: [prep], gpus: 0}
- {name: train, command: [train], gpus: 0, after: [prep, prep, 'afterany:prep']}
)");
  ASSERT_TRUE(specs.ok()) << specs.status().message();
  EXPECT_THAT((*specs)[1].dependencies,
              ElementsAre(Dependency{JobId(0), DependencyKind::kAfterOk, 0}));
  auto store = store::open_sqlite_store(":memory:");
  ASSERT_TRUE(store.ok()) << store.status().message();
  auto ids = (*store)->submit(*specs);
  ASSERT_TRUE(ids.ok()) << ids.status().message();
}

std::string read_example(const std::string& name) {
  std::ifstream in(std::string(FASTGPU_SOURCE_DIR) + "/examples/" + name);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(JobFileYaml, CpuExampleBatchParses) {
  auto specs = from_yaml(read_example("batch-cpu.yaml"), "examples/batch-cpu.yaml");
  ASSERT_TRUE(specs.ok()) << specs.status().message();
  EXPECT_GE(specs->size(), 12u);
  std::size_t twenty_gig = 0;
  std::size_t by_name = 0;
  std::size_t members = 0;
  for (const JobSpec& spec : *specs) {
    if (spec.gpus > 0) {
      EXPECT_EQ(spec.argv.at(0), "fastgpu-burn-cpu");
    }
    if (spec.gpu_mem == Bytes{20} << 30) ++twenty_gig;
    for (const Dependency& dependency : spec.dependencies)
      by_name += dependency.batch_index ? 1 : 0;
    if (spec.array) ++members;
  }
  EXPECT_EQ(twenty_gig, 8u) << "eight 20G jobs pack two simulated 80G GPUs";
  EXPECT_GE(by_name, 1u);
  EXPECT_GE(members, 2u);
}

TEST(JobFileYaml, H100ExampleBatchParses) {
  auto specs = from_yaml(read_example("batch-h100.yaml"), "examples/batch-h100.yaml");
  ASSERT_TRUE(specs.ok()) << specs.status().message();
  ASSERT_EQ(specs->size(), 16u);
  for (const JobSpec& spec : *specs) {
    EXPECT_EQ(spec.argv.front(), "fastgpu-burn");
    EXPECT_EQ(spec.gpus, 1);
    ASSERT_TRUE(spec.gpu_mem.has_value());
    EXPECT_LT(spec.util_share, 1.0) << "a share below 1 lets jobs pack";
  }
  auto serial =
      from_yaml(read_example("batch-h100-serial.yaml"), "examples/batch-h100-serial.yaml");
  ASSERT_TRUE(serial.ok()) << serial.status().message();
  ASSERT_EQ(serial->size(), 16u);
  for (std::size_t i = 0; i < 16; ++i) {
    EXPECT_EQ((*serial)[i].argv, (*specs)[i].argv) << "the same work, one job at a time";
    EXPECT_DOUBLE_EQ((*serial)[i].util_share, 1.0);
  }
}

}  // namespace
}  // namespace fastgpu::engine
