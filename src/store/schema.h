// The store's schema as an ordered list of migrations, and the code that brings a
// database up to date when it is opened.
#pragma once

#include <span>

#include "fastgpu/core/result.h"
#include "store/sqlite_db.h"

namespace fastgpu::store {

// Migration N turns a database at user_version N-1 into one at N. Never edit a released
// migration: add the next one.
struct Migration {
  int version;
  const char* description;
  const char* sql;
};

std::span<const Migration> schema_migrations();

// PRAGMA application_id of a FastGPU database ("FGPU" in ASCII).
inline constexpr int kApplicationId = 0x46475055;

// Checks the file is a FastGPU database (or a new, empty one) of a version this FastGPU
// understands, then applies the missing migrations in one transaction. Another process
// migrating at the same time is waited for, not raced.
Status migrate_schema(sqlite::Db& db);

}  // namespace fastgpu::store
