// Runs a short-lived program to its end and keeps what it wrote: for the Slurm commands
// (sbatch, scontrol, scancel), whose answers are a few lines.
//
// Thread-safety: safe from any thread; SIGPIPE is blocked in the calling thread while the
// program's input is written (a program that exits without reading it must not kill us).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "fastgpu/core/result.h"

namespace fastgpu::exec {

struct ProgramOutput {
  int exit_code = -1;  // -1 when the program died of a signal
  int signal = 0;      // the signal that ended it, or 0
  std::string out;     // its standard output
  std::string err;     // its standard error
};

// Runs argv[0], looked up on PATH as a shell would, with the caller's environment and
// `input` on its standard input, in a process group of its own (Ctrl-C at the terminal
// does not reach it), and waits for it to end. Fails (not_found) when argv[0]
// cannot be found or started; a program that ran and failed is a ProgramOutput with its
// exit code. REQUIRES: argv is not empty.
Result<ProgramOutput> run_program(const std::vector<std::string>& argv, std::string_view input);

}  // namespace fastgpu::exec
