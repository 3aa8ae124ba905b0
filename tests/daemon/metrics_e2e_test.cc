// `fastgpu metrics` and GET /v1/metrics through a real daemon, its text checked by
// Prometheus's own `promtool check metrics` (Debian package prometheus; scripts/setup.sh
// installs it).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "daemon/daemon_harness.h"

namespace fastgpu::test_support {
namespace {

std::string read_all(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// `promtool check metrics` on the file; the exit code, with what it said in `said`.
int promtool_check(const std::filesystem::path& file, std::string& said) {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) {
    said = "promtool is not installed: run scripts/setup.sh (Debian package prometheus)";
    return -1;
  }
  const std::filesystem::path out = file.string() + ".promtool";
  const int status = std::system(
      ("promtool check metrics < '" + file.string() + "' > '" + out.string() + "' 2>&1").c_str());
  said = read_all(out);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(MetricsE2E, TheGpusAndARunningJobPassPromtoolsCheck) {
  DaemonHarness daemon;  // two simulated H100s
  const std::uint64_t id = daemon.submit("--gpus 1 --gpu-mem 10G --name train -- sleep 60");
  ASSERT_NE(id, 0u);
  daemon.wait_for_launch(id);

  const CliRun text = daemon.fastgpu("metrics", /*with_stderr=*/false);
  ASSERT_EQ(text.exit_code, 0) << text.output;
  const std::string job = "{job=\"" + std::to_string(id) + "\",name=\"train\",user=\"";
  EXPECT_TRUE(contains(text.output, "\nfastgpu_job_gpus" + job)) << text.output;
  EXPECT_TRUE(contains(text.output, "\"} 1\n")) << text.output;
  EXPECT_TRUE(contains(text.output, "\nfastgpu_job_gpu_memory_declared_bytes" + job))
      << text.output;
  EXPECT_TRUE(contains(text.output, "\"} 10737418240\n")) << text.output;
  EXPECT_TRUE(contains(text.output, "\nfastgpu_jobs{state=\"RUNNING\"} 1\n")) << text.output;
  EXPECT_TRUE(contains(text.output, "\nfastgpu_jobs_held 0\n")) << text.output;
  EXPECT_TRUE(contains(text.output, "\nfastgpu_gpus_simulated 1\n")) << text.output;
  EXPECT_EQ(count_of(text.output, "\nDCGM_FI_DEV_FB_FREE{gpu="), 2) << text.output;

  const std::filesystem::path file = daemon.work() / "fastgpu.prom";
  const CliRun written = daemon.fastgpu("metrics -o " + file.string());
  ASSERT_EQ(written.exit_code, 0) << written.output;
  const std::string from_file = read_all(file);
  EXPECT_TRUE(contains(from_file, "\nfastgpu_job_gpus" + job)) << from_file;
  std::string said;
  EXPECT_EQ(promtool_check(file, said), 0) << said << "\n" << from_file;
  EXPECT_TRUE(said.empty()) << said;  // not even a lint warning

  const nlohmann::json json = daemon.fastgpu_json("metrics");
  ASSERT_TRUE(json.is_object() && json["metrics"].is_array()) << json.dump();
  bool found = false;
  for (const auto& family : json["metrics"]) {
    if (family["name"] != "fastgpu_job_gpus") continue;
    for (const auto& sample : family["samples"]) {
      found = found || (sample["labels"]["job"] == std::to_string(id) && sample["value"] == 1.0);
    }
  }
  EXPECT_TRUE(found) << json.dump();
}

// Through the real NVML loading code and the fake NVML library: a field the driver does not
// support has no sample (not 0), and a lost GPU reads unhealthy.
TEST(MetricsE2E, GpusReadThroughNvmlLeaveOutWhatTheDriverCannotRead) {
  DaemonHarness daemon("");
  const std::filesystem::path state = daemon.work() / "nvml-state.json";
  std::ofstream(state) << R"({"driver_version": "580.65.06", "gpus": [
    {"name": "NVIDIA H100 80GB HBM3", "uuid": "GPU-0", "pci_bus_id": "00000000:18:00.0",
     "memory_total": 85520809984, "memory_reserved": 559939584, "memory_used": 1073741824,
     "memory_free": 83887505408, "utilization_gpu": 87, "power_mw": 250000,
     "energy_mj": 8123456789, "temperature_c": 61, "processes": []},
    {"name": "NVIDIA H100 80GB HBM3", "uuid": "GPU-1", "pci_bus_id": "00000000:2A:00.0",
     "memory_total": 85520809984, "memory_reserved": 559939584, "memory_used": 0,
     "memory_free": 84961918976, "utilization_gpu": 0, "utilization_memory": 0,
     "temperature_c": 33, "processes": []},
    {"name": "NVIDIA H100 80GB HBM3", "uuid": "GPU-2", "pci_bus_id": "00000000:3B:00.0",
     "lost": true}]})";
  ASSERT_EQ(::setenv("FASTGPU_NVML_LIBRARY", FASTGPU_FAKE_NVML_PATH, 1), 0);
  ASSERT_EQ(::setenv("FASTGPU_FAKE_NVML_STATE", state.c_str(), 1), 0);
  const CliRun started = daemon.fastgpu("daemon start");
  const CliRun text = daemon.fastgpu("metrics", /*with_stderr=*/false);
  ::unsetenv("FASTGPU_NVML_LIBRARY");
  ::unsetenv("FASTGPU_FAKE_NVML_STATE");
  ASSERT_EQ(started.exit_code, 0) << started.output;
  ASSERT_EQ(text.exit_code, 0) << text.output;
  const auto gpu = [](int index) {
    return "{gpu=\"" + std::to_string(index) + "\",device=\"nvidia" + std::to_string(index) +
           "\",UUID=\"GPU-" + std::to_string(index) +
           "\",model_name=\"NVIDIA H100 80GB HBM3\",pci_bus_id=";
  };
  EXPECT_TRUE(contains(text.output, "\nfastgpu_gpus_simulated 0\n")) << text.output;
  EXPECT_TRUE(contains(text.output, "\nDCGM_FI_DEV_POWER_USAGE" + gpu(0))) << text.output;
  EXPECT_TRUE(contains(text.output, "\"} 250\n")) << text.output;
  EXPECT_TRUE(contains(text.output, "\nDCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION" + gpu(0)))
      << text.output;
  EXPECT_TRUE(contains(text.output, "\"} 8123456789\n")) << text.output;
  EXPECT_TRUE(contains(text.output, "\nDCGM_FI_DEV_GPU_UTIL" + gpu(1))) << text.output;
  EXPECT_FALSE(contains(text.output, "\nDCGM_FI_DEV_POWER_USAGE" + gpu(1))) << text.output;
  EXPECT_FALSE(contains(text.output, "\nDCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION" + gpu(1)))
      << text.output;
  // Lost, it cannot even say its UUID and name.
  const std::string lost_gpu = "{gpu=\"2\",device=\"nvidia2\",Hostname=";
  const std::size_t lost = text.output.find("\nfastgpu_gpu_healthy" + lost_gpu);
  ASSERT_NE(lost, std::string::npos) << text.output;
  EXPECT_EQ(text.output.substr(text.output.find('\n', lost + 1) - 2, 2), " 0") << text.output;
  EXPECT_FALSE(contains(text.output, "\nDCGM_FI_DEV_FB_USED" + lost_gpu)) << text.output;

  const std::filesystem::path file = daemon.work() / "nvml.prom";
  std::ofstream(file) << text.output;
  std::string said;
  EXPECT_EQ(promtool_check(file, said), 0) << said << "\n" << text.output;
  EXPECT_TRUE(said.empty()) << said;
}

// A running job's utilization and energy so far, through the fake NVML: its GPU's counter
// grows 100 J a read, and the job is alone on it.
TEST(MetricsE2E, ARunningJobsUtilizationAndEnergySoFarAreServed) {
  DaemonHarness daemon("");
  const std::filesystem::path state = daemon.work() / "nvml-state.json";
  std::string energy;
  for (int read = 0; read < 200; ++read) {
    energy += (read == 0 ? "" : ", ") + std::to_string(1'000'000'000LL + read * 100'000LL);
  }
  std::ofstream(state) << R"({"driver_version": "580.65.06", "gpus": [
    {"name": "NVIDIA H100 80GB HBM3", "uuid": "GPU-0", "pci_bus_id": "00000000:18:00.0",
     "memory_total": 85520809984, "memory_reserved": 559939584, "memory_used": 0,
     "memory_free": 84961918976, "utilization_gpu": 75, "utilization_memory": 10,
     "power_mw": 250000, "energy_mj": [)"
                       << energy << R"(], "temperature_c": 61, "processes": []}]})";
  ASSERT_EQ(::setenv("FASTGPU_NVML_LIBRARY", FASTGPU_FAKE_NVML_PATH, 1), 0);
  ASSERT_EQ(::setenv("FASTGPU_FAKE_NVML_STATE", state.c_str(), 1), 0);
  const std::uint64_t id = daemon.submit("--gpus 1 --gpu-mem 1G --name burn -- sleep 60");
  daemon.wait_for_launch(id);
  const std::string job = "{job=\"" + std::to_string(id) + "\",name=\"burn\",user=\"";
  std::string text;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    text = daemon.fastgpu("metrics", /*with_stderr=*/false).output;
    if (contains(text, "\nfastgpu_job_energy_joules" + job)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ::unsetenv("FASTGPU_NVML_LIBRARY");
  ::unsetenv("FASTGPU_FAKE_NVML_STATE");
  const std::size_t energy_at = text.find("\nfastgpu_job_energy_joules" + job);
  ASSERT_NE(energy_at, std::string::npos) << text;
  const std::size_t value = text.find("} ", energy_at) + 2;
  EXPECT_GT(std::stod(text.substr(value, text.find('\n', value) - value)), 0.0) << text;
  const std::size_t util = text.find("\nfastgpu_job_gpu_utilization_percent" + job);
  ASSERT_NE(util, std::string::npos) << text;
  EXPECT_EQ(text.substr(text.find("} ", util) + 2, 3), "75\n") << text;
}

// A port nothing listens on now (the kernel's choice for port 0).
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  ::close(fd);
  return port;
}

// A real Prometheus server scrapes `daemon start --metrics-listen` and answers a query on
// what it scraped.
TEST(MetricsE2E, PrometheusScrapesTheDaemonsMetricsPort) {
  if (std::system("command -v prometheus >/dev/null 2>&1") != 0) {
    FAIL() << "prometheus is not installed: run scripts/setup.sh (Debian package prometheus)";
  }
  DaemonHarness daemon;
  const int metrics_port = free_port();
  const int prometheus_port = free_port();
  ASSERT_TRUE(metrics_port > 0 && prometheus_port > 0 && metrics_port != prometheus_port);
  const std::string listen = "127.0.0.1:" + std::to_string(metrics_port);
  const CliRun started = daemon.fastgpu("daemon start --metrics-listen " + listen);
  ASSERT_EQ(started.exit_code, 0) << started.output;
  const nlohmann::json status = daemon.fastgpu_json("daemon status");
  EXPECT_EQ(status["metrics_listen"], listen) << status.dump();

  // A second daemon may not take the same port (SO_REUSEPORT would have let it share).
  DaemonHarness other;
  const CliRun taken = other.fastgpu("daemon start --metrics-listen " + listen);
  EXPECT_EQ(taken.exit_code, 1) << taken.output;
  EXPECT_TRUE(contains(taken.output, "cannot listen on " + listen)) << taken.output;

  // The example users start from, with this test's port and a 1 s interval.
  std::string example =
      read_all(std::filesystem::path(FASTGPU_SOURCE_DIR) / "examples" / "prometheus.yml");
  for (const auto& [from, to] : {std::pair<std::string, std::string>{"targets: ['127.0.0.1:9401']",
                                                                     "targets: ['" + listen + "']"},
                                 {"scrape_interval: 15s", "scrape_interval: 1s"}}) {
    const std::size_t at = example.find(from);
    ASSERT_NE(at, std::string::npos) << from << " is not in examples/prometheus.yml";
    example.replace(at, from.size(), to);
  }
  const std::filesystem::path config = daemon.work() / "prometheus.yml";
  std::ofstream(config) << example;
  const std::filesystem::path log = daemon.work() / "prometheus.log";
  const std::string command = "prometheus --config.file=" + config.string() +
                              " --storage.tsdb.path=" + (daemon.work() / "tsdb").string() +
                              " --web.listen-address=127.0.0.1:" + std::to_string(prometheus_port) +
                              " >" + log.string() + " 2>&1 & echo $!";
  FILE* shell = ::popen(command.c_str(), "r");
  ASSERT_NE(shell, nullptr);
  char pid_text[32] = {};
  const bool read = std::fgets(pid_text, sizeof pid_text, shell) != nullptr;
  ::pclose(shell);
  const pid_t prometheus = read ? static_cast<pid_t>(std::atoi(pid_text)) : 0;
  ASSERT_GT(prometheus, 0) << command;

  // What Prometheus scraped, asked through its own HTTP API.
  httplib::Client client("127.0.0.1", prometheus_port);
  std::string answer;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  bool scraped = false;
  while (!scraped && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    auto reply = client.Get("/api/v1/query?query=fastgpu_gpus_simulated");
    if (!reply || reply->status != 200) continue;
    answer = reply->body;
    const nlohmann::json parsed = nlohmann::json::parse(answer, nullptr, false);
    scraped = parsed.is_object() && parsed["data"]["result"].is_array() &&
              !parsed["data"]["result"].empty();
  }
  ::kill(prometheus, SIGTERM);
  ASSERT_TRUE(scraped) << answer << "\n" << read_all(log);
  const nlohmann::json parsed = nlohmann::json::parse(answer);
  const nlohmann::json& sample = parsed["data"]["result"][0];
  EXPECT_EQ(sample["metric"]["job"], "fastgpu") << answer;
  EXPECT_EQ(sample["value"][1], "1") << answer;  // two simulated H100s
}

// Held jobs are counted apart from the queue they are in: submitted held, held later, and
// no longer once released (or cancelled).
TEST(MetricsE2E, HeldJobsAreCountedUntilReleased) {
  DaemonHarness daemon;
  const std::string first = std::to_string(daemon.submit("--hold --gpus 0 -- true"));
  const std::string second =
      std::to_string(daemon.submit("--gpus 0 --after " + first + " -- true"));
  const auto held = [&] {
    const CliRun text = daemon.fastgpu("metrics", /*with_stderr=*/false);
    EXPECT_EQ(text.exit_code, 0) << text.output;
    const std::size_t at = text.output.find("\nfastgpu_jobs_held ");
    return at == std::string::npos
               ? std::string("none")
               : text.output.substr(at + 19, text.output.find('\n', at + 1) - at - 19);
  };
  EXPECT_EQ(held(), "1");
  ASSERT_EQ(daemon.fastgpu("hold " + second).exit_code, 0);
  EXPECT_EQ(held(), "2");
  ASSERT_EQ(daemon.fastgpu("cancel " + second).exit_code, 0);
  EXPECT_EQ(held(), "1");
  ASSERT_EQ(daemon.fastgpu("release " + first).exit_code, 0);
  EXPECT_EQ(held(), "0");
}

TEST(MetricsE2E, BadUsageIsRefusedNamingTheFix) {
  DaemonHarness daemon;
  const CliRun port = daemon.fastgpu("daemon start --metrics-listen 127.0.0.1:99999");
  EXPECT_EQ(port.exit_code, 2) << port.output;
  EXPECT_TRUE(contains(port.output, "'127.0.0.1:99999' is not HOST:PORT")) << port.output;
  EXPECT_TRUE(contains(port.output, "e.g. 127.0.0.1:9401")) << port.output;
  const CliRun variable = daemon.fastgpu_with("FASTGPU_METRICS_LISTEN=9401", "daemon start");
  EXPECT_EQ(variable.exit_code, 1) << variable.output;
  EXPECT_TRUE(contains(variable.output, "FASTGPU_METRICS_LISTEN '9401'")) << variable.output;

  const CliRun both = daemon.fastgpu("metrics --json -o x.prom");
  EXPECT_EQ(both.exit_code, 2) << both.output;
  EXPECT_TRUE(contains(both.output, "leave out --json")) << both.output;

  const CliRun nowhere =
      daemon.fastgpu("metrics -o " + (daemon.work() / "no/such/x.prom").string());
  EXPECT_EQ(nowhere.exit_code, 1) << nowhere.output;
  EXPECT_TRUE(contains(nowhere.output, "folder you may write to")) << nowhere.output;
  EXPECT_FALSE(contains(nowhere.output, "started a daemon")) << nowhere.output;
  EXPECT_FALSE(std::filesystem::exists(daemon.work() / "no")) << nowhere.output;

  ASSERT_EQ(daemon.fastgpu("daemon start").exit_code, 0);
  const api::ApiClient client(daemon.socket());
  const Result<std::string> xml = client.get_text("/v1/metrics?format=xml");
  ASSERT_FALSE(xml.ok());
  EXPECT_TRUE(contains(xml.status().message(), "format 'xml'")) << xml.status().message();
  EXPECT_TRUE(contains(xml.status().message(), "format=json")) << xml.status().message();
}

}  // namespace
}  // namespace fastgpu::test_support
