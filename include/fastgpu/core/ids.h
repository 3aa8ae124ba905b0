// Strong ids: a JobId cannot be passed where a GPU index or a count is expected.
//
// An Id wraps a std::uint64_t; ids compare, hash and print as their number. 0 is a valid
// value (an id type does not reserve a "none"; use std::optional<JobId> for that).
// Thread-safety: plain values, safe to copy across threads.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>

namespace fastgpu {

// Tag is an empty type that makes each id a distinct type; the ids below are the only uses.
template <typename Tag>
class Id {
 public:
  constexpr Id() = default;
  constexpr explicit Id(std::uint64_t value) : value_(value) {}

  constexpr std::uint64_t value() const { return value_; }

  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy misreads the defaulted comparison.
  friend constexpr auto operator<=>(Id, Id) = default;

 private:
  std::uint64_t value_ = 0;
};

using JobId = Id<struct JobIdTag>;

// The decimal number, e.g. "42" (what users type after `fastgpu cancel`).
template <typename Tag>
std::string to_string(Id<Tag> id) {
  return std::to_string(id.value());
}

template <typename Tag>
std::ostream& operator<<(std::ostream& out, Id<Tag> id) {
  return out << id.value();
}

}  // namespace fastgpu

template <typename Tag>
struct std::hash<fastgpu::Id<Tag>> {
  std::size_t operator()(fastgpu::Id<Tag> id) const noexcept {
    return std::hash<std::uint64_t>{}(id.value());
  }
};
