// Expected failures as values: Status (ok or an error with a message a user can act on)
// and Result<T> (a value or an error Status). Exceptions are kept for broken invariants
// and start-up; everything a user or the outside world can cause travels as one of these.
#pragma once

#include <cassert>
#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace fastgpu {

enum class ErrorCode {
  kOk = 0,
  kInvalidArgument,     // the caller's input is wrong; the message names the value and the fix
  kNotFound,            // a named thing (file, job, GPU, symbol) does not exist
  kFailedPrecondition,  // the system is not in a state that allows this (e.g. no driver)
  kUnavailable,         // a transient failure; retrying may help
  kIoError,             // reading or writing a file or socket failed
  kUnsupported,         // the platform or driver lacks the feature
  kInternal,            // a bug in FastGPU
};

// A short lower-case name for the code, e.g. "invalid argument".
const char* error_code_name(ErrorCode code);

// The job of a submitted batch that an error is about: its index in the batch (from 0) and
// the problem in the words that follow the job's name in the message ("asks for 9 GPUs,
// but ..." of "job 3 of the batch ('x') asks for 9 GPUs, but ..."). `fastgpu run` tells it
// at the job's place in its file.
// When the daemon refuses several jobs of one batch, the Status carries one of these per
// refused job (batch_jobs()), in batch order; `message` is that job's refusal on its own
// ("job 3 of the batch ('x') asks for 9 GPUs, ..."), and `field` the job field it is about
// ("gpus", "gpu_mem"; empty when not one field).
struct BatchJobError {
  std::size_t index = 0;
  std::string problem;
  std::string message = {};
  std::string field = {};

  friend bool operator==(const BatchJobError&, const BatchJobError&) = default;
};

// How many errors about jobs of one batch a message tells, one a line (a job file's, and the
// daemon's refusals); the rest are counted.
inline constexpr std::size_t kMaxBatchErrorsTold = 20;

class [[nodiscard]] Status {
 public:
  Status() = default;  // ok
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok_status() { return {}; }

  bool ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "invalid argument: --gpu-mem '20X': unknown unit 'X'; use K, M, G or T (e.g. 20G)".
  std::string to_string() const;

  // Returns a copy whose message is "context: message", for adding where an error happened.
  Status with_context(const std::string& context) const;

  // Returns a copy that says which job of a batch it is about (its message() the job's
  // refusal, `field` the field it is about, if one). REQUIRES: !ok().
  Status with_batch_job(std::size_t index, std::string problem, std::string field = {}) const;
  // Returns a copy about every job of `jobs` (refusals of several jobs of one batch, in
  // batch order). REQUIRES: !ok(), !jobs.empty().
  Status with_batch_jobs(std::vector<BatchJobError> jobs) const;
  // The (first) job of the batch the error is about, if it is about one.
  std::optional<BatchJobError> batch_job() const {
    if (batch_jobs_.empty()) return std::nullopt;
    return batch_jobs_.front();
  }
  // Every job of the batch the error is about; empty when about none.
  const std::vector<BatchJobError>& batch_jobs() const { return batch_jobs_; }

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
  std::vector<BatchJobError> batch_jobs_;
};

inline Status invalid_argument(std::string message) {
  return {ErrorCode::kInvalidArgument, std::move(message)};
}
inline Status not_found(std::string message) { return {ErrorCode::kNotFound, std::move(message)}; }
inline Status failed_precondition(std::string message) {
  return {ErrorCode::kFailedPrecondition, std::move(message)};
}
inline Status unavailable(std::string message) {
  return {ErrorCode::kUnavailable, std::move(message)};
}
inline Status io_error(std::string message) { return {ErrorCode::kIoError, std::move(message)}; }
inline Status unsupported(std::string message) {
  return {ErrorCode::kUnsupported, std::move(message)};
}
inline Status internal_error(std::string message) {
  return {ErrorCode::kInternal, std::move(message)};
}

// A value of type T, or the Status that explains why there is none.
// REQUIRES: a Result is built from an error Status only when that Status is not ok.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Status error) : state_(std::move(error)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(state_).ok() && "a Result built from a Status must be an error");
  }

  bool ok() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return ok(); }

  // REQUIRES: ok().
  const T& value() const& { return std::get<T>(state_); }
  T& value() & { return std::get<T>(state_); }
  T&& value() && { return std::get<T>(std::move(state_)); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

  // The error, or an ok Status when there is a value.
  Status status() const { return ok() ? Status{} : std::get<Status>(state_); }

  T value_or(T fallback) const { return ok() ? value() : std::move(fallback); }

 private:
  std::variant<T, Status> state_;
};

}  // namespace fastgpu

// Returns early from the enclosing function when `expr` (a Status) is an error.
#define FASTGPU_RETURN_IF_ERROR(expr)   \
  do {                                  \
    ::fastgpu::Status status_ = (expr); \
    if (!status_.ok()) return status_;  \
  } while (false)
