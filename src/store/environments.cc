#include "store/environments.h"

#include <nlohmann/json.hpp>
#include <string>

#include "store/job_rows.h"

namespace fastgpu::store {
namespace {

constexpr const char* kInsertEnvironment =
    "INSERT INTO environments (body) VALUES (?1) ON CONFLICT (body) DO NOTHING";
constexpr const char* kEnvironmentId = "SELECT id FROM environments WHERE body = ?1";
constexpr const char* kEnvironmentBody = "SELECT body FROM environments WHERE id = ?1";

}  // namespace

Result<std::int64_t> EnvironmentTable::row_for(sqlite::Db& db, const Environment& environment) {
  if (last_ && last_->environment.shares_with(environment)) return last_->id;
  const std::string body = strings_to_json(environment);
  {
    Result<sqlite::Statement> insert = db.prepare(kInsertEnvironment);
    if (!insert.ok()) return insert.status();
    FASTGPU_RETURN_IF_ERROR(insert->bind(1, body).run());
  }
  Result<sqlite::Statement> select = db.prepare(kEnvironmentId);
  if (!select.ok()) return select.status();
  select->bind(1, body);
  Result<bool> found = select->step();
  if (!found.ok()) return found.status();
  if (!*found) return internal_error("an environment inserted a moment ago is not in the store");
  last_ = Written{environment, select->column_int64(0)};
  return last_->id;
}

Result<Environment> EnvironmentTable::read(sqlite::Db& db, std::optional<std::int64_t> id) {
  if (!id) return Environment();
  if (auto it = by_id_.find(*id); it != by_id_.end()) return it->second;
  Result<sqlite::Statement> select = db.prepare(kEnvironmentBody);
  if (!select.ok()) return select.status();
  select->bind(1, *id);
  Result<bool> found = select->step();
  if (!found.ok()) return found.status();
  if (!*found) return internal_error("environment row " + std::to_string(*id) + " is missing");
  Environment environment;
  try {
    environment = nlohmann::json::parse(select->column_text(0)).get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception& error) {
    // Only a hand-edited or damaged database gets here: the store writes valid lists.
    return internal_error("environment row " + std::to_string(*id) +
                          " is not a list of strings: " + error.what());
  }
  if (by_id_.size() >= kMaxCached) by_id_.clear();
  by_id_.emplace(*id, environment);
  return environment;
}

}  // namespace fastgpu::store
