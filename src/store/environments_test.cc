// Environments are stored once per distinct list (schema 3), and read back shared.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fastgpu/store/state_store.h"
#include "store/store_test_util.h"

namespace fastgpu::store {
namespace {

using testing::count_rows;
using testing::full_spec;
using testing::TempDir;

class EnvironmentStoreTest : public ::testing::Test {
 protected:
  std::vector<JobId> submit(const std::vector<JobSpec>& batch) {
    auto ids = store_->submit(batch);
    EXPECT_TRUE(ids.ok()) << ids.status().to_string();
    return ids.ok() ? *ids : std::vector<JobId>{};
  }
  std::int64_t environment_rows() { return count_rows(path_, "environments"); }

  TempDir tmp_;
  std::string path_ = tmp_.file("fastgpu.db");
  std::unique_ptr<StateStore> store_ = testing::open_or_die(path_);
};

TEST_F(EnvironmentStoreTest, ABatchStoresEachDistinctEnvironmentOnce) {
  std::vector<JobSpec> batch(4, full_spec(1));  // copies: one shared list
  batch[3].environment = {"OTHER=1"};
  const std::vector<JobId> ids = submit(batch);
  ASSERT_EQ(ids.size(), 4u);
  EXPECT_EQ(environment_rows(), 2);

  // A later batch with an equal list (not a copy) reuses its row.
  JobSpec again = full_spec(2);
  again.environment = std::vector<std::string>(full_spec(1).environment);
  submit({again});
  EXPECT_EQ(environment_rows(), 2);

  const std::vector<JobRecord> jobs = store_->list_jobs({}).value();
  ASSERT_EQ(jobs.size(), 5u);
  for (std::size_t i : {0u, 1u, 2u, 4u}) {
    EXPECT_EQ(jobs[i].spec.environment, full_spec(1).environment) << "job " << i;
    EXPECT_TRUE(jobs[i].spec.environment.shares_with(jobs[0].spec.environment)) << "job " << i;
  }
  EXPECT_EQ(jobs[3].spec.environment, std::vector<std::string>{"OTHER=1"});
  EXPECT_EQ(store_->get_job(ids[3]).value().spec.environment, batch[3].environment);
}

TEST_F(EnvironmentStoreTest, AnEmptyEnvironmentIsKeptEmpty) {
  JobSpec spec = full_spec(1);
  spec.environment = Environment();
  const std::vector<JobId> ids = submit({spec});
  ASSERT_EQ(ids.size(), 1u);
  EXPECT_TRUE(store_->get_job(ids[0]).value().spec.environment.empty());
}

TEST_F(EnvironmentStoreTest, ABatchRolledBackLeavesNoEnvironmentAndTheNextOneIsWhole) {
  JobSpec spec = full_spec(1);
  spec.environment = {"ROLLED=back"};
  JobSpec broken = spec;  // shares the list
  broken.dependencies = {{JobId(999), DependencyKind::kAfterOk, std::nullopt}};
  ASSERT_FALSE(store_->submit(std::vector<JobSpec>{spec, broken}).ok());
  EXPECT_EQ(environment_rows(), 0);

  // The same list again (the same shared copy): its row must be written anew.
  const std::vector<JobId> ids = submit({spec});
  ASSERT_EQ(ids.size(), 1u);
  EXPECT_EQ(environment_rows(), 1);
  EXPECT_EQ(store_->get_job(ids[0]).value().spec.environment, spec.environment);
}

TEST_F(EnvironmentStoreTest, AReopenedStoreReadsTheSameEnvironments) {
  std::vector<JobSpec> batch(2, full_spec(1));
  batch[1].environment = {"SECOND=2", "X=y=z"};
  const std::vector<JobId> ids = submit(batch);
  ASSERT_EQ(ids.size(), 2u);
  store_.reset();
  store_ = testing::open_or_die(path_);
  EXPECT_EQ(store_->get_job(ids[0]).value().spec.environment, batch[0].environment);
  EXPECT_EQ(store_->get_job(ids[1]).value().spec.environment, batch[1].environment);
}

}  // namespace
}  // namespace fastgpu::store
