// A running coordinator: the Coordinator, its gRPC server (client and agent APIs, health,
// reflection), its HTTP server (dashboard, package index, metrics) and its scheduler thread. Used by cwb-coordinator and by `cwb build`.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "common/rpc/access.h"
#include "common/rpc/auth.h"
#include "common/rpc/loopback.h"
#include "common/web/http_server.h"
#include "coordinator/compile_cache_service.h"
#include "coordinator/coordinator.h"
#include "coordinator/services.h"
#include "coordinator/web_service.h"

namespace cwb {

// The largest message either API accepts.
inline constexpr int kMaxRequestBytes = 64 << 20;

struct ServerOptions {
  std::string listen = "127.0.0.1:7600";  // host:port; port 0 picks a free one
  bool allow_insecure_remote = false;     // plaintext on a non-loopback address
  // On a non-loopback address, a side (the agent API; the client API and HTTP) without any token
  // is refused unless allowed here: anyone reaching the address could use it.
  bool allow_open_agents = false;
  bool allow_open_clients = false;
  ServerTlsOptions tls;                   // server certificate (and client CA for mutual TLS)
  // The tokens calls must carry, each with its principal and role (common/rpc/access.h); what
  // each method and route needs is access_policy.h's. A side with no token is open.
  TokenRing tokens;
  std::string http_listen;                // dashboard, package index, metrics (plain HTTP); empty: off
  RouteOptions routes;                    // what the HTTP side opens beyond the access policy
  // The compile cache's shared store (compile_cache_service.h); nothing: none, builds use their
  // agent's directory (`cwb build`).
  std::optional<CompileCacheOptions> compile_cache;
  CoordinatorOptions coordinator;
};

class CoordinatorServer {
 public:
  static absl::StatusOr<std::unique_ptr<CoordinatorServer>> Start(ServerOptions options,
                                                                  Clock& clock);
  ~CoordinatorServer();

  int port() const { return port_; }
  std::string address() const;  // "127.0.0.1:<port>"
  std::string http_address() const { return http_ ? http_->address() : ""; }  // "" when off
  // The compile cache's HTTP store, "host:port"; "" when there is none (Redis, or off).
  std::string compile_cache_address() const { return compile_cache_ ? compile_cache_->http_address() : ""; }
  Coordinator& coordinator() { return *coordinator_; }
  void Shutdown();
  void Wait() { server_->Wait(); }

 private:
  CoordinatorServer() = default;

  ServerOptions options_;
  std::unique_ptr<Coordinator> coordinator_;
  std::unique_ptr<CompileCacheService> compile_cache_;
  std::unique_ptr<BuildServiceImpl> build_service_;
  std::unique_ptr<AgentServiceImpl> agent_service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<WebService> web_;
  std::unique_ptr<HttpServer> http_;
  Cancellation stop_;
  std::thread scheduler_;
  int port_ = 0;
  bool shut_down_ = false;
};

}  // namespace cwb
