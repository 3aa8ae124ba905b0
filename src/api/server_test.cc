#include "fastgpu/api/server.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <vector>

#include "api/api_test_util.h"
#include "fastgpu/api/client.h"

namespace fastgpu::api {
namespace {

class ApiServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/fastgpu-server-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    folder_ = pattern;
    socket_ = folder_ / "api.sock";
    store_ = store::open_sqlite_store(":memory:").value();
    engine_ = std::make_unique<testing::FakeEngine>(*store_);
    ApiServiceOptions options;
    options.engine = engine_.get();
    options.store = store_.get();
    options.engine_mutex = &mutex_;
    options.clock = &clock_;
    service_ = std::make_unique<ApiService>(std::move(options));
    Result<std::unique_ptr<ApiServer>> server = ApiServer::start({socket_, false, service_.get()});
    ASSERT_TRUE(server.ok()) << server.status().to_string();
    server_ = std::move(server).value();
  }
  void TearDown() override {
    if (server_) server_->stop();
    std::filesystem::remove_all(folder_);
  }

  // Writes `request` as it is on a connection of its own, and reads until the server closes
  // it (at most 3 s): what a client that is not httplib gets back.
  std::string raw_exchange(const std::string& request) const {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    EXPECT_GE(fd, 0);
    if (fd < 0) return "";
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, socket_.c_str(), sizeof(address.sun_path) - 1);
    std::string answer;
    const timeval patience{3, 0};
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof(patience)) == 0 &&
        ::write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
      char buffer[4096];
      for (ssize_t got = 0; (got = ::read(fd, buffer, sizeof(buffer))) > 0;) {
        answer.append(buffer, static_cast<std::size_t>(got));
      }
    }
    ::close(fd);
    return answer;
  }

  // Stops the server and leaves a socket file that nothing listens on, as a daemon killed
  // with SIGKILL does.
  void leave_a_dead_socket() {
    server_->stop();
    server_.reset();
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, socket_.c_str(), sizeof(address.sun_path) - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    ::close(fd);
  }

  std::filesystem::path folder_;
  std::filesystem::path socket_;
  std::unique_ptr<store::StateStore> store_;
  std::unique_ptr<testing::FakeEngine> engine_;
  std::mutex mutex_;
  testing::FixedClock clock_;
  std::unique_ptr<ApiService> service_;
  std::unique_ptr<ApiServer> server_;
};

TEST_F(ApiServerTest, TheCallersUidComesFromTheSocketNotTheRequest) {
  const ApiClient client(socket_);
  const Result<Json> reply =
      client.post("/v1/jobs", Json::parse(R"({"jobs": [{"argv": ["true"], "working_dir": "/"}]})"));
  ASSERT_TRUE(reply.ok()) << reply.status().to_string();
  const JobId id((*reply)["ids"][0].get<std::uint64_t>());
  EXPECT_EQ(store_->get_job(id).value().spec.uid, ::getuid());
}

TEST_F(ApiServerTest, SocketIsPrivateToItsOwner) {
  struct stat info {};
  ASSERT_EQ(::stat(socket_.c_str(), &info), 0);
  EXPECT_TRUE(S_ISSOCK(info.st_mode));
  EXPECT_EQ(info.st_mode & 0777, 0600u);
}

TEST_F(ApiServerTest, ErrorRepliesCarryTheDaemonsMessageAndCode) {
  const ApiClient client(socket_);
  const Result<ApiReply> reply = client.exchange("GET", "/v1/jobs/77", "");
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->status, 404);
  EXPECT_EQ(reply->body["code"], "not found");
  const Result<Json> failed = client.get("/v1/jobs/77");
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), ErrorCode::kNotFound);
  EXPECT_NE(failed.status().message().find("no job 77"), std::string::npos);
}

// What `fastgpu run` reads to point at the refused job in its file.
TEST_F(ApiServerTest, ARefusalOfOneJobOfABatchComesBackWithItsIndex) {
  const Result<Json> refused = ApiClient(socket_).post(
      "/v1/jobs", Json::parse(R"({"jobs": [{"argv": ["a"], "working_dir": "/"},
                                           {"argv": ["b"], "working_dir": "b"}]})"));
  ASSERT_FALSE(refused.ok());
  ASSERT_TRUE(refused.status().batch_job().has_value()) << refused.status().to_string();
  EXPECT_EQ(refused.status().batch_job()->index, 1u);
  EXPECT_EQ(refused.status().batch_job()->problem.rfind("working_dir 'b' is not", 0), 0u);
  EXPECT_EQ(refused.status().message().rfind("job 1 of the batch: working_dir 'b'", 0), 0u);
}

// httplib answered a method without a handler itself, with an empty body.
TEST_F(ApiServerTest, AnyMethodGetsAJsonAnswer) {
  httplib::Client client(socket_.string(), 80);
  client.set_address_family(AF_UNIX);
  const auto expect_json_error = [](const std::string& method, const httplib::Result& reply) {
    ASSERT_TRUE(reply) << method;
    EXPECT_EQ(reply->status, 404) << method;
    const Json body = Json::parse(reply->body, nullptr, /*allow_exceptions=*/false);
    EXPECT_NE(body.value("error", std::string()).find("no endpoint " + method), std::string::npos)
        << method << ": " << reply->body;
  };
  expect_json_error("DELETE", client.Delete("/v1/jobs/1"));
  expect_json_error("PUT", client.Put("/v1/daemon", "{}", "application/json"));
  expect_json_error("PATCH", client.Patch("/v1/jobs/1", "{}", "application/json"));
}

// `curl -X POST .../cancel` sends no body and no Content-Length: the request has no body, and
// is answered at once. It was answered after the server's 10 s read timeout, with an empty 400.
TEST_F(ApiServerTest, APostWithoutContentLengthHasNoBody) {
  const std::string answer = raw_exchange("POST /v1/jobs/77/cancel HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 404")) << answer;
  EXPECT_NE(answer.find("no job 77"), std::string::npos) << answer;
}

// `curl -d @batch.json` labels the body a form: httplib refused one over 8 KiB with an empty
// 413. The body is JSON whatever its label.
TEST_F(ApiServerTest, ABodyLabelledAFormIsReadAsJson) {
  httplib::Client client(socket_.string(), 80);
  client.set_address_family(AF_UNIX);
  const std::string argument(20000, 'a');  // a body over 8 KiB
  const std::string body =
      R"({"jobs": [{"argv": ["true", ")" + argument + R"("], "working_dir": "/"}]})";
  const httplib::Result reply = client.Post("/v1/jobs", body, "application/x-www-form-urlencoded");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 201) << reply->body;
}

// httplib's own answer to a request it cannot read had an empty body.
TEST_F(ApiServerTest, ARequestTheServerCannotReadGetsAJsonError) {
  const std::string answer = raw_exchange("BREW /v1/daemon HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(answer.starts_with("HTTP/1.1 400")) << answer;
  const Json body = Json::parse(answer.substr(answer.find("\r\n\r\n") + 4), nullptr, false);
  EXPECT_EQ(body.value("code", std::string()), "invalid argument") << answer;
  EXPECT_NE(body.value("error", std::string()).find("could not read the request"),
            std::string::npos)
      << answer;
}

TEST_F(ApiServerTest, GarbageOnTheSocketDoesNotStopTheServer) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, socket_.c_str(), sizeof(address.sun_path) - 1);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  const char garbage[] = "\x01\x02 NOT HTTP\r\n\r\n";
  ASSERT_GT(::write(fd, garbage, sizeof(garbage)), 0);
  char answer[256];
  [[maybe_unused]] const ssize_t ignored = ::read(fd, answer, sizeof(answer));
  ::close(fd);
  EXPECT_TRUE(ApiClient(socket_).reachable());
}

// Clients that connect and never finish their request (here 24, each with half a head) held
// every server thread until their 10 s timeouts, one after another: a plain request waited
// 30 s. It is answered now while they still wait (the server has closed none of them).
TEST_F(ApiServerTest, HalfSentRequestsDoNotHoldUpAnotherClient) {
  std::vector<int> stuck;
  for (int i = 0; i < 24; ++i) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    stuck.push_back(fd);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, socket_.c_str(), sizeof(address.sun_path) - 1);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    const std::string half = "GET /v1/daemon HTTP/1.1\r\n";
    ASSERT_EQ(::write(fd, half.data(), half.size()), static_cast<ssize_t>(half.size()));
  }
  const std::string answer = raw_exchange("POST /v1/jobs/77/cancel HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 404")) << answer;
  for (int fd : stuck) {
    pollfd entry{fd, POLLIN, 0};
    EXPECT_EQ(::poll(&entry, 1, 0), 0) << "the server gave up on a stuck client first";
    ::close(fd);
  }
}

TEST_F(ApiServerTest, ClientOfAMissingSocketSaysHowToStartADaemon) {
  const Result<Json> reply = ApiClient(folder_ / "none.sock").get("/v1/daemon");
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(reply.status().message(),
            "no FastGPU daemon answers on '" + (folder_ / "none.sock").string() +
                "': the socket does not exist; start one with `fastgpu daemon start`");
}

// A socket file no daemon listens on (left by one killed with SIGKILL) is said in words, not
// as httplib's "Connection".
TEST_F(ApiServerTest, ClientOfASocketNobodyListensOnSaysSo) {
  ASSERT_NO_FATAL_FAILURE(leave_a_dead_socket());
  const Result<Json> reply = ApiClient(socket_).get("/v1/daemon");
  ASSERT_FALSE(reply.ok());
  EXPECT_NE(reply.status().message().find("nothing listens on the socket (the daemon that made "
                                          "it stopped or was killed)"),
            std::string::npos)
      << reply.status().message();
  EXPECT_EQ(reply.status().message().find("(Connection)"), std::string::npos);
}

TEST_F(ApiServerTest, AStaleSocketFileIsReplacedButAnOrdinaryFileIsRefused) {
  ASSERT_NO_FATAL_FAILURE(leave_a_dead_socket());
  Result<std::unique_ptr<ApiServer>> again = ApiServer::start({socket_, false, service_.get()});
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  EXPECT_TRUE(ApiClient(socket_).reachable());
  (*again)->stop();

  const std::filesystem::path file = folder_ / "file.sock";
  std::ofstream(file) << "data";
  const Result<std::unique_ptr<ApiServer>> refused =
      ApiServer::start({file, false, service_.get()});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("is not a socket"), std::string::npos);
}

// Two state folders sharing one FASTGPU_SOCKET: the second daemon took the first one's live
// socket as stale and removed it; the first went on running jobs nobody could reach.
TEST_F(ApiServerTest, ASocketSomethingListensOnIsNotTakenOver) {
  const Result<std::unique_ptr<ApiServer>> second =
      ApiServer::start({socket_, false, service_.get()});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(second.status().message(),
            fmt::format("the socket '{}' is in use: pid {} listens on it (another FastGPU "
                        "daemon, with another state folder, or another program); stop it "
                        "(`fastgpu daemon stop` with that daemon's FASTGPU_STATE_DIR, or `kill "
                        "{}`), or give this daemon a socket of its own with FASTGPU_SOCKET",
                        socket_.string(), ::getpid(), ::getpid()));
  EXPECT_TRUE(ApiClient(socket_).reachable());  // the first still answers on its socket

  // Any listener, not only a FastGPU daemon.
  const std::filesystem::path other = folder_ / "other.sock";
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, other.c_str(), sizeof(address.sun_path) - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  const Result<std::unique_ptr<ApiServer>> refused =
      ApiServer::start({other, false, service_.get()});
  ::close(fd);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("is in use"), std::string::npos)
      << refused.status().message();
  EXPECT_TRUE(std::filesystem::exists(other));
}

}  // namespace
}  // namespace fastgpu::api
