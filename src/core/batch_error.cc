#include "core/batch_error.h"

#include <string>

namespace fastgpu {

Status located_in_batch(const Status& refused, std::size_t index, std::string_view lead) {
  std::string_view problem = refused.message();
  if (problem.starts_with(lead)) problem.remove_prefix(lead.size());
  return refused.with_batch_job(index, std::string(problem));
}

}  // namespace fastgpu
