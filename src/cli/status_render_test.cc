#include "cli/status_render.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace fastgpu::cli {
namespace {

constexpr std::uint64_t kGiB = std::uint64_t{1} << 30;

GpuDevice full_device() {
  GpuDevice device;
  device.index = 0;
  device.name = "NVIDIA H100 80GB HBM3";
  device.uuid = "GPU-1234";
  device.pci_bus_id = "00000000:18:00.0";
  device.memory_total_bytes = 80 * kGiB;
  device.memory_used_bytes = 40 * kGiB;
  device.memory_free_bytes = 39 * kGiB;
  device.memory_reserved_bytes = kGiB;
  device.gpu_utilization_percent = 45;
  device.memory_utilization_percent = 30;
  device.power_watts = 312.4;
  device.power_limit_watts = 700;
  device.energy_millijoules = 123456789;
  device.temperature_celsius = 54;
  device.sm_clock_mhz = 1980;
  device.memory_clock_mhz = 2619;
  device.processes = std::vector<GpuProcess>{{4242, 30 * kGiB}, {777, std::nullopt}};
  return device;
}

// A GPU whose driver reports only its name: everything else unreadable.
GpuDevice sparse_device() {
  GpuDevice device;
  device.index = 1;
  device.name = "Tesla T4";
  device.memory_total_bytes = 16 * kGiB;
  device.unreadable_fields = {{"power_watts", "not supported"},
                              {"temperature_celsius", "not supported"}};
  return device;
}

GpuDevice lost_device() {
  GpuDevice device;
  device.index = 2;
  device.health.healthy = false;
  device.health.reasons = {"GPU is lost (NVML_ERROR_GPU_IS_LOST)"};
  return device;
}

GpuReading nvml_reading() {
  GpuReading reading;
  reading.source = "nvml";
  reading.driver_version = "550.54.15";
  reading.nvml_version = "12.550.54.15";
  reading.cuda_driver_version = 12040;
  reading.devices = {full_device(), sparse_device(), lost_device()};
  return reading;
}

StatusContext test_context() {
  StatusContext context{"gpu-host", "2026-11-25 10:00:00", "2026-11-25T10:00:00Z", {}};
  context.lookup = [](std::uint32_t pid) {
    if (pid == 4242) return ProcessInfo{"alice", "python3"};
    return ProcessInfo{};  // the process has gone
  };
  return context;
}

std::string table(const GpuReading& reading, TableStyle style = {}) {
  return render_status_table(reading, test_context(), style);
}

// The line of the table that starts with `prefix` after leading blanks.
std::string line_with(const std::string& text, const std::string& needle) {
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = text.find('\n', start);
    std::string line = text.substr(start, end - start);
    if (line.find(needle) != std::string::npos) return line;
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return "";
}

TEST(StatusTable, HeaderNamesHostDriverAndTime) {
  const std::string header = line_with(table(nvml_reading()), "gpu-host");
  EXPECT_NE(header.find("driver 550.54.15"), std::string::npos) << header;
  EXPECT_NE(header.find("CUDA 12.4"), std::string::npos) << header;
  EXPECT_NE(header.find("2026-11-25 10:00:00"), std::string::npos) << header;
}

TEST(StatusTable, FullGpuLineShowsEveryColumn) {
  const std::string line = line_with(table(nvml_reading()), "[0]");
  EXPECT_NE(line.find("NVIDIA H100 80GB HBM3"), std::string::npos) << line;
  EXPECT_NE(line.find("40.0 / 80.0 GiB"), std::string::npos) << line;
  EXPECT_NE(line.find("[#####.....]"), std::string::npos) << line;
  EXPECT_NE(line.find("45 %"), std::string::npos) << line;
  EXPECT_NE(line.find("312 / 700 W"), std::string::npos) << line;
  EXPECT_NE(line.find("54C"), std::string::npos) << line;
  EXPECT_NE(line.find("ok"), std::string::npos) << line;
}

TEST(StatusTable, ProcessesShowPidUserCommandAndMemory) {
  const std::string text = table(nvml_reading());
  const std::string known = line_with(text, "4242");
  EXPECT_NE(known.find("alice"), std::string::npos) << known;
  EXPECT_NE(known.find("python3"), std::string::npos) << known;
  EXPECT_NE(known.find("30.0 GiB"), std::string::npos) << known;
  // A process that has gone shows "?" for who runs it and n/a for unreported memory.
  const std::string gone = line_with(text, " 777 ");
  EXPECT_NE(gone.find('?'), std::string::npos) << gone;
  EXPECT_NE(gone.find("n/a"), std::string::npos) << gone;
}

// Any user can name their process (prctl, up to 15 bytes of anything): an escape sequence
// in a GPU process's name reached every viewer's terminal through `fastgpu status`.
TEST(StatusTable, AProcessNameIsPrintedWithItsControlCharactersWrittenOut) {
  StatusContext context = test_context();
  context.lookup = [](std::uint32_t) { return ProcessInfo{"mallory", "\x1b[2Jgone\n"}; };
  const std::string text = render_status_table(nvml_reading(), context, {});
  EXPECT_EQ(text.find('\x1b'), std::string::npos) << text;
  EXPECT_NE(line_with(text, "4242").find("\\x1b[2Jgone\\n"), std::string::npos) << text;
}

TEST(StatusTable, AbsentFieldsPrintNotAvailableNeverZero) {
  const std::string text = table(nvml_reading());
  const std::string line = line_with(text, "[1]");
  EXPECT_NE(line.find("n/a / 16.0 GiB"), std::string::npos) << line;
  EXPECT_NE(line.find("[   n/a    ]"), std::string::npos) << line;
  EXPECT_EQ(line.find(" 0 %"), std::string::npos) << line;
  EXPECT_EQ(line.find(" 0 W"), std::string::npos) << line;
  EXPECT_EQ(line.find("0C"), std::string::npos) << line;
  // Fields that share a reason are listed before it once.
  EXPECT_NE(text.find("n/a: power_watts, temperature_celsius (not supported)\n"), std::string::npos)
      << text;
  EXPECT_NE(line_with(text, "processes: n/a").find("could not be read"), std::string::npos);
}

TEST(StatusTable, ProcessListLineGivesTheDriversReason) {
  GpuReading reading = nvml_reading();
  reading.devices[1].unreadable_fields.push_back({"processes", "no permission"});
  const std::string text = table(reading);
  EXPECT_NE(line_with(text, "processes: n/a").find("(no permission)"), std::string::npos) << text;
  EXPECT_EQ(line_with(text, "power_watts (not").find("processes"), std::string::npos) << text;
}

TEST(StatusTable, FieldsLostWithTheGpuAreNotListedTwice) {
  GpuReading reading = nvml_reading();
  GpuDevice& lost = reading.devices[2];
  lost.unreadable_fields = {{"name", lost.health.reasons[0]},
                            {"power_watts", lost.health.reasons[0]}};
  const std::string text = table(reading);
  EXPECT_EQ(text.find("name (GPU is lost"), std::string::npos) << text;
  EXPECT_NE(line_with(text, "[2]").find("UNHEALTHY: GPU is lost"), std::string::npos) << text;
}

TEST(StatusTable, UnhealthyGpuShowsItsReason) {
  const std::string line = line_with(table(nvml_reading()), "[2]");
  EXPECT_NE(line.find("UNHEALTHY: GPU is lost (NVML_ERROR_GPU_IS_LOST)"), std::string::npos)
      << line;
  EXPECT_NE(line.find("n/a"), std::string::npos) << line;
}

TEST(StatusTable, DegradedGpuStaysHealthyButSaysWhy) {
  GpuReading reading = nvml_reading();
  reading.devices[0].health.reasons = {"throttled: hardware slowdown"};
  const std::string line = line_with(table(reading), "[0]");
  EXPECT_NE(line.find("degraded: throttled: hardware slowdown"), std::string::npos) << line;
}

TEST(StatusTable, SmallUseStillShowsInTheBar) {
  GpuReading reading = nvml_reading();
  reading.devices[0].memory_used_bytes = 1;
  EXPECT_NE(line_with(table(reading), "[0]").find("[#.........]"), std::string::npos);
  reading.devices[0].memory_used_bytes = 0;
  EXPECT_NE(line_with(table(reading), "[0]").find("[..........]"), std::string::npos);
}

TEST(StatusTable, ColumnsLineUp) {
  const std::string text = table(nvml_reading());
  const std::string first = line_with(text, "[0]");
  const std::string second = line_with(text, "[1]");
  EXPECT_EQ(first.find(" | "), second.find(" | ")) << text;
}

TEST(StatusTable, ColorsAndUnicodeOnlyWhenAsked) {
  const std::string plain = table(nvml_reading());
  EXPECT_EQ(plain.find('\x1b'), std::string::npos);
  const std::string fancy = table(nvml_reading(), {.color = true, .unicode = true});
  EXPECT_NE(fancy.find("\x1b[1;31mUNHEALTHY"), std::string::npos) << fancy;
  EXPECT_NE(fancy.find("█"), std::string::npos);
  EXPECT_NE(fancy.find("54°C"), std::string::npos);
}

TEST(StatusTable, SimulatedReadingSaysSoAndEmptyReadingSaysNoGpus) {
  GpuReading reading;
  reading.source = "simulated";
  const std::string text = table(reading);
  EXPECT_NE(line_with(text, "gpu-host")
                .find("simulated GPUs (--devices or FASTGPU_DEVICES), not real hardware"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("no GPUs found"), std::string::npos) << text;
}

// Each line's columns (code points: the table's characters are all narrow).
std::size_t widest_line(const std::string& text) {
  std::size_t most = 0;
  std::size_t columns = 0;
  for (const char c : text) {
    if (c == '\n') {
      most = std::max(most, columns);
      columns = 0;
    } else if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) {
      ++columns;
    }
  }
  return std::max(most, columns);
}

// On an 80-column terminal a simulated H100's line (83 columns), the header (86) and the
// n/a note (121) wrapped; now each fits, narrowing what can narrow. Piped, nothing changes.
TEST(StatusTable, ATerminalNarrowerThanTheTableGetsLinesThatFit) {
  GpuReading reading = nvml_reading();
  reading.source = "simulated";
  reading.devices[0].unreadable_fields = {
      {"energy_millijoules", "a simulated GPU measures none of these"},
      {"gpu_utilization_percent", "a simulated GPU measures none of these"},
      {"memory_utilization_percent", "a simulated GPU measures none of these"}};
  const std::string piped = table(reading, {.unicode = true});
  ASSERT_GT(widest_line(piped), 80u) << piped;
  EXPECT_EQ(table(reading, {.unicode = true, .columns = 400}), piped);
  for (const std::size_t columns : {80u, 72u}) {
    const std::string text = table(reading, {.unicode = true, .columns = columns});
    EXPECT_LE(widest_line(text), columns) << columns << ":\n" << text;
    // Nothing dropped: every field of the note, the source, the GPU's figures.
    for (const char* kept : {"memory_utilization_percent", "not real hardware", "40.0 / 80.0 GiB",
                             "2026-11-25 10:00:00"}) {
      EXPECT_NE(text.find(kept), std::string::npos) << columns << ": " << kept << "\n" << text;
    }
  }
  // At 80 the bar keeps four blocks, the name is cut with '+', and the lost GPU's reason
  // goes under its line rather than narrow every other.
  const std::string eighty = table(reading, {.unicode = true, .columns = 80});
  EXPECT_NE(line_with(eighty, "[0]").find("NVIDIA H100 80GB+  │ 40.0 / 80.0 GiB [██░░] │ 45 %"),
            std::string::npos)
      << eighty;
  EXPECT_NE(eighty.find("\n    UNHEALTHY: GPU is lost"), std::string::npos) << eighty;
}

TEST(StatusJson, TopLevelFields) {
  const Json document = status_to_json(nvml_reading(), test_context());
  EXPECT_EQ(document["schema_version"], kStatusSchemaVersion);
  EXPECT_EQ(document["source"], "nvml");
  EXPECT_EQ(document["host"], "gpu-host");
  EXPECT_EQ(document["time"], "2026-11-25T10:00:00Z");
  EXPECT_EQ(document["driver_version"], "550.54.15");
  EXPECT_EQ(document["cuda_driver_version"], 12040);
  ASSERT_EQ(document["devices"].size(), 3u);
}

TEST(StatusJson, EveryFieldInExplicitUnits) {
  const Json device = status_to_json(nvml_reading(), test_context())["devices"][0];
  EXPECT_EQ(device["index"], 0);
  EXPECT_EQ(device["uuid"], "GPU-1234");
  EXPECT_EQ(device["pci_bus_id"], "00000000:18:00.0");
  EXPECT_EQ(device["memory_total_bytes"], 80 * kGiB);
  EXPECT_EQ(device["memory_used_bytes"], 40 * kGiB);
  EXPECT_EQ(device["memory_free_bytes"], 39 * kGiB);
  EXPECT_EQ(device["memory_reserved_bytes"], kGiB);
  EXPECT_EQ(device["gpu_utilization_percent"], 45);
  EXPECT_EQ(device["memory_utilization_percent"], 30);
  EXPECT_DOUBLE_EQ(device["power_watts"].get<double>(), 312.4);
  EXPECT_DOUBLE_EQ(device["power_limit_watts"].get<double>(), 700);
  EXPECT_EQ(device["energy_millijoules"], 123456789);
  EXPECT_EQ(device["temperature_celsius"], 54);
  EXPECT_EQ(device["sm_clock_mhz"], 1980);
  EXPECT_EQ(device["memory_clock_mhz"], 2619);
  EXPECT_EQ(device["health"]["healthy"], true);
  EXPECT_TRUE(device["unreadable_fields"].empty());
}

TEST(StatusJson, ProcessesCarryUserCommandAndMemoryOrNull) {
  const Json processes = status_to_json(nvml_reading(), test_context())["devices"][0]["processes"];
  ASSERT_EQ(processes.size(), 2u);
  EXPECT_EQ(processes[0]["pid"], 4242);
  EXPECT_EQ(processes[0]["user"], "alice");
  EXPECT_EQ(processes[0]["command"], "python3");
  EXPECT_EQ(processes[0]["used_memory_bytes"], 30 * kGiB);
  EXPECT_TRUE(processes[1]["user"].is_null());
  EXPECT_TRUE(processes[1]["command"].is_null());
  EXPECT_TRUE(processes[1]["used_memory_bytes"].is_null());
}

TEST(StatusJson, AbsentFieldsAreNullAndListedWhenUnreadable) {
  const Json device = status_to_json(nvml_reading(), test_context())["devices"][1];
  for (const char* field : {"power_watts", "temperature_celsius", "memory_used_bytes",
                            "gpu_utilization_percent", "processes", "uuid"}) {
    ASSERT_TRUE(device.contains(field)) << field;
    EXPECT_TRUE(device[field].is_null()) << field << " = " << device[field];
  }
  ASSERT_EQ(device["unreadable_fields"].size(), 2u);
  EXPECT_EQ(device["unreadable_fields"][0]["field"], "power_watts");
  EXPECT_EQ(device["unreadable_fields"][0]["reason"], "not supported");
}

TEST(StatusJson, UnhealthyGpuCarriesItsReasons) {
  const Json health = status_to_json(nvml_reading(), test_context())["devices"][2]["health"];
  EXPECT_EQ(health["healthy"], false);
  ASSERT_EQ(health["reasons"].size(), 1u);
  EXPECT_EQ(health["reasons"][0], "GPU is lost (NVML_ERROR_GPU_IS_LOST)");
}

TEST(StatusJson, EmptyProcessListIsAnEmptyArrayNotNull) {
  GpuReading reading = nvml_reading();
  reading.devices[0].processes = std::vector<GpuProcess>{};
  const Json processes = status_to_json(reading, test_context())["devices"][0]["processes"];
  EXPECT_TRUE(processes.is_array());
  EXPECT_TRUE(processes.empty());
}

TEST(StatusJson, SchemaVersionComesFirst) {
  const std::string text = status_to_json(nvml_reading(), test_context()).dump();
  EXPECT_EQ(text.rfind("{\"schema_version\":1,", 0), 0u) << text.substr(0, 40);
}

// ---- the daemon's ledger under each GPU ---------------------------------------------------

LedgerHold hold(std::optional<std::uint64_t> job, std::string user, std::uint64_t bytes,
                double share, std::optional<std::string> name = std::nullopt) {
  LedgerHold made;
  made.job = job;
  made.user = std::move(user);
  made.name = std::move(name);
  made.command = "python3";
  made.bytes = bytes;
  made.share = share;
  return made;
}

// Two jobs of alice's and one of bob's that alice may not name, 8 GiB held outside FastGPU.
LedgerView shared_ledger() {
  LedgerView ledger;
  ledger.usable_bytes = 71 * kGiB;
  ledger.foreign_bytes = 8 * kGiB;
  ledger.declared_bytes = 40 * kGiB;
  ledger.free_bytes = 31 * kGiB;
  ledger.share_used = 0.75;
  ledger.free_share = 0.25;
  ledger.jobs = {hold(12, "alice", 20 * kGiB, 0.5, "train"), hold(13, "alice", 10 * kGiB, 0.125),
                 hold(std::nullopt, "bob", 10 * kGiB, 0.125)};
  return ledger;
}

std::string table_with(const std::map<std::uint32_t, LedgerView>& ledgers,
                       const std::string& user) {
  StatusContext context = test_context();
  context.ledgers = ledgers;
  context.user = user;
  return render_status_table(nvml_reading(), context, TableStyle{});
}

TEST(StatusTable, TheLedgerLineNamesEachJobsHoldAndWhatIsFree) {
  const std::string line = line_with(table_with({{0, shared_ledger()}}, "alice"), "fastgpu:");
  EXPECT_EQ(line,
            "    fastgpu: job 12 train 20.0 GiB at share 0.5; job 13 python3 10.0 GiB at share "
            "0.125; a job of bob's 10.0 GiB at share 0.125; free: 31.0 GiB at share up to 0.25 "
            "(8.0 GiB held outside FastGPU)");
  // Under its GPU's line, not another's.
  const std::string text = table_with({{0, shared_ledger()}}, "alice");
  EXPECT_LT(text.find("[0]"), text.find("fastgpu:"));
  EXPECT_GT(text.find("[1]"), text.find("fastgpu:"));
}

TEST(StatusTable, TheLedgerLineNamesTheUserOfAnotherUsersJobForRoot) {
  LedgerView ledger = shared_ledger();
  ledger.jobs = {hold(12, "alice", 20 * kGiB, 0.5, "train")};
  EXPECT_NE(line_with(table_with({{0, ledger}}, "root"), "fastgpu:")
                .find("job 12 train (alice) 20.0 GiB"),
            std::string::npos);
}

TEST(StatusTable, TheLedgerLineSaysWhenNothingMoreStartsAndWhy) {
  LedgerView idle;
  idle.usable_bytes = idle.free_bytes = 79 * kGiB;
  idle.free_share = 1.0;
  EXPECT_EQ(line_with(table_with({{0, idle}}, "alice"), "fastgpu:"),
            "    fastgpu: no job; free: 79.0 GiB, the whole GPU");

  LedgerView whole = idle;
  whole.jobs = {hold(7, "alice", 30 * kGiB, 1.0)};
  whole.free_bytes = 49 * kGiB;
  whole.free_share = 0.0;
  EXPECT_EQ(line_with(table_with({{0, whole}}, "alice"), "fastgpu:"),
            "    fastgpu: job 7 python3 30.0 GiB, the whole GPU; free: nothing until it ends");

  LedgerView full = shared_ledger();
  full.free_bytes = 0;
  EXPECT_NE(line_with(table_with({{0, full}}, "alice"), "fastgpu:")
                .find("; free: no memory (all held) (8.0 GiB held outside FastGPU)"),
            std::string::npos);

  LedgerView sick = idle;
  sick.open = false;
  EXPECT_NE(line_with(table_with({{0, sick}}, "alice"), "fastgpu:")
                .find("free: nothing, the GPU is unhealthy"),
            std::string::npos);
  sick.gone = true;
  EXPECT_NE(line_with(table_with({{0, sick}}, "alice"), "fastgpu:")
                .find("free: nothing, the GPU is no longer listed"),
            std::string::npos);
}

TEST(StatusTable, EachProcessIsNamedByItsJobUnderALedger) {
  LedgerView ledger = shared_ledger();
  ledger.processes = {{.pid = 4242, .job = 12, .user = "alice"}};
  const std::string mine = line_with(table_with({{0, ledger}}, "alice"), " 4242 ");
  EXPECT_TRUE(mine.ends_with("30.0 GiB  job 12")) << mine;
  EXPECT_TRUE(line_with(table_with({{0, ledger}}, "alice"), " 777 ").ends_with("  no FastGPU job"));
  ledger.processes = {{.pid = 4242, .job = std::nullopt, .user = "bob"}};
  EXPECT_TRUE(
      line_with(table_with({{0, ledger}}, "alice"), " 4242 ").ends_with("  a job of bob's"));
  // A job's process on a GPU the job was not given: its memory is held outside FastGPU
  // there, as the free memory says, and the line says why.
  ledger.processes = {{.pid = 4242, .job = 14, .user = "alice"}};
  const std::string stray = line_with(table_with({{0, ledger}}, "alice"), " 4242 ");
  EXPECT_TRUE(stray.ends_with("  job 14, not placed here (counted outside FastGPU)")) << stray;
  ledger.processes = {{.pid = 4242, .job = std::nullopt, .user = "carol"}};
  EXPECT_TRUE(line_with(table_with({{0, ledger}}, "alice"), " 4242 ")
                  .ends_with("  a job of carol's, not placed here (counted outside FastGPU)"));
  // Without the daemon's ledger nothing is said of whose a process is.
  EXPECT_TRUE(line_with(table(nvml_reading()), " 4242 ").ends_with("30.0 GiB"));
}

TEST(StatusTable, WithoutADaemonThereIsNoLedgerLine) {
  EXPECT_EQ(table(nvml_reading()).find("fastgpu:"), std::string::npos);
}

TEST(StatusJson, TheLedgerIsNullWithoutADaemonAndReadsBackWhole) {
  StatusContext context = test_context();
  EXPECT_TRUE(status_to_json(nvml_reading(), context)["devices"][0]["ledger"].is_null());

  LedgerView with_processes = shared_ledger();
  with_processes.processes = {{.pid = 4242, .job = 12, .user = "alice"},
                              {.pid = 4343, .job = std::nullopt, .user = "bob"}};
  context.ledgers = {{0, with_processes}};
  const Json document = status_to_json(nvml_reading(), context);
  const Json& ledger = document["devices"][0]["ledger"];
  EXPECT_TRUE(document["devices"][1]["ledger"].is_null());
  EXPECT_EQ(ledger["free_bytes"], 31 * kGiB);
  EXPECT_EQ(ledger["foreign_bytes"], 8 * kGiB);
  EXPECT_EQ(ledger["free_share"], 0.25);
  ASSERT_EQ(ledger["jobs"].size(), 3u);
  EXPECT_EQ(ledger["jobs"][0]["job"], 12);
  EXPECT_EQ(ledger["jobs"][0]["name"], "train");
  EXPECT_TRUE(ledger["jobs"][2]["job"].is_null());
  EXPECT_EQ(ledger["jobs"][2]["user"], "bob");
  EXPECT_EQ(ledger["processes"], Json::parse(R"([{"pid": 4242, "job": 12, "user": "alice"},
                                                 {"pid": 4343, "job": null, "user": "bob"}])"));

  // What `fastgpu status` reads from the daemon is what it sent.
  Result<LedgerView> back = ledger_from_json(ledger);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(status_to_json(nvml_reading(),
                           [&] {
                             StatusContext again = test_context();
                             again.ledgers = {{0, *back}};
                             return again;
                           }())["devices"][0]["ledger"],
            ledger);

  Json broken = ledger;
  broken.erase("free_bytes");
  const Result<LedgerView> refused = ledger_from_json(broken);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("free_bytes"), std::string::npos)
      << refused.status().message();
}

}  // namespace
}  // namespace fastgpu::cli
