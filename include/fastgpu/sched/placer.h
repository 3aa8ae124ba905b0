// Placement strategies: given the ledger and one job's demand, choose its GPUs.
//
// Every strategy places only where Ledger::fits() holds on every chosen GPU, puts a
// multi-GPU job on one node (preferring one NVLink group, then one PCIe switch), and
// never uses an unhealthy GPU. A strategy fails only when no node can take the demand
// (enough fitting, allowed GPUs on one node; for place_across_nodes enough empty ones):
// the kept Scheduler relies on it to know a class still fails while no GPU gained room
// where it could use it (src/sched/known_failures.h); a new strategy must keep that.
// A strategy also checks every GPU it takes from the ledger's indexes with allowed(), on
// the slot's live figures, and a node's acceptance depends on its own slots alone (for a
// single-node demand): so where an index entry of a GPU it rejects sits cannot change its
// choice. The backfill reservation search relies on that to ask a placer within a ledger
// trial whose indexes are exact only on the nodes that could hold the demand (ledger.h).
// Which GPUs a strategy chooses depends only on the nodes that hold the demand (their
// slots, and their places in the indexes, which their own slots decide): a node that
// cannot hold it changes nothing, whatever its figures. The kept Scheduler relies on that
// to reuse a backfill reservation while no node that could hold the demand changed
// (src/sched/kept_reservation.h); a new strategy must keep that too.
// Strategies differ in which fitting GPUs they prefer:
//   pack   best fit: fractional jobs go to partly used GPUs first, leaving whole GPUs for
//          whole-GPU jobs; among candidates the one leaving the least unusable fragment
//          (in the spirit of FGD, ATC'23); whole GPUs from the node with the fewest free.
//   spread least loaded first by LB_i = sum of L_j * P_j, then measured utilization, then
//          temperature; multi-GPU jobs on the node with the most free GPUs.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fastgpu/sched/ledger.h"

namespace fastgpu::sched {

struct PlaceOptions {
  // Slots a job may not use (a backfill reservation); empty means none is forbidden.
  const std::vector<char>* forbidden = nullptr;
  // The smallest share and bytes any queued job asks for: a leftover below these is a
  // fragment nothing can use.
  double min_share = 0.0;
  Bytes min_bytes = 0;
};

class Placer {
 public:
  virtual ~Placer() = default;
  virtual std::string_view name() const = 0;
  // Slots for the demand (demand.gpus of them, one node), or nullopt when it does not fit.
  // REQUIRES: demand.gpus >= 1.
  virtual std::optional<std::vector<int>> place(const Ledger& ledger, const Demand& demand,
                                                const PlaceOptions& options) const = 0;
};

std::unique_ptr<Placer> make_placer(std::string_view name);  // nullptr when unknown
std::vector<std::string> placer_names();

// Shared by the strategies: picks `count` slots out of `candidates` (all on one node, in
// the strategy's order of preference), preferring the smallest NVLink group that holds
// them all, then the smallest PCIe switch, then simply the first `count`.
std::vector<int> choose_gang(const Ledger& ledger, const std::vector<int>& candidates, int count);

// For a job larger than any node (SchedulerConfig::multi_node): whole nodes, those with the
// most free GPUs first, each giving every GPU the demand fits on (Helios' consolidated
// placement of multi-node jobs). nullopt when the cluster has too few such GPUs now.
// REQUIRES: demand.gpus > ledger.largest_node().
std::optional<std::vector<int>> place_across_nodes(const Ledger& ledger, const Demand& demand,
                                                   const PlaceOptions& options);

// True when slot s may take the demand under the options (fits and is not forbidden).
bool allowed(const Ledger& ledger, int s, const Demand& demand, const PlaceOptions& options);

}  // namespace fastgpu::sched
