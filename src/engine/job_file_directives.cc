// `#FASTGPU` lines at the head of a job's script: submit's flags kept with the script, as
// sbatch reads `#SBATCH` lines (docs/cli.md, "Flags in the script").
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <fstream>
#include <string>
#include <system_error>

#include "fastgpu/engine/job_file.h"

namespace fastgpu::engine {
namespace {

constexpr std::string_view kDirective = "#FASTGPU";
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
  // Each value checked where it is written: the same checks as the flags', with a stand-in
  // command.
  SubmitOptions checked = options;
  checked.argv = {"true"};
  if (Result<std::vector<store::JobSpec>> specs = build_job_specs(checked, context); !specs.ok()) {
    return specs.status();
  }
  return options;
}

}  // namespace

Result<std::optional<SubmitOptions>> parse_script_directives(std::string_view text,
                                                             const std::string& file_name,
                                                             const SubmitContext& context) {
  std::optional<SubmitOptions> given;
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
    if (first != 0 || !line.starts_with(kDirective)) continue;
    const std::string_view flags = line.substr(kDirective.size());
    if (!flags.empty() && flags.front() != ' ' && flags.front() != '\t') continue;  // #FASTGPUX
    Result<SubmitOptions> options = parse_directive(flags, context);
    if (!options.ok()) {
      return invalid_argument(fmt::format("{}:{}: #FASTGPU{}: {}", file_name, line_number, flags,
                                          options.status().message()));
    }
    if (!given) given.emplace();
    lay_over(*given, std::move(*options));
  }
  return given;
}

std::optional<std::filesystem::path> command_script(const SubmitOptions& options,
                                                    const SubmitContext& context) {
  if (options.argv.empty()) return std::nullopt;
  const std::filesystem::path folder = context.working_dir / options.workdir.value_or("");
  auto regular = [](const std::filesystem::path& path) {
    std::error_code error;
    return std::filesystem::is_regular_file(path, error);
  };
  // The program itself, named by its path (./train.sh): run from the job's folder.
  const std::string& program = options.argv.front();
  if (program.find('/') != std::string::npos) {
    if (regular(folder / program)) return folder / program;
    return std::nullopt;
  }
  // Else the file an interpreter runs: `bash train.sh`, `python3 train.py`.
  if (options.argv.size() < 2 || options.argv[1].empty() || options.argv[1].front() == '-') {
    return std::nullopt;
  }
  if (regular(folder / options.argv[1])) return folder / options.argv[1];
  return std::nullopt;
}

Result<SubmitOptions> with_script_directives(const SubmitOptions& command_line,
                                             const SubmitContext& context) {
  const std::optional<std::filesystem::path> script = command_script(command_line, context);
  if (!script) return command_line;
  // One that cannot be read has no lines to give: whether it runs is the job's to tell.
  std::ifstream in(*script, std::ios::binary);
  if (!in) return command_line;
  std::string head(kMostScriptBytes, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<std::size_t>(in.gcount()));
  // The file as the user named it, relative to where they are.
  std::string name = command_line.argv.front().find('/') != std::string::npos
                         ? command_line.argv.front()
                         : command_line.argv[1];
  if (command_line.workdir) name = script->string();
  Result<std::optional<SubmitOptions>> given = parse_script_directives(head, name, context);
  if (!given.ok()) return given.status();
  if (!*given) return command_line;
  SubmitOptions merged = std::move(**given);
  // The command line's flags over the script's, as sbatch's over #SBATCH lines; --after
  // given on both waits for both.
  lay_over(merged, command_line);
  merged.argv = command_line.argv;
  merged.shell_command = command_line.shell_command;
  // A folder of the script's own: the job runs there, and finds the script where it was read.
  if (merged.workdir != command_line.workdir) {
    std::string& named =
        merged.argv.front().find('/') != std::string::npos ? merged.argv.front() : merged.argv[1];
    if (!std::filesystem::path(named).is_absolute()) named = script->lexically_normal().string();
  }
  return merged;
}

}  // namespace fastgpu::engine
