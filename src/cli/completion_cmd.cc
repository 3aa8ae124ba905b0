// `fastgpu completion bash`: a bash completion script for every verb and flag, written from
// the command's own definitions, so that it never falls behind them. Verbs (and `daemon`'s),
// their flags, the words a few flags take (policies, strategies, states, report groups), and
// job ids for the verbs that take them, read from a running daemon (never started for it).

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstdio>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "fastgpu/sched/policy.h"

namespace fastgpu::cli {
namespace {

// The words a verb's flag takes, where they are few and known; "" where they are not.
std::string flag_words(const std::string& verb, const std::string& flag) {
  if (flag == "policy") return fmt::format("{}", fmt::join(sched::policy_names(), " "));
  if (flag == "strategy") return "pack spread";
  if (flag == "by") return "name user gpu day";
  if (flag == "restartable") return "true false";
  // `queue` lists the jobs that wait or run; the others take ended states.
  if (flag == "state") {
    return verb == "queue" ? "queued running" : "completed failed cancelled timeout";
  }
  return "";
}

// The verbs that take job ids, as a bash pattern.
constexpr const char* kIdVerbs = "show|logs|cancel|hold|release|update|wait|resubmit";

// An option's spellings: "-G", "--gpus".
std::vector<std::string> spellings_of(const CLI::Option& option) {
  std::vector<std::string> spellings;
  for (const std::string& name : option.get_snames()) spellings.push_back("-" + name);
  for (const std::string& name : option.get_lnames()) spellings.push_back("--" + name);
  return spellings;
}

struct VerbWords {
  std::vector<std::string> flags;        // every spelling of every flag
  std::vector<std::string> value_flags;  // those that take a value
  std::vector<std::string> subcommands;  // `daemon`'s: run, start, stop, ...
};

VerbWords words_of(const CLI::App& verb) {
  VerbWords words;
  for (const CLI::Option* option : verb.get_options()) {
    if (option->get_group().empty()) continue;  // hidden: not for use by hand
    for (const std::string& spelling : spellings_of(*option)) {
      words.flags.push_back(spelling);
      if (option->get_items_expected_min() > 0) words.value_flags.push_back(spelling);
    }
  }
  for (const CLI::App* sub : verb.get_subcommands({})) words.subcommands.push_back(sub->get_name());
  return words;
}

// A bash `case` pattern of the words typed so far ("submit", "daemon start", "queue -t").
std::string pattern_of(const std::string& words) { return "\"" + words + "\""; }

std::string bash_script(const CLI::App& app) {
  // The words typed before a flag, each with the verb they name: "queue", its alias "ls",
  // and each of `daemon`'s subcommands, "daemon start".
  std::vector<std::pair<std::string, const CLI::App*>> paths;
  std::vector<std::string> verbs;
  for (const CLI::App* verb : app.get_subcommands({})) {
    std::vector<std::string> names = {verb->get_name()};
    names.insert(names.end(), verb->get_aliases().begin(), verb->get_aliases().end());
    for (const std::string& name : names) {
      verbs.push_back(name);
      paths.emplace_back(name, verb);
    }
    for (const CLI::App* sub : verb->get_subcommands({})) {
      paths.emplace_back(verb->get_name() + " " + sub->get_name(), sub);
    }
  }
  // Each path's flags, and a value's words by the path and the flag before it:
  // `"queue --state"|"queue -t")`.
  std::string arms;
  std::string values;
  for (const auto& [path, verb] : paths) {
    const VerbWords words = words_of(*verb);
    arms += fmt::format("    {}) flags=\"{}\"; value_flags=\"{}\"; subcommands=\"{}\" ;;\n",
                        pattern_of(path), fmt::join(words.flags, " "),
                        fmt::join(words.value_flags, " "), fmt::join(words.subcommands, " "));
    for (const CLI::Option* option : verb->get_options()) {
      if (option->get_lnames().empty()) continue;
      const std::string known = flag_words(verb->get_name(), option->get_lnames().front());
      if (known.empty()) continue;
      std::vector<std::string> patterns;
      for (const std::string& spelling : spellings_of(*option)) {
        patterns.push_back(pattern_of(path + " " + spelling));
      }
      values += fmt::format("    {}) COMPREPLY=($(compgen -W \"{}\" -- \"$cur\")); return 0 ;;\n",
                            fmt::join(patterns, "|"), known);
    }
  }
  return fmt::format(R"script(# bash completion for fastgpu, written by `fastgpu completion bash`.
# Load it in this shell:  source <(fastgpu completion bash)
# or for every shell:     fastgpu completion bash > ~/.local/share/bash-completion/completions/fastgpu

# Job ids from the daemon that runs, those the verb takes; none when no daemon runs
# (completion never starts one).
_fastgpu_ids() {{
  local command=$1 verb=$2
  "$command" daemon status >/dev/null 2>&1 || return 0
  case $verb in
    hold) "$command" queue -r -t queued 2>/dev/null | awk '$1 ~ /^[0-9]+$/ && !/ \(held/ {{ print $1 }}' ;;
    release) "$command" queue -r -t queued 2>/dev/null | awk '$1 ~ /^[0-9]+$/ && / \(held/ {{ print $1 }}' ;;
    cancel|update|wait) "$command" queue -r 2>/dev/null | awk '$1 ~ /^[0-9]+$/ {{ print $1 }}' ;;
    *) {{ "$command" queue -r 2>/dev/null; "$command" history -n 30 2>/dev/null; }} |
      awk '$1 ~ /^[0-9]+$/ {{ print $1 }}' ;;
  esac
}}

_fastgpu() {{
  local cur=${{COMP_WORDS[COMP_CWORD]}} prev=${{COMP_WORDS[COMP_CWORD-1]}}
  local path="" i word
  COMPREPLY=()
  # The verb (and daemon's subcommand) before the word; after `--` comes the job's command.
  for ((i = 1; i < COMP_CWORD; i++)); do
    word=${{COMP_WORDS[i]}}
    [[ $word == -- ]] && return 0
    [[ $word == -* ]] && continue
    if [[ -z $path ]]; then
      path=$word
    elif [[ $path == daemon ]]; then
      path="daemon $word"
      break
    else
      break
    fi
  done
  if [[ -z $path ]]; then
    COMPREPLY=($(compgen -W "{verbs}" -- "$cur"))
    return 0
  fi
  local flags="" value_flags="" subcommands=""
  case $path in
{arms}    *) return 0 ;;
  esac
  # A flag's value: its words where they are known, else files (-o default).
  case "$path $prev" in
{values}  esac
  [[ " $value_flags " == *" $prev "* ]] && return 0
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
  elif [[ -n $subcommands && $path != *" "* ]]; then
    COMPREPLY=($(compgen -W "$subcommands" -- "$cur"))
  elif [[ $path =~ ^({ids})$ ]]; then
    COMPREPLY=($(compgen -W "$(_fastgpu_ids "${{COMP_WORDS[0]}}" "$path")" -- "$cur"))
  fi
  return 0
}}
complete -o default -F _fastgpu fastgpu
)script",
                     fmt::arg("verbs", fmt::join(verbs, " ")), fmt::arg("arms", arms),
                     fmt::arg("values", values), fmt::arg("ids", kIdVerbs));
}

}  // namespace

void add_completion_command(CLI::App& app, CommandOutcome& outcome) {
  CLI::App* command =
      app.add_subcommand("completion",
                         "Print a bash completion script for fastgpu's verbs, flags and job ids: "
                         "source <(fastgpu completion bash)");
  auto shell = std::make_shared<std::string>();
  command->add_option("shell", *shell, "The shell: bash")
      ->required()
      ->check(
          [](const std::string& name) {
            return name == "bash"
                       ? std::string()
                       : "'" + name + "' is not a shell this writes a script for; use bash";
          },
          "bash");
  command->callback([&app, &outcome, shell] {
    std::fputs(bash_script(app).c_str(), stdout);
    outcome.exit_code = kExitOk;
  });
}

}  // namespace fastgpu::cli
