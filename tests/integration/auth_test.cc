// Tokens and TLS over real gRPC on loopback: separate client and agent tokens, roles, UNAUTHENTICATED
// without a valid token and PERMISSION_DENIED with one whose role does not reach, TLS and mutual TLS with certificates made here by the openssl CLI, and
// plaintext refused on non-loopback addresses unless asked for.
#include <sys/wait.h>

#include <grpcpp/generic/generic_stub.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "client/remote_commands.h"
#include "coordinator/server.h"
#include "tests/support/http_get.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/test_env.h"

namespace cwb {
namespace {

namespace fs = std::filesystem;
using namespace cwb::testing;

// A CA, a server certificate for 127.0.0.1/localhost and a client certificate, all signed by it.
class Certificates {
 public:
  explicit Certificates(const fs::path& dir) : dir_(dir) {
    auto openssl = [&](std::vector<std::string> args) {
      args.insert(args.begin(), "openssl");
      MustRun(args, {}, dir_);
    };
    openssl({"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=cwb test CA",
             "-keyout", "ca.key", "-out", "ca.pem"});
    std::ofstream(dir_ / "server.ext") << "subjectAltName=IP:127.0.0.1,DNS:localhost\n";
    for (const std::string name : {"server", "client", "other"}) {
      openssl({"req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=cwb " + name, "-keyout",
               name + ".key", "-out", name + ".csr"});
    }
    openssl({"x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "2", "-extfile", "server.ext", "-out", "server.pem"});
    openssl({"x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "2", "-out", "client.pem"});
    // A certificate nobody trusts: self-signed.
    openssl({"x509", "-req", "-in", "other.csr", "-signkey", "other.key", "-days", "2", "-out",
             "other.pem"});
  }
  std::string operator()(const std::string& file) const { return (dir_ / file).string(); }

 private:
  fs::path dir_;
};

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TestDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
  }

  std::unique_ptr<CoordinatorServer> Start(ServerOptions options) {
    options.coordinator.data_dir = dir_ / "coordinator";
    auto server = CoordinatorServer::Start(options, SystemClock::Get());
    EXPECT_TRUE(server.ok()) << server.status();
    return server.ok() ? *std::move(server) : nullptr;
  }

  static grpc::Status ListBuilds(const std::string& address,
                                 std::shared_ptr<grpc::ChannelCredentials> credentials,
                                 const std::string& token) {
    auto stub = v1::BuildService::NewStub(grpc::CreateChannel(address, credentials));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
    v1::ListBuildsResponse response;
    return stub->ListBuilds(&context, v1::ListBuildsRequest(), &response);
  }

  static grpc::Status AgentSession(const std::string& address, const std::string& token) {
    auto stub = v1::AgentService::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
    auto stream = stub->Session(&context);
    v1::AgentMessage hello;
    hello.mutable_register_()->set_agent_id("auth-test");
    stream->Write(hello);
    v1::CoordinatorMessage reply;
    const bool acked = stream->Read(&reply) && reply.has_ack();
    if (acked) context.TryCancel();  // done; a refused session has already ended with its status
    grpc::Status status = stream->Finish();
    return acked ? grpc::Status::OK : status;
  }

  fs::path dir_;
};

TEST_F(AuthTest, ClientsAndAgentsNeedTheirOwnTokens) {
  ServerOptions options;
  options.listen = "127.0.0.1:0";
  ASSERT_TRUE(options.tokens.Add("client-secret", {"client", Role::kAdmin}).ok());
  ASSERT_TRUE(options.tokens.Add("agent-secret", {"agent", Role::kAgent}).ok());
  auto server = Start(options);
  ASSERT_NE(server, nullptr);
  const auto plain = grpc::InsecureChannelCredentials();
  EXPECT_EQ(ListBuilds(server->address(), plain, "").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(ListBuilds(server->address(), plain, "wrong").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(ListBuilds(server->address(), plain, "agent-secret").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(ListBuilds(server->address(), plain, "client-secret").ok());
  EXPECT_EQ(AgentSession(server->address(), "").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(AgentSession(server->address(), "client-secret").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(AgentSession(server->address(), "agent-secret").ok());
}

TEST_F(AuthTest, CliReadsItsTokenFromAFileAndNeverPrintsIt) {
  ServerOptions options;
  options.listen = "127.0.0.1:0";
  ASSERT_TRUE(options.tokens.Add("s3cr3t-client-token", {"client", Role::kAdmin}).ok());
  auto server = Start(options);
  ASSERT_NE(server, nullptr);
  std::ofstream(dir_ / "token") << "s3cr3t-client-token\n";
  auto run = [&](const std::string& args) {
    const std::string command = absl::StrCat("'", CWB_CLI_BINARY, "' --coordinator ",
                                             server->address(), " ", args, " >'",
                                             (dir_ / "out").string(), "' 2>&1");
    const int status = std::system(command.c_str());
    std::stringstream text;
    text << std::ifstream(dir_ / "out").rdbuf();
    return std::make_pair(WEXITSTATUS(status), text.str());
  };
  auto [denied, denied_output] = run("status");
  EXPECT_EQ(denied, 1);
  EXPECT_THAT(denied_output, ::testing::HasSubstr("a valid bearer token is required"));
  auto [allowed, allowed_output] = run("--token-file " + (dir_ / "token").string() + " status");
  EXPECT_EQ(allowed, 0) << allowed_output;
  EXPECT_THAT(allowed_output + denied_output, ::testing::Not(::testing::HasSubstr("s3cr3t")));
}

// The access policy over real gRPC and HTTP: each role reaches what its row says and no more;
// a submitter changes only its own builds; health checks need no token; unknown methods need
// admin.
TEST_F(AuthTest, RolesDecideEachMethodAndRoute) {
  ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.http_listen = "127.0.0.1:0";
  for (auto [token, name, role] : {std::tuple{"t-read", "grafana", Role::kRead}, {"t-ci", "ci", Role::kSubmit},
                                   {"t-nightly", "nightly", Role::kSubmit}, {"t-root", "root", Role::kAdmin},
                                   {"t-agent", "agent", Role::kAgent}}) {
    ASSERT_TRUE(options.tokens.Add(token, {name, role}).ok());
  }
  auto server = Start(options);
  ASSERT_NE(server, nullptr);
  auto channel = grpc::CreateChannel(server->address(), grpc::InsecureChannelCredentials());
  auto builds = v1::BuildService::NewStub(channel);
  auto context = [](const std::string& token) {
    auto c = std::make_unique<grpc::ClientContext>();
    c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (!token.empty()) c->AddMetadata("authorization", "Bearer " + token);
    return c;
  };
  fs::create_directories(dir_ / "repo");
  std::ofstream(dir_ / "c.yaml") << "build_target: {python_version: 3.11, cuda_version: cpu, pytorch_version: 2.4.0}\n"
                                 << "projects: [{name: demo, repo_url: " << (dir_ / "repo").string() << "}]\n"
                                 << "pytorch_base_images: {\"2.4.0\": {cpu: base:1}}\n";
  RemoteOptions remote;
  remote.connection.coordinator = server->address();
  const v1::SubmitBuildRequest submission = MakeSubmitRequest((dir_ / "c.yaml").string(), remote, std::cerr).value();

  v1::BuildInfo build;
  grpc::Status read_submits = builds->SubmitBuild(context("t-read").get(), submission, &build);
  EXPECT_EQ(read_submits.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(read_submits.error_message(),
            "authorization: grafana's token has the read role; /cwb.v1.BuildService/SubmitBuild needs submit");
  EXPECT_EQ(builds->SubmitBuild(context("t-agent").get(), submission, &build).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(builds->SubmitBuild(context("t-ci").get(), submission, &build).ok());
  EXPECT_EQ(build.submitted_by(), "ci");
  v1::ListBuildsResponse listed;
  EXPECT_TRUE(builds->ListBuilds(context("t-read").get(), v1::ListBuildsRequest(), &listed).ok());

  v1::CancelRequest cancel;
  cancel.set_build_id(build.build_id());
  v1::CancelResponse cancelled;
  EXPECT_EQ(builds->Cancel(context("t-read").get(), cancel, &cancelled).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  grpc::Status not_theirs = builds->Cancel(context("t-nightly").get(), cancel, &cancelled);
  EXPECT_EQ(not_theirs.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(not_theirs.error_message(), ::testing::HasSubstr("was submitted by ci"));
  ASSERT_TRUE(builds->Cancel(context("t-ci").get(), cancel, &cancelled).ok());
  v1::RetryRequest retry;
  retry.set_build_id(build.build_id());
  v1::RetryResponse retried;
  EXPECT_EQ(builds->Retry(context("t-nightly").get(), retry, &retried).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(builds->Retry(context("t-root").get(), retry, &retried).ok());
  EXPECT_EQ(retried.requeued(), 1u);

  // Health needs no token; a method outside the table needs admin (then gRPC itself answers).
  grpc::GenericStub generic(channel);
  auto call = [&](const std::string& method, const std::string& token) {
    grpc::CompletionQueue queue;
    auto c = context(token);
    grpc::ByteBuffer request, response;
    grpc::Slice empty("", 0);
    request = grpc::ByteBuffer(&empty, 1);
    auto rpc = generic.PrepareUnaryCall(c.get(), method, request, &queue);
    rpc->StartCall();
    grpc::Status status;
    rpc->Finish(&response, &status, reinterpret_cast<void*>(1));
    void* tag;
    bool ok;
    queue.Next(&tag, &ok);
    return status.error_code();
  };
  EXPECT_EQ(call("/grpc.health.v1.Health/Check", ""), grpc::StatusCode::OK);
  EXPECT_EQ(call("/cwb.v1.BuildService/Unknown", "t-ci"), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(call("/cwb.v1.BuildService/Unknown", "t-root"), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(call("/cwb.v1.BuildService/Unknown", ""), grpc::StatusCode::UNAUTHENTICATED);

  // HTTP: the read role and above see the dashboard, the index and metrics; an agent does not.
  EXPECT_EQ(HttpGet(server->http_address(), "/metrics").status, 401);
  EXPECT_EQ(HttpGet(server->http_address(), "/metrics", {{"Authorization", "Bearer t-read"}}).status, 200);
  EXPECT_EQ(HttpGet(server->http_address(), "/simple/", {{"Authorization", "Bearer t-root"}}).status, 200);
  const HttpAnswer agent = HttpGet(server->http_address(), "/api/builds", {{"Authorization", "Bearer t-agent"}});
  EXPECT_EQ(agent.status, 403);
  EXPECT_THAT(agent.body, ::testing::HasSubstr("agent's token has the agent role; /api/builds needs read"));
}

TEST_F(AuthTest, TlsAndMutualTls) {
  Certificates certs(dir_);
  ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.tls = {certs("server.pem"), certs("server.key"), ""};
  auto server = Start(options);
  ASSERT_NE(server, nullptr);
  const auto trusted = MakeChannelCredentials({certs("ca.pem"), "", ""}).value();
  EXPECT_TRUE(ListBuilds(server->address(), trusted, "").ok());
  EXPECT_FALSE(ListBuilds(server->address(), grpc::InsecureChannelCredentials(), "").ok());
  EXPECT_FALSE(ListBuilds(server->address(), MakeChannelCredentials({certs("other.pem"), "", ""}).value(), "").ok());
  server.reset();

  options.tls.client_ca_file = certs("ca.pem");
  auto mutual = Start(options);
  ASSERT_NE(mutual, nullptr);
  EXPECT_FALSE(ListBuilds(mutual->address(), trusted, "").ok());  // no client certificate
  EXPECT_FALSE(ListBuilds(mutual->address(),
                          MakeChannelCredentials({certs("ca.pem"), certs("other.pem"), certs("other.key")}).value(),
                          "").ok());
  EXPECT_TRUE(ListBuilds(mutual->address(),
                         MakeChannelCredentials({certs("ca.pem"), certs("client.pem"), certs("client.key")}).value(),
                         "").ok());
}

TEST_F(AuthTest, PlaintextOnlyOnLoopbackUnlessAsked) {
  ServerOptions options;
  options.listen = "0.0.0.0:0";
  options.coordinator.data_dir = dir_ / "c";
  auto refused = CoordinatorServer::Start(options, SystemClock::Get());
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(std::string(refused.status().message()), ::testing::HasSubstr("plaintext is only served on loopback"));
  options.allow_insecure_remote = true;
  options.allow_open_agents = options.allow_open_clients = true;  // no tokens: both sides open, as asked
  options.coordinator.data_dir = dir_ / "d";
  EXPECT_TRUE(CoordinatorServer::Start(options, SystemClock::Get()).ok());
  EXPECT_TRUE(IsLoopbackAddress("127.0.0.1:7600"));
  EXPECT_TRUE(IsLoopbackAddress("[::1]:7600"));
  EXPECT_TRUE(IsLoopbackAddress("localhost:7600"));
  EXPECT_FALSE(IsLoopbackAddress("10.0.0.5:7600"));
}

TEST_F(AuthTest, SecretsComeFromFilesOrTheEnvironment) {
  std::ofstream(dir_ / "t") << "  from-file \n";
  EXPECT_EQ(ReadSecret((dir_ / "t").string(), "CWB_AUTH_TEST_TOKEN").value(), "from-file");
  ::setenv("CWB_AUTH_TEST_TOKEN", "from-env", 1);
  EXPECT_EQ(ReadSecret("", "CWB_AUTH_TEST_TOKEN").value(), "from-env");
  EXPECT_FALSE(ReadSecret((dir_ / "missing").string(), "CWB_AUTH_TEST_TOKEN").ok());
}

}  // namespace
}  // namespace cwb
