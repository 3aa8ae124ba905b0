// Scenarios: a readable YAML file (GPUs, jobs, events, policy, strategy) run through a small
// event-driven driver that calls schedule() after every change and prints a decision trace.
// Golden tests diff the trace against tests/scenarios/expected/; docs/scheduler.md
// describes the format.
#pragma once

#include <string>

#include "fastgpu/core/result.h"

namespace fastgpu::sched {

// Parses the scenario text and runs it; the trace is one line per decision or job end,
// each prefixed with the time in seconds. Errors name the bad field.
Result<std::string> run_scenario(const std::string& yaml_text);

}  // namespace fastgpu::sched
