// `#FASTGPU` lines at the head of a job's script: submit's flags kept with the script, as
// sbatch reads `#SBATCH` lines; and a Slurm script's own `#SBATCH` lines, those that mean
// something here (docs/cli.md, "Flags in the script").
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <fstream>
#include <map>
#include <string>
#include <system_error>

#include "fastgpu/engine/job_file.h"

namespace fastgpu::engine {
namespace {

constexpr std::string_view kDirective = "#FASTGPU";
constexpr std::string_view kSbatch = "#SBATCH";
// How much of a script's head is read for its lines: they come before its first command.
constexpr std::size_t kMostScriptBytes = 64 * 1024;

// A directive's words, as a shell splits them without expanding anything: blanks part
// them, '...' keeps everything, "..." keeps everything but \" and \\, a backslash keeps the
// next character, and a word that starts with # ends the line (a comment).
Result<std::vector<std::string>> split_words(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  for (std::size_t at = 0; at < text.size(); ++at) {
    const char c = text[at];
    if (c == ' ' || c == '\t' || c == '\r') {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
    } else if (c == '#' && !in_word) {
      break;
    } else if (c == '\'') {
      const std::size_t end = text.find('\'', at + 1);
      if (end == std::string_view::npos) return invalid_argument("a ' is not closed");
      word.append(text.substr(at + 1, end - at - 1));
      in_word = true;
      at = end;
    } else if (c == '"') {
      in_word = true;
      for (++at;; ++at) {
        if (at >= text.size()) return invalid_argument("a \" is not closed");
        if (text[at] == '"') break;
        if (text[at] == '\\' && at + 1 < text.size() &&
            (text[at + 1] == '"' || text[at + 1] == '\\')) {
          ++at;
        }
        word += text[at];
      }
    } else if (c == '\\') {
      if (at + 1 < text.size()) word += text[++at];
      in_word = true;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (in_word) words.push_back(std::move(word));
  return words;
}

// What CLI11's error means, in words: "The following argument was not expected: --gpu-memory"
// is a flag submit does not have, "--gpus: 1 required TEXT missing" a flag without its value.
std::string parse_error_text(const CLI::App& app, const CLI::ParseError& error) {
  static const std::vector<std::string> kCommandLineOnly = {"-W",       "--wait", "-f",
                                                            "--follow", "--json", "--devices"};
  if (dynamic_cast<const CLI::ExtrasError*>(&error) != nullptr) {
    for (const std::string& word : app.remaining()) {
      if (word.size() < 2 || word.front() != '-') continue;
      const std::string flag = word.substr(0, word.find('='));
      if (std::find(kCommandLineOnly.begin(), kCommandLineOnly.end(), flag) !=
          kCommandLineOnly.end()) {
        return fmt::format(
            "'{}' is a flag of the submitting command, not of the job: give it to "
            "`fastgpu submit`",
            flag);
      }
      return fmt::format(
          "'{}' is not a flag of `fastgpu submit` (`fastgpu submit --help` lists "
          "them)",
          word);
    }
  }
  const std::string text = error.what();
  if (dynamic_cast<const CLI::ArgumentMismatch*>(&error) != nullptr &&
      text.find(" required ") != std::string::npos && text.ends_with(" missing")) {
    return text.substr(0, text.find(':')) + " needs a value";
  }
  return text +
         "; a #FASTGPU line takes the flags of `fastgpu submit` (`fastgpu submit --help` "
         "lists them)";
}

// `later`'s fields over `earlier`'s: each field it gives is its own; --env entries add up
// (the later's last, so that its value of a name wins), and --after too.
void lay_over(SubmitOptions& earlier, SubmitOptions later) {
  auto over = [](std::optional<std::string>& kept, std::optional<std::string>& given) {
    if (given) kept = std::move(given);
  };
  over(earlier.gpus, later.gpus);
  over(earlier.gpu_mem, later.gpu_mem);
  over(earlier.time, later.time);
  over(earlier.grace, later.grace);
  over(earlier.priority, later.priority);
  over(earlier.name, later.name);
  over(earlier.array, later.array);
  over(earlier.restartable, later.restartable);
  over(earlier.hold, later.hold);
  over(earlier.share, later.share);
  over(earlier.deadline, later.deadline);
  over(earlier.workdir, later.workdir);
  earlier.after.insert(earlier.after.end(), later.after.begin(), later.after.end());
  earlier.env.insert(earlier.env.end(), later.env.begin(), later.env.end());
}

// The values a line gave, each checked where it is written: the same checks as the flags',
// with a stand-in command.
Status check_alone(SubmitOptions options, const SubmitContext& context) {
  options.argv = {"true"};
  Result<std::vector<store::JobSpec>> specs = build_job_specs(options, context);
  return specs.ok() ? Status::ok_status() : specs.status();
}

// One directive's flags; an error says what is wrong with them, without the place.
Result<SubmitOptions> parse_directive(std::string_view flags, const SubmitContext& context) {
  Result<std::vector<std::string>> words = split_words(flags);
  if (!words.ok()) return words.status();
  SubmitOptions options;
  CLI::App app("#FASTGPU");
  add_submit_flags(app, options);
  std::vector<std::string> reversed(words->rbegin(), words->rend());
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& error) {
    return invalid_argument(parse_error_text(app, error));
  }
  if (!options.argv.empty() || options.shell_command) {
    const std::string what =
        options.shell_command ? "--wrap" : fmt::format("'{}'", options.argv.front());
    return invalid_argument(fmt::format(
        "{} is not a flag: a #FASTGPU line gives flags only, and the script is the command", what));
  }
  FASTGPU_RETURN_IF_ERROR(check_alone(options, context));
  return options;
}

// The GPUs of Slurm's --gpus (N or TYPE:N) or of --gres's gpu entry (gpu, gpu:N,
// gpu:TYPE:N, gpu:TYPE; another resource, such as a license, is not a GPU): their count and
// type (empty for none); nullopt when it names none.
struct SlurmGpus {
  std::string count;
  std::string type;
};
std::optional<SlurmGpus> slurm_gpus(std::string_view value, bool gres) {
  for (std::size_t at = 0; at <= value.size();) {
    std::size_t end = value.find(',', at);
    if (end == std::string_view::npos) end = value.size();
    std::string_view item = value.substr(at, end - at);
    at = end + 1;
    if (gres) {
      if (!item.starts_with("gpu")) continue;
      item.remove_prefix(3);
      if (item.empty()) return SlurmGpus{"1", ""};  // --gres=gpu: one
      if (item.front() != ':') continue;
      item.remove_prefix(1);
    }
    const std::size_t colon = item.rfind(':');
    const std::string_view last = colon == std::string_view::npos ? item : item.substr(colon + 1);
    const bool counted = !last.empty() && last.find_first_not_of("0123456789") == std::string::npos;
    if (gres && !counted && colon == std::string_view::npos) {
      return SlurmGpus{"1", std::string(item)};  // gpu:TYPE: one of that type
    }
    return SlurmGpus{std::string(last),
                     colon == std::string_view::npos ? "" : std::string(item.substr(0, colon))};
  }
  return std::nullopt;
}

// One `#SBATCH` line's options that mean something here, in submit's fields; the others are
// listed in `flags.left_out` as written. Slurm's spellings: --job-name=x, --job-name x, -J x,
// -Jx.
Status translate_sbatch(const std::vector<std::string>& words, SubmitOptions& options,
                        ScriptFlags& flags) {
  static const std::map<std::string, std::string> kShort = {
      {"J", "job-name"},   {"t", "time"},  {"G", "gpus"}, {"a", "array"},
      {"d", "dependency"}, {"D", "chdir"}, {"H", "hold"}};
  // The options whose value is a submit field's as it is.
  static const std::map<std::string, std::optional<std::string> SubmitOptions::*> kFields = {
      {"job-name", &SubmitOptions::name},
      {"time", &SubmitOptions::time},
      {"array", &SubmitOptions::array},
      {"chdir", &SubmitOptions::workdir}};
  for (std::size_t at = 0; at < words.size(); ++at) {
    const std::size_t first_word = at;
    const std::string& word = words[at];
    if (word.size() < 2 || word.front() != '-') {
      return invalid_argument(fmt::format("'{}' is not an sbatch option", word));
    }
    std::string name;
    std::optional<std::string> value;
    if (word.starts_with("--")) {
      const std::size_t equals = word.find('=');
      name = word.substr(2, equals == std::string::npos ? std::string::npos : equals - 2);
      if (equals != std::string::npos) value = word.substr(equals + 1);
    } else {
      name = word.substr(1, 1);
      if (auto found = kShort.find(name); found != kShort.end()) name = found->second;
      if (word.size() > 2) value = word.substr(2);
    }
    const bool flag =
        name == "hold" || name == "requeue" || name == "no-requeue" || name == "exclusive";
    // A value in the next word: the option's own, or, for one not read here, a word that is
    // not an option.
    if (!value && !flag && at + 1 < words.size() &&
        (words[at + 1].empty() || words[at + 1].front() != '-')) {
      value = words[++at];
    }
    const std::string written =
        value ? fmt::format("{} {}", word.substr(0, word.find('=')), *value) : word;
    const auto leave_out = [&] {
      flags.left_out.push_back(written);
      flags.left_out_words.emplace_back(words.begin() + static_cast<std::ptrdiff_t>(first_word),
                                        words.begin() + static_cast<std::ptrdiff_t>(at) + 1);
    };
    const bool gpus = name == "gpus" || name == "gpus-per-node" || name == "gres";
    if (!value && (gpus || name == "dependency" || kFields.contains(name))) {
      return invalid_argument(fmt::format("{} needs a value", word));
    }
    if (auto field = kFields.find(name); field != kFields.end()) {
      options.*(field->second) = *value;
    } else if (gpus) {
      if (std::optional<SlurmGpus> asked = slurm_gpus(*value, name == "gres")) {
        options.gpus = std::move(asked->count);
        flags.gpu_type = asked->type.empty() ? std::nullopt : std::optional(asked->type);
      } else {
        leave_out();
      }
    } else if (name == "dependency") {
      options.after.push_back(*value);
    } else if (name == "hold") {
      options.hold = "true";
    } else if (name == "requeue" || name == "no-requeue") {
      options.restartable = name == "requeue" ? "true" : "false";
    } else if (name == "exclusive" && !value) {
      // Each GPU to itself, as a job has it unless it declares a --share.
    } else {
      leave_out();
      flags.output_left_out = flags.output_left_out || name == "output" || name == "error" ||
                              name == "o" || name == "e";
    }
  }
  return Status::ok_status();
}

}  // namespace

Result<std::optional<ScriptFlags>> parse_script_directives(std::string_view text,
                                                           const std::string& file_name,
                                                           const SubmitContext& context) {
  std::optional<SubmitOptions> fastgpu;
  std::optional<SubmitOptions> sbatch;
  ScriptFlags given;
  std::size_t line_number = 0;
  for (std::size_t at = 0; at < text.size();) {
    std::size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(at, end - at);
    at = end + 1;
    ++line_number;
    const std::size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string_view::npos) continue;  // a blank line
    // The head ends at the script's first line that is not a comment (its first command).
    if (line[first] != '#') break;
    if (first != 0) continue;
    const bool ours = line.starts_with(kDirective);
    if (!ours && !line.starts_with(kSbatch)) continue;
    const std::string_view marker = ours ? kDirective : kSbatch;
    const std::string_view flags = line.substr(marker.size());
    if (!flags.empty() && flags.front() != ' ' && flags.front() != '\t') continue;  // #FASTGPUX
    auto located = [&](const Status& error) {
      return invalid_argument(
          fmt::format("{}:{}: {}{}: {}", file_name, line_number, marker, flags, error.message()));
    };
    if (ours) {
      Result<SubmitOptions> options = parse_directive(flags, context);
      if (!options.ok()) return located(options.status());
      if (!fastgpu) fastgpu.emplace();
      lay_over(*fastgpu, std::move(*options));
      continue;
    }
    Result<std::vector<std::string>> words = split_words(flags);
    if (!words.ok()) return located(words.status());
    SubmitOptions options;
    if (Status read = translate_sbatch(*words, options, given); !read.ok()) {
      return located(read);
    }
    if (Status checked = check_alone(options, context); !checked.ok()) return located(checked);
    if (!sbatch) sbatch.emplace();
    lay_over(*sbatch, std::move(options));
  }
  if (!fastgpu && !sbatch) return std::optional<ScriptFlags>();
  // The #FASTGPU lines over the #SBATCH ones: they were written for FastGPU.
  given.options = sbatch.value_or(SubmitOptions{});
  if (fastgpu) lay_over(given.options, std::move(*fastgpu));
  return std::optional<ScriptFlags>(std::move(given));
}

namespace {

// Which word of the command names the script (command_script()), and the script's path.
struct ScriptWord {
  std::size_t index;
  std::filesystem::path path;
};

std::optional<ScriptWord> script_word(const SubmitOptions& options, const SubmitContext& context) {
  if (options.argv.empty()) return std::nullopt;
  // The program itself, named by its path (./train.sh); else the file an interpreter runs
  // (`bash train.sh`, `python3 train.py`).
  std::size_t index = 0;
  if (options.argv.front().find('/') == std::string::npos) {
    if (options.argv.size() < 2 || options.argv[1].empty() || options.argv[1].front() == '-') {
      return std::nullopt;
    }
    index = 1;
  }
  // From the job's folder, where it runs.
  std::filesystem::path path =
      context.working_dir / options.workdir.value_or("") / options.argv[index];
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) return std::nullopt;
  return ScriptWord{index, std::move(path)};
}

// The head of a script, where its lines are: its first 64 KiB; nullopt when it cannot be read.
std::optional<std::string> script_head(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string head(kMostScriptBytes, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  if (in.bad()) return std::nullopt;
  head.resize(static_cast<std::size_t>(in.gcount()));
  return head;
}

}  // namespace

std::optional<std::filesystem::path> command_script(const SubmitOptions& options,
                                                    const SubmitContext& context) {
  std::optional<ScriptWord> script = script_word(options, context);
  if (!script) return std::nullopt;
  return std::move(script->path);
}

Result<ScriptSubmission> with_script_directives(const SubmitOptions& command_line,
                                                const SubmitContext& context) {
  ScriptSubmission submission{{command_line, {}, false}, {}};
  const std::optional<ScriptWord> script = script_word(command_line, context);
  if (!script) return submission;
  // One that cannot be read has no lines to give: whether it runs is the job's to tell.
  const std::optional<std::string> head = script_head(script->path);
  if (!head) return submission;
  // The file as the user named it, relative to where they are.
  submission.script =
      command_line.workdir ? script->path.string() : command_line.argv[script->index];
  Result<std::optional<ScriptFlags>> given =
      parse_script_directives(*head, submission.script, context);
  if (!given.ok()) return given.status();
  if (!*given) return submission;
  submission.flags = std::move(**given);
  SubmitOptions& merged = submission.flags.options;
  // The command line's flags over the script's, as sbatch's over #SBATCH lines; --after
  // given on both waits for both.
  lay_over(merged, command_line);
  merged.argv = command_line.argv;
  merged.shell_command = command_line.shell_command;
  // A folder of the script's own: the job runs there, and finds the script where it was read.
  std::string& named = merged.argv[script->index];
  if (merged.workdir != command_line.workdir && !std::filesystem::path(named).is_absolute()) {
    named = script->path.lexically_normal().string();
  }
  return submission;
}

}  // namespace fastgpu::engine
