#include "fastgpu/core/result.h"

#include <cassert>

namespace fastgpu {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk: return "ok";
    case ErrorCode::kInvalidArgument: return "invalid argument";
    case ErrorCode::kNotFound: return "not found";
    case ErrorCode::kFailedPrecondition: return "failed precondition";
    case ErrorCode::kUnavailable: return "unavailable";
    case ErrorCode::kIoError: return "i/o error";
    case ErrorCode::kUnsupported: return "unsupported";
    case ErrorCode::kInternal: return "internal error";
  }
  return "unknown error";
}

std::string Status::to_string() const {
  if (ok()) return "ok";
  return std::string(error_code_name(code_)) + ": " + message_;
}

Status Status::with_context(const std::string& context) const {
  if (ok()) return *this;
  Status wrapped(code_, context + ": " + message_);
  wrapped.batch_jobs_ = batch_jobs_;
  return wrapped;
}

Status Status::with_batch_job(std::size_t index, std::string problem, std::string field) const {
  assert(!ok() && "only an error is about a job");
  Status about = *this;
  about.batch_jobs_ = {BatchJobError{index, std::move(problem), message_, std::move(field)}};
  return about;
}

Status Status::with_batch_jobs(std::vector<BatchJobError> jobs) const {
  assert(!ok() && !jobs.empty() && "only an error is about jobs");
  Status about = *this;
  about.batch_jobs_ = std::move(jobs);
  return about;
}

}  // namespace fastgpu
