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

// The events events_of_running_jobs can read: what was asked of a run (who cancelled it,
// why it was preempted or killed). The index by job (events_by_job, schema 7) holds only
// these, so the two events every job writes (job.start, job.end) cost nothing more; the
// statement names them in the same words, which is what lets SQLite use that index.
#define FASTGPU_STOP_EVENT_KINDS "('job.cancel', 'job.preempt', 'job.kill')"
inline constexpr const char* kStopEventKinds[] = {"job.cancel", "job.preempt", "job.kill"};

// What events_of_running_jobs reads: the events of the kinds in ?1 (a JSON array, among
// kStopEventKinds) of each RUNNING job, from its latest move to RUNNING on, by seq. CROSS
// JOIN keeps SQLite's join order whatever its statistics say: from the few running jobs
// (jobs_by_state) to each one's events (events_by_job), never through every event. Here,
// not in the store, so that a test can check that plan.
inline constexpr const char* kEventsOfRunningJobs =
    "SELECT e.seq, e.at_us, e.kind, e.job, e.message "
    "FROM jobs j CROSS JOIN events e ON e.job = j.id "
    "WHERE j.state = 'RUNNING' AND e.kind IN " FASTGPU_STOP_EVENT_KINDS
    " "
    "AND e.kind IN (SELECT value FROM json_each(?1)) "
    "AND e.at_us >= (SELECT MAX(at_us) FROM transitions t "
    "WHERE t.job = j.id AND t.to_state = 'RUNNING') "
    "ORDER BY e.seq";

}  // namespace fastgpu::store
