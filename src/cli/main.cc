#include <algorithm>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "cli/commands.h"

namespace {

// CLI11 says "Could not convert: --last = abc"; this says "--last 'abc' is not a whole
// number", from the option's type. Other messages pass unchanged.
std::string parse_error_text(const CLI::App& verb, const CLI::ParseError& error) {
  const std::string text = error.what();
  constexpr std::string_view kPrefix = "Could not convert: ";
  const std::size_t equals = text.find(" = ");
  if (dynamic_cast<const CLI::ConversionError*>(&error) == nullptr || text.rfind(kPrefix, 0) != 0 ||
      equals == std::string::npos) {
    return text;
  }
  const std::string name = text.substr(kPrefix.size(), equals - kPrefix.size());
  const std::string value = text.substr(equals + 3);
  const CLI::Option* option = verb.get_option_no_throw(name);
  const std::string type = option != nullptr ? option->get_type_name() : "";
  const char* kind = type == "INT" || type == "UINT" ? "a whole number"
                     : type == "FLOAT"               ? "a number"
                                                     : "a value this option takes";
  return name + " '" + value + "' is not " + kind;
}

// CLI11 says "A subcommand is required" to `fastgpu stauts` too; this names the word typed
// and the verbs there are.
std::string unknown_verb_text(const CLI::App& verb, const CLI::ParseError& error) {
  const std::vector<std::string> words = verb.remaining();
  if (dynamic_cast<const CLI::RequiredError*>(&error) == nullptr || words.empty() ||
      verb.get_subcommands({}).empty()) {
    return "";
  }
  std::string names;
  for (const CLI::App* sub : verb.get_subcommands({})) {
    names += (names.empty() ? "" : ", ") + sub->get_name();
  }
  return "'" + words.front() + "' is not a verb; use one of " + names;
}

// The words after `--` (as typed), to a verb that takes no command.
std::string after_double_dash(const std::vector<std::string>& args) {
  const auto mark = std::find(args.begin(), args.end(), "--");
  std::string words;
  for (auto word = mark == args.end() ? mark : mark + 1; word != args.end(); ++word) {
    words += (words.empty() ? "" : " ") + *word;
  }
  return words;
}

// CLI11 says "The following arguments were not expected: -- --bogus" to an option the verb
// does not have, "The following arguments were not expected: hi echo" (backwards) to a
// command after `--` of a verb that takes none, and "--gpus: 1 required TEXT missing" to an
// option given no value; these say it in words.
std::string option_error_text(const CLI::App& verb, const CLI::ParseError& error,
                              const std::vector<std::string>& args) {
  if (dynamic_cast<const CLI::ExtrasError*>(&error) != nullptr) {
    for (const std::string& word : verb.remaining()) {
      if (word.size() > 1 && word.front() == '-' && word != "--") {
        // `run train.sh --lr 0.1`: a script's own flags go after --, as fastgpu's own may
        // follow the file.
        return "'" + word + "' is not an option of this command" +
               (verb.get_name() == "run"
                    ? "; arguments for a batch script go after --: `fastgpu run SCRIPT -- " + word +
                          " ...`"
                    : "");
      }
    }
    const std::string command = after_double_dash(args);
    if (command.empty()) return "";
    if (verb.get_name() == "resubmit") {
      return "'" + command +
             "' after -- is not expected: resubmit runs each job's own command; to run "
             "another, `fastgpu submit [flags] -- " +
             command + "`";
    }
    return "'" + command + "' after -- is not expected: this command takes no command to run";
  }
  const std::string text = error.what();
  if (dynamic_cast<const CLI::ArgumentMismatch*>(&error) != nullptr &&
      text.find(" required ") != std::string::npos && text.ends_with(" missing")) {
    return text.substr(0, text.find(':')) + " needs a value";
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  using namespace fastgpu::cli;
  CLI::App app{"fastgpu: get more work through the GPUs you already have"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "fastgpu 0.1.0");

  CommandOutcome outcome;
  // Verbs register here, one line each.
  add_status_command(app, outcome);
  add_model_command(app, outcome);
  add_simulate_command(app, outcome);
  add_daemon_command(app, outcome);
  add_submit_command(app, outcome);
  add_alloc_command(app, outcome);
  add_exec_command(app, outcome);
  add_resubmit_command(app, outcome);
  add_run_command(app, outcome);
  add_queue_command(app, outcome);
  add_show_command(app, outcome);
  add_logs_command(app, outcome);
  add_cancel_command(app, outcome);
  add_hold_commands(app, outcome);
  add_wait_command(app, outcome);
  add_history_command(app, outcome);
  add_report_command(app, outcome);
  add_purge_command(app, outcome);
  add_metrics_command(app, outcome);
  add_dashboard_command(app, outcome);
  add_slurm_command(app, outcome);
  add_completion_command(app, outcome);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    // --help and --version: CLI11 prints them and exits 0.
    if (error.get_exit_code() == 0) return app.exit(error) == 0 ? kExitOk : kExitUsage;
    // Every other parse error is bad usage, said as the verbs say theirs: which command,
    // what is wrong, where the options are.
    std::string command = "fastgpu";
    const CLI::App* verb = &app;
    while (!verb->get_subcommands().empty()) {
      verb = verb->get_subcommands().front();
      command += " " + verb->get_name();
    }
    std::string text = unknown_verb_text(*verb, error);
    if (text.empty()) text = option_error_text(*verb, error, {argv + 1, argv + argc});
    if (text.empty()) text = parse_error_text(*verb, error);
    std::fprintf(stderr, "%s: %s\nRun `%s --help` for its options.\n", command.c_str(),
                 text.c_str(), command.c_str());
    return kExitUsage;
  }
  return outcome.exit_code;
}
