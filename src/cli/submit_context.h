// The SubmitContext of this process: its folder, environment, user and the time
// now.
#pragma once

#include "fastgpu/core/result.h"
#include "fastgpu/engine/job_file.h"

namespace fastgpu::cli {

Result<engine::SubmitContext> submit_context();

}  // namespace fastgpu::cli
