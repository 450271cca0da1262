#include "coordinator/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include <iostream>

#include "absl/strings/str_cat.h"
#include "common/rpc/authorizing_credentials.h"
#include "coordinator/access_policy.h"
#include "coordinator/refusal_log.h"

namespace cwb {

absl::StatusOr<std::unique_ptr<CoordinatorServer>> CoordinatorServer::Start(ServerOptions options,
                                                                            Clock& clock) {
  if (options.tls.cert_file.empty() && !IsLoopbackAddress(options.listen) &&
      !options.allow_insecure_remote) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--listen ", options.listen,
        ": plaintext is only served on loopback addresses; give --tls-cert/--tls-key, or pass "
        "--insecure to allow it"));
  }
  if (!options.http_listen.empty() && !IsLoopbackAddress(options.http_listen) && !options.allow_insecure_remote) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--http-listen ", options.http_listen,
        ": the dashboard is plain HTTP and is only served on loopback addresses; put a TLS proxy in "
        "front of it and pass --insecure to allow it"));
  }
  auto tokens = std::make_shared<const TokenRing>(options.tokens);
  const bool remote = !IsLoopbackAddress(options.listen);
  if (remote && !options.tokens.Guards(Role::kAgent) && !options.allow_open_agents) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--listen ", options.listen,
        ": agents would need no token there, so anyone reaching it could register as an agent and upload "
        "wheels that get published; give --agent-token-file (or --token NAME:agent=FILE), or pass "
        "--insecure-agents to allow it"));
  }
  const bool remote_http = !options.http_listen.empty() && !IsLoopbackAddress(options.http_listen);
  if ((remote || remote_http) && !options.tokens.Guards(Role::kRead) && !options.allow_open_clients) {
    return absl::FailedPreconditionError(absl::StrCat(
        remote ? "--listen " + options.listen : "--http-listen " + options.http_listen,
        ": clients would need no token there, so anyone reaching it could submit, cancel and read builds; give "
        "--client-token-file (or --token NAME:ROLE=FILE), or pass --insecure-clients to allow it"));
  }
  // Refused calls go on the log (the server's other events do too), a flood of them rate-limited.
  auto refusals = std::make_shared<RefusalLog>(std::cerr, clock);
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials = MakeAuthorizingCredentials(
      options.tls, tokens, RoleForMethod,
      [refusals](std::string_view method, const absl::Status& why) { refusals->Refused(method, why); });
  if (!credentials.ok()) return credentials.status();
  std::unique_ptr<CoordinatorServer> server(new CoordinatorServer());
  server->options_ = options;
  options.coordinator.clients_open = !options.tokens.Guards(Role::kRead);
  absl::StatusOr<std::unique_ptr<Coordinator>> coordinator =
      Coordinator::Create(options.coordinator, clock);
  if (!coordinator.ok()) return coordinator.status();
  server->coordinator_ = *std::move(coordinator);
  server->build_service_ =
      std::make_unique<BuildServiceImpl>(*server->coordinator_);
  if (options.compile_cache.has_value()) {
    CompileCacheOptions cache = *options.compile_cache;
    if (!cache.listen.empty() && !IsLoopbackAddress(cache.listen) && !options.allow_insecure_remote) {
      return absl::FailedPreconditionError(absl::StrCat(
          "--compile-cache-listen ", cache.listen,
          ": the compile cache's store is plain HTTP and is only served on loopback addresses; pass --insecure to "
          "allow it (its credentials are per attempt, and live as long as the attempt)"));
    }
    Coordinator* coordinator_ptr = server->coordinator_.get();
    absl::StatusOr<std::unique_ptr<CompileCacheService>> compile_cache = CompileCacheService::Start(
        std::move(cache), options.coordinator.data_dir,
        [coordinator_ptr](const std::string& attempt) { return coordinator_ptr->TrustDomainOfCurrentAttempt(attempt); },
        server->coordinator_->metrics());
    if (!compile_cache.ok()) return compile_cache.status();
    server->compile_cache_ = *std::move(compile_cache);
  }
  server->agent_service_ =
      std::make_unique<AgentServiceImpl>(*server->coordinator_, server->compile_cache_.get());

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, *credentials, &server->port_);
  builder.RegisterService(server->build_service_.get());
  builder.RegisterService(server->agent_service_.get());
  // A submitted plan of tens of thousands of tasks is one message; CheckSubmission bounds what is
  // in it, and wheel and log chunks are far smaller.
  builder.SetMaxReceiveMessageSize(kMaxRequestBytes);
  // A fixed 8 MiB window per stream instead of bandwidth-delay probing: every heartbeat of a
  // thousand agents would otherwise cost a PING frame back, and uploads still get a window
  // large enough to fill the link.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 8 << 20);
  server->server_ = builder.BuildAndStart();
  if (!server->server_ || server->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.listen));
  }
  if (!options.http_listen.empty()) {
    server->web_ = std::make_unique<WebService>(*server->coordinator_, tokens, options.routes);
    absl::StatusOr<std::unique_ptr<HttpServer>> http = HttpServer::Start(
        options.http_listen, [web = server->web_.get()](const HttpRequest& request) { return web->Handle(request); });
    if (!http.ok()) {
      server->server_->Shutdown();
      return http.status();
    }
    server->http_ = *std::move(http);
  }
  server->coordinator_->StartCommitThread();
  server->scheduler_ = std::thread([s = server.get()] { s->coordinator_->RunScheduler(s->stop_); });
  return server;
}

std::string CoordinatorServer::address() const {
  std::string host = options_.listen.substr(0, options_.listen.rfind(':'));
  if (host.empty() || host == "0.0.0.0" || host == "[::]") host = "127.0.0.1";
  return absl::StrCat(host, ":", port_);
}

void CoordinatorServer::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  stop_.Cancel("shutdown");
  coordinator_->logs().Wake();
  http_.reset();
  compile_cache_.reset();
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  if (scheduler_.joinable()) scheduler_.join();
  coordinator_->StopCommitThread();
}

CoordinatorServer::~CoordinatorServer() { Shutdown(); }

}  // namespace cwb
