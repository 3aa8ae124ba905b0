// `#FASTGPU` lines at the head of a job's script: what they give, where they stop, what wins
// over them, and errors that name the file and the line.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <random>

#include "engine/engine_test_util.h"
#include "engine/job_file_test_util.h"
#include "fastgpu/engine/job_file.h"

namespace fastgpu::engine {
namespace {

using testing::alice;
using ::testing::AllOf;
using ::testing::ElementsAre;
using testing::error_of;
using ::testing::HasSubstr;
using ::testing::Pair;
using testing::TempDir;

ScriptFlags read(std::string_view text) {
  Result<std::optional<ScriptFlags>> read = parse_script_directives(text, "train.sh", alice());
  EXPECT_TRUE(read.ok()) << read.status().message();
  EXPECT_TRUE(read.ok() && read->has_value());
  return read.ok() && read->has_value() ? **read : ScriptFlags{};
}

SubmitOptions given(std::string_view text) { return read(text).options; }

std::string refused(std::string_view text) {
  return error_of(parse_script_directives(text, "train.sh", alice()));
}

TEST(ScriptDirectives, EachLineGivesFlagsAndALaterLineWins) {
  const SubmitOptions options = given(
      "#!/bin/bash\n"
      "# train the model\n"
      "#FASTGPU --gpus 2 --gpu-mem 20G -J train\n"
      "\n"
      "#FASTGPU --time 2h   # a comment after the flags\n"
      "#FASTGPU --gpus 4 --env A=1 --after 12\n"
      "#FASTGPU --env 'B=two words' --env \"C=say \\\"hi\\\"\" --after afterany:13 --restartable\n"
      "python3 train.py\n");
  EXPECT_EQ(options.gpus, "4");
  EXPECT_EQ(options.gpu_mem, "20G");
  EXPECT_EQ(options.name, "train");
  EXPECT_EQ(options.time, "2h");
  EXPECT_EQ(options.restartable, "true");
  EXPECT_THAT(options.env,
              ElementsAre(Pair("A", "1"), Pair("B", "two words"), Pair("C", "say \"hi\"")));
  EXPECT_THAT(options.after, ElementsAre("12", "afterany:13"));
  EXPECT_TRUE(options.argv.empty());
}

TEST(ScriptDirectives, OnlyTheHeadIsReadAndOnlyWholeDirectives) {
  const SubmitOptions options = given(
      "#!/bin/sh\n"
      "  #FASTGPU --priority 9\n"  // indented: a comment, as sbatch reads it
      "#FASTGPUS --priority 8\n"   // another word
      "##FASTGPU --priority 7\n"   // commented out
      "#FASTGPU\t--priority 5\n"
      "echo start\n"
      "#FASTGPU --priority 6\n");  // after the first command: the script's own comment
  EXPECT_EQ(options.priority, "5");
  // None at all, and a program that is not a script.
  EXPECT_FALSE(*parse_script_directives("#!/bin/sh\necho hi\n", "x.sh", alice()));
  EXPECT_FALSE(*parse_script_directives("#SBATCHX -J x\n#SBATCH_ -J y\n", "x.sh", alice()));
  EXPECT_FALSE(*parse_script_directives(std::string("\x7f"
                                                    "ELF\x02\x01",
                                                    6),
                                        "a.out", alice()));
  EXPECT_FALSE(*parse_script_directives("", "empty.sh", alice()));
}

TEST(ScriptDirectives, AnErrorNamesTheFileTheLineAndWhatIsWrong) {
  EXPECT_THAT(refused("#!/bin/sh\n#FASTGPU --gpus 2 --gpu-memory 20G\n"),
              HasSubstr("train.sh:2: #FASTGPU --gpus 2 --gpu-memory 20G: '--gpu-memory' is not a "
                        "flag of `fastgpu submit` (`fastgpu submit --help` lists them)"));
  EXPECT_THAT(refused("#FASTGPU --wait\n"),
              HasSubstr("'--wait' is a flag of the submitting command, not of the job: give it "
                        "to `fastgpu submit`"));
  EXPECT_THAT(refused("#FASTGPU --time\n"), HasSubstr("#FASTGPU --time: --time needs a value"));
  // A value its flag refuses, with the flag's own message.
  EXPECT_THAT(refused("#FASTGPU --name ok\n#FASTGPU --gpus two\n"),
              AllOf(HasSubstr("train.sh:2: #FASTGPU --gpus two: "), HasSubstr("two")));
  EXPECT_THAT(refused("#FASTGPU --time 2x\n"), HasSubstr("train.sh:1: #FASTGPU --time 2x: "));
  EXPECT_THAT(refused("#FASTGPU --gpus 1 python3 train.py\n"),
              HasSubstr("'python3' is not a flag: a #FASTGPU line gives flags only, and the "
                        "script is the command"));
  EXPECT_THAT(refused("#FASTGPU --wrap 'echo hi'\n"), HasSubstr("--wrap is not a flag"));
  EXPECT_THAT(refused("#FASTGPU --name 'train\n"),
              HasSubstr("train.sh:1: #FASTGPU --name 'train: a ' is not closed"));
  EXPECT_THAT(refused("#FASTGPU --env \"A=1\n"), HasSubstr("a \" is not closed"));
}

// A Slurm script's own lines: those that mean something here are read as submit's flags,
// the others left out and listed; #FASTGPU lines win over them.
TEST(ScriptDirectives, SbatchLinesThatMeanSomethingHereAreRead) {
  const ScriptFlags flags = read(
      "#!/bin/bash\n"
      "#SBATCH --job-name=train -p gpu\n"
      "#SBATCH --time 1-00:00:00 --gres=gpu:a100:2 --mem=32G\n"
      "#SBATCH -Jtrain2 --cpus-per-task 8 --output=%j.out\n"
      "#SBATCH --array=0-3%2 -d afterok:7 --requeue -H\n"
      "#SBATCH --chdir=/data --exclusive\n"
      "srun python3 train.py\n");
  EXPECT_EQ(flags.options.name, "train2");
  EXPECT_EQ(flags.options.time, "1-00:00:00");
  EXPECT_EQ(flags.options.gpus, "2");
  EXPECT_EQ(flags.gpu_type, "a100");
  EXPECT_EQ(flags.options.array, "0-3%2");
  EXPECT_THAT(flags.options.after, ElementsAre("afterok:7"));
  EXPECT_EQ(flags.options.restartable, "true");
  EXPECT_EQ(flags.options.hold, "true");
  EXPECT_EQ(flags.options.workdir, "/data");
  EXPECT_THAT(flags.left_out,
              ElementsAre("-p gpu", "--mem 32G", "--cpus-per-task 8", "--output %j.out"));
  // Their words as written, for a Slurm cluster that still reads them.
  EXPECT_THAT(flags.left_out_words,
              ElementsAre(ElementsAre("-p", "gpu"), ElementsAre("--mem=32G"),
                          ElementsAre("--cpus-per-task", "8"), ElementsAre("--output=%j.out")));
  // Slurm's other ways to ask for GPUs, and a resource that is not one.
  EXPECT_EQ(given("#SBATCH -G 4\n").gpus, "4");
  EXPECT_EQ(given("#SBATCH --gpus=h100:3\n").gpus, "3");
  EXPECT_EQ(given("#SBATCH --gpus-per-node=2\n").gpus, "2");
  EXPECT_EQ(given("#SBATCH --gres=license:1,gpu\n").gpus, "1");
  EXPECT_EQ(read("#SBATCH --gpus=h100:3\n").gpu_type, "h100");
  EXPECT_EQ(read("#SBATCH --gres=gpu:h100\n").gpu_type, "h100");
  EXPECT_EQ(given("#SBATCH --gres=gpu:h100\n").gpus, "1");
  EXPECT_EQ(read("#SBATCH --gres=gpu:a100:2\n#SBATCH -G 1\n").gpu_type, std::nullopt)
      << "the later line's GPUs, of no type";
  const ScriptFlags license = read("#SBATCH --gres=license:2\n");
  EXPECT_FALSE(license.options.gpus);
  EXPECT_THAT(license.left_out, ElementsAre("--gres license:2"));
  // #FASTGPU over #SBATCH, wherever each is.
  const SubmitOptions both = given("#FASTGPU --time 2h --gpus 1\n#SBATCH -t 10 -G 2 -J x\n");
  EXPECT_EQ(both.time, "2h");
  EXPECT_EQ(both.gpus, "1");
  EXPECT_EQ(both.name, "x");
}

TEST(ScriptDirectives, ABadSbatchValueIsToldAtItsLine) {
  EXPECT_THAT(refused("#!/bin/bash\n#SBATCH --time=forever\n"),
              HasSubstr("train.sh:2: #SBATCH --time=forever: "));
  EXPECT_THAT(refused("#SBATCH --dependency=singleton\n"),
              HasSubstr("dependency type 'singleton' is not supported"));
  EXPECT_THAT(refused("#SBATCH --job-name\n"), HasSubstr("--job-name needs a value"));
  EXPECT_THAT(refused("#SBATCH train.sh\n"), HasSubstr("'train.sh' is not an sbatch option"));
}

// Scripts as they come: thousands of heads made of flags, values, quotes, backslashes,
// comments and stray bytes. Each is read or refused, and a refusal names its file and line.
TEST(ScriptDirectives, AnyHeadIsReadOrRefusedAtItsLine) {
  static const std::vector<std::string> kWords = {"--gpus",
                                                  "2",
                                                  "-G",
                                                  "--gpu-mem",
                                                  "20G",
                                                  "--time",
                                                  "1:00:00",
                                                  "-t",
                                                  "--name",
                                                  "a b",
                                                  "--env",
                                                  "A=1",
                                                  "--after",
                                                  "afterok:3",
                                                  "--array",
                                                  "0-3%2",
                                                  "--restartable",
                                                  "--hold",
                                                  "--job-name=x",
                                                  "--gres=gpu:a100:2",
                                                  "--partition",
                                                  "gpu",
                                                  "-J",
                                                  "-Jy",
                                                  "--",
                                                  "'",
                                                  "\"",
                                                  "\\",
                                                  "#",
                                                  "'quoted words'",
                                                  "\"a \\\" b\"",
                                                  "--wrap",
                                                  "--wait",
                                                  "-1",
                                                  "=",
                                                  "--time=",
                                                  "--gres=",
                                                  "-",
                                                  "\t",
                                                  "\xff\xfe",
                                                  "%",
                                                  "$HOME",
                                                  "`x`",
                                                  "--workdir",
                                                  "/tmp"};
  std::mt19937 random(20261207);
  std::size_t refusals = 0;
  for (int script = 0; script < 3000; ++script) {
    std::string text = random() % 2 == 0 ? "#!/bin/sh\n" : "";
    const std::size_t lines = 1 + random() % 4;
    for (std::size_t line = 0; line < lines; ++line) {
      text += random() % 2 == 0 ? "#FASTGPU" : (random() % 2 == 0 ? "#SBATCH" : "# note");
      const std::size_t words = random() % 6;
      for (std::size_t word = 0; word < words; ++word) {
        text += (random() % 8 == 0 ? "" : " ") + kWords[random() % kWords.size()];
      }
      text += "\n";
    }
    Result<std::optional<ScriptFlags>> read = parse_script_directives(text, "train.sh", alice());
    if (read.ok()) continue;
    ++refusals;
    EXPECT_THAT(read.status().message(),
                ::testing::MatchesRegex("train\\.sh:[0-9]+: #(FASTGPU|SBATCH)(.|\n)*"))
        << text;
  }
  // Both ways happen: the words make good lines and bad ones.
  EXPECT_GT(refusals, 300u);
  EXPECT_LT(refusals, 2900u);
}

// Scripts on disk, as `fastgpu submit` finds them.
class ScriptFiles : public ::testing::Test {
 protected:
  SubmitContext here() const {
    SubmitContext context = alice();
    context.working_dir = dir_.path();
    return context;
  }
  void write(const std::string& name, const std::string& text) const {
    std::filesystem::create_directories((dir_.path() / name).parent_path());
    std::ofstream(dir_.path() / name) << text;
  }
  Result<SubmitOptions> submitted(SubmitOptions command_line) const {
    Result<ScriptSubmission> submission = with_script_directives(command_line, here());
    if (!submission.ok()) return submission.status();
    return submission->flags.options;
  }
  static SubmitOptions command(std::vector<std::string> argv) {
    SubmitOptions options;
    options.argv = std::move(argv);
    return options;
  }

  TempDir dir_;
};

TEST_F(ScriptFiles, TheCommandLineWinsOverTheScript) {
  write("train.sh", "#!/bin/sh\n#FASTGPU --gpus 2 --time 2h --env A=script --env B=script\n");
  SubmitOptions command_line = command({"./train.sh", "--epochs", "3"});
  command_line.time = "30m";
  command_line.env = {{"A", "command line"}};
  Result<SubmitOptions> options = submitted(command_line);
  ASSERT_TRUE(options.ok()) << options.status().message();
  EXPECT_EQ(options->gpus, "2");
  EXPECT_EQ(options->time, "30m");
  EXPECT_THAT(options->argv, ElementsAre("./train.sh", "--epochs", "3"));
  // Both --env lists, the command line's last: its A is the job's.
  Result<std::vector<store::JobSpec>> specs = build_job_specs(*options, here());
  ASSERT_TRUE(specs.ok()) << specs.status().message();
  const std::vector<std::string> environment(specs->front().environment.begin(),
                                             specs->front().environment.end());
  EXPECT_THAT(environment, ::testing::Contains("A=command line"));
  EXPECT_THAT(environment, ::testing::Contains("B=script"));
  EXPECT_THAT(environment, ::testing::Not(::testing::Contains("A=script")));
  EXPECT_EQ(specs->front().gpus, 2);
  EXPECT_EQ(specs->front().time_limit_s, 30 * 60);
}

TEST_F(ScriptFiles, TheScriptAnInterpreterRunsIsReadToo) {
  write("train.py", "#!/usr/bin/env python3\n#FASTGPU --gpus 0 --name py\nprint(1)\n");
  Result<SubmitOptions> options = submitted(command({"python3", "train.py"}));
  ASSERT_TRUE(options.ok()) << options.status().message();
  EXPECT_EQ(options->name, "py");
  // Not an interpreter's flag, nor a program found through PATH alone, nor --wrap.
  EXPECT_FALSE(submitted(command({"python3", "-u", "train.py"}))->name);
  EXPECT_FALSE(submitted(command({"train.py"}))->name);
  SubmitOptions wrapped;
  wrapped.shell_command = "python3 train.py";
  EXPECT_FALSE(submitted(wrapped)->name);
  // A script that is not there: the job's start says so, not submit.
  EXPECT_TRUE(submitted(command({"./missing.sh"})).ok());
}

TEST_F(ScriptFiles, TheScriptIsFoundInTheJobsFolder) {
  write("jobs/run.sh", "#FASTGPU --name in-jobs\n");
  SubmitOptions command_line = command({"./run.sh"});
  command_line.workdir = "jobs";
  Result<SubmitOptions> options = submitted(command_line);
  ASSERT_TRUE(options.ok()) << options.status().message();
  EXPECT_EQ(options->name, "in-jobs");
  EXPECT_THAT(options->argv, ElementsAre("./run.sh"));
}

// A line that gives the job another folder: the job still runs the script that was read.
TEST_F(ScriptFiles, AFolderOfTheScriptsOwnKeepsItsScript) {
  write("run.sh", "#FASTGPU --workdir /tmp\n");
  Result<SubmitOptions> options = submitted(command({"./run.sh", "x"}));
  ASSERT_TRUE(options.ok()) << options.status().message();
  EXPECT_EQ(options->workdir, "/tmp");
  EXPECT_THAT(options->argv, ElementsAre((dir_.path() / "run.sh").string(), "x"));
  write("b.sh", "#FASTGPU --workdir /tmp\n");
  options = submitted(command({"bash", "b.sh"}));
  ASSERT_TRUE(options.ok()) << options.status().message();
  EXPECT_THAT(options->argv, ElementsAre("bash", (dir_.path() / "b.sh").string()));
}

TEST_F(ScriptFiles, AnErrorNamesTheScriptAsTheUserNamedIt) {
  write("train.sh", "#!/bin/sh\n\n#FASTGPU --gpus -1\n");
  EXPECT_THAT(error_of(submitted(command({"./train.sh"}))),
              HasSubstr("./train.sh:3: #FASTGPU --gpus -1: "));
  EXPECT_THAT(error_of(submitted(command({"sh", "train.sh"}))),
              HasSubstr("train.sh:3: #FASTGPU --gpus -1: "));
}

}  // namespace
}  // namespace fastgpu::engine
