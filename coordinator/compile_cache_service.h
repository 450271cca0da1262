// CompileCacheService: the compile cache's shared store, as the coordinator provides it. Either
//  - HTTP (the default): ccache's HTTP remote storage protocol (GET, HEAD and PUT of
//    /cache/<key>, its "flat" layout) served from a CompileCacheStore on the coordinator's disk,
//    bounded in size with least-recently-used eviction; or
//  - Redis (`--compile-cache-redis`, for clusters that outgrow one coordinator): builds talk to
//    Redis themselves, as ACL users the service grants per attempt and sweeps away after it.
// Open() answers OpenCompileCache for an attempt the coordinator has checked: the attempt's
// credential and its trust domain's key. The HTTP store takes a request only with the credential
// (Basic auth: the attempt's id and password) of an attempt that is still current, and reads and
// writes that attempt's trust domain only.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "cwb/v1/agent.pb.h"
#include "common/web/http_server.h"
#include "common/web/metrics.h"
#include "coordinator/compile_cache_credentials.h"
#include "coordinator/compile_cache_store.h"
#include "coordinator/redis_cache_users.h"

namespace cwb {

struct CompileCacheOptions {
  std::string listen;                  // the HTTP store's host:port (port 0 picks one); empty: no HTTP store
  uint64_t max_bytes = 20ull << 30;    // the HTTP store's bound
  uint64_t max_entry_bytes = 1ull << 30;  // one entry (a PUT's body) at most
  // The host builds dial for the HTTP store; empty: the coordinator's, as each agent reaches it.
  std::string advertised_host;
  std::optional<RedisEndpoint> redis;  // Redis instead of the HTTP store
  std::chrono::milliseconds sweep_every{10000};  // Redis users of ended attempts go this often
};

class CompileCacheService {
 public:
  // The trust domain of an attempt while it is current; nothing once it has ended.
  using DomainOfAttempt = std::function<std::optional<std::string>(const std::string& attempt_id)>;

  // Opens the store under `data_dir`/compile-cache (and its secret, data_dir/compile-cache.key),
  // starts serving it, or connects to Redis; its gauges go on `metrics`.
  static absl::StatusOr<std::unique_ptr<CompileCacheService>> Start(CompileCacheOptions options,
                                                                    const std::filesystem::path& data_dir,
                                                                    DomainOfAttempt domain_of, MetricsRegistry& metrics);
  ~CompileCacheService();

  // The access of an attempt of `trust_domain` (checked by the caller).
  absl::StatusOr<v1::CompileCacheAccess> Open(const std::string& attempt_id, const std::string& trust_domain);

  std::string http_address() const { return http_ ? http_->address() : ""; }  // "" without an HTTP store
  const CompileCacheCredentials& credentials() const { return credentials_; }

 private:
  CompileCacheService(CompileCacheOptions options, CompileCacheCredentials credentials, DomainOfAttempt domain_of)
      : options_(std::move(options)), credentials_(std::move(credentials)), domain_of_(std::move(domain_of)) {}

  // The trust domain of the request's credential, or the refusal to send.
  absl::StatusOr<std::string> Authenticate(const HttpRequest& request) const;
  std::optional<HttpResponse> Admit(const HttpRequest& request) const;
  HttpResponse Handle(const HttpRequest& request);
  void SweepUntilStopped();

  const CompileCacheOptions options_;
  const CompileCacheCredentials credentials_;
  const DomainOfAttempt domain_of_;
  std::unique_ptr<CompileCacheStore> store_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<RedisCacheUsers> redis_;
  std::mutex sweep_mutex_;
  std::condition_variable sweep_cv_;
  bool stopping_ = false;
  std::thread sweeper_;
};

}  // namespace cwb
