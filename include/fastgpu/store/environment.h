// Environment: a job's environment, "KEY=VALUE" entries in order, immutable and shared.
//
// The jobs of one submission nearly always carry the same environment (an array of 10,000
// from one shell), and a login shell's is a few kB. Copies of an Environment share one
// list, so the daemon holds it once per batch in memory, and the store keeps each distinct
// environment once (docs/store.md).
//
// Thread-safety: the list is never changed after construction, so copies may be read and
// copied from any thread.
#pragma once

#include <initializer_list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace fastgpu::store {

class Environment {
 public:
  // A read-only container of the entries (for range-for and test matchers).
  using value_type = std::string;
  using const_iterator = std::vector<std::string>::const_iterator;
  using iterator = const_iterator;

  Environment() = default;
  // A list of entries is an environment: implicit, so a JobSpec takes one as before.
  Environment(std::vector<std::string> entries)  // NOLINT(google-explicit-constructor)
      : entries_(std::make_shared<const std::vector<std::string>>(std::move(entries))) {}
  Environment(std::initializer_list<std::string> entries)
      : Environment(std::vector<std::string>(entries)) {}

  const std::vector<std::string>& entries() const { return entries_ ? *entries_ : no_entries(); }
  operator const std::vector<std::string>&() const {  // NOLINT(google-explicit-constructor)
    return entries();
  }
  const_iterator begin() const { return entries().begin(); }
  const_iterator end() const { return entries().end(); }
  std::size_t size() const { return entries().size(); }
  bool empty() const { return entries().empty(); }
  const std::string& operator[](std::size_t index) const { return entries()[index]; }
  const std::string& back() const { return entries().back(); }

  // True when both are copies of one list (and so certainly equal).
  bool shares_with(const Environment& other) const { return entries_ == other.entries_; }

  friend bool operator==(const Environment& a, const Environment& b) {
    return a.shares_with(b) || a.entries() == b.entries();
  }
  friend bool operator==(const Environment& a, const std::vector<std::string>& b) {
    return a.entries() == b;
  }

 private:
  static const std::vector<std::string>& no_entries() {
    static const std::vector<std::string> empty;
    return empty;
  }

  std::shared_ptr<const std::vector<std::string>> entries_;  // null: no entries
};

}  // namespace fastgpu::store
