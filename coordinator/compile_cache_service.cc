#include "coordinator/compile_cache_service.h"

#include <iostream>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace cwb {
namespace {

constexpr char kPathPrefix[] = "/cache/";

HttpResponse Unauthorized(std::string why) {
  HttpResponse response = HttpResponse::Text(401, why + "\n");
  response.headers.emplace_back("WWW-Authenticate", "Basic realm=\"cwb compile cache\"");
  return response;
}

// The key of a /cache/<key> path, or "" for any other path.
std::string KeyOf(const std::string& path) {
  if (!absl::StartsWith(path, kPathPrefix)) return "";
  std::string key = path.substr(sizeof(kPathPrefix) - 1);
  return CompileCacheStore::ValidKey(key) ? key : "";
}

}  // namespace

absl::StatusOr<std::unique_ptr<CompileCacheService>> CompileCacheService::Start(CompileCacheOptions options,
                                                                                const std::filesystem::path& data_dir,
                                                                                DomainOfAttempt domain_of,
                                                                                MetricsRegistry& metrics) {
  absl::StatusOr<CompileCacheCredentials> credentials =
      CompileCacheCredentials::LoadOrCreate(data_dir / "compile-cache.key");
  if (!credentials.ok()) return credentials.status();
  std::unique_ptr<CompileCacheService> service(
      new CompileCacheService(std::move(options), *std::move(credentials), std::move(domain_of)));
  CompileCacheService* self = service.get();
  if (self->options_.redis.has_value()) {
    absl::StatusOr<std::unique_ptr<RedisCacheUsers>> redis = RedisCacheUsers::Connect(*self->options_.redis);
    if (!redis.ok()) return redis.status();
    self->redis_ = *std::move(redis);
    self->sweeper_ = std::thread([self] { self->SweepUntilStopped(); });
    return service;
  }
  if (self->options_.listen.empty()) return service;
  absl::StatusOr<std::unique_ptr<CompileCacheStore>> store =
      CompileCacheStore::Open(data_dir / "compile-cache", self->options_.max_bytes);
  if (!store.ok()) return store.status();
  self->store_ = *std::move(store);
  HttpUploads uploads{self->store_->spool_dir(), self->options_.max_entry_bytes,
                      [self](const HttpRequest& request) { return self->Admit(request); }};
  absl::StatusOr<std::unique_ptr<HttpServer>> http = HttpServer::Start(
      self->options_.listen, [self](const HttpRequest& request) { return self->Handle(request); }, 4,
      std::move(uploads));
  if (!http.ok()) return http.status();
  self->http_ = *std::move(http);
  CompileCacheStore* store_ptr = self->store_.get();
  auto gauge = [&metrics, store_ptr](const std::string& name, const std::string& help,
                                     uint64_t CompileCacheStoreStats::*field) {
    metrics.Gauge(name, help, [store_ptr, field] {
      return std::vector<std::pair<MetricLabels, double>>{{{}, static_cast<double>(store_ptr->stats().*field)}};
    });
  };
  gauge("cwb_compile_cache_store_bytes", "Bytes of compile cache entries the coordinator keeps", &CompileCacheStoreStats::bytes);
  metrics.Gauge("cwb_compile_cache_store_max_bytes", "The compile cache store's bound", [store_ptr] {
    return std::vector<std::pair<MetricLabels, double>>{{{}, static_cast<double>(store_ptr->max_bytes())}};
  });
  gauge("cwb_compile_cache_store_entries", "Compile cache entries the coordinator keeps", &CompileCacheStoreStats::entries);
  gauge("cwb_compile_cache_store_evictions", "Entries evicted (least recently used first) since the start",
        &CompileCacheStoreStats::evictions);
  return service;
}

CompileCacheService::~CompileCacheService() {
  {
    std::lock_guard lock(sweep_mutex_);
    stopping_ = true;
  }
  sweep_cv_.notify_all();
  if (sweeper_.joinable()) sweeper_.join();
  http_.reset();  // no request runs past here
}

absl::StatusOr<v1::CompileCacheAccess> CompileCacheService::Open(const std::string& attempt_id,
                                                                 const std::string& trust_domain) {
  v1::CompileCacheAccess access;
  access.set_domain_key(credentials_.DomainKey(trust_domain));
  const std::string password = credentials_.AttemptPassword(attempt_id);
  if (redis_) {
    absl::StatusOr<std::string> user = redis_->Grant(attempt_id, password);
    if (!user.ok()) return user.status();
    access.set_backend("redis");
    access.set_host(redis_->endpoint().host);
    access.set_port(static_cast<uint32_t>(redis_->endpoint().port));
    access.set_user(*user);
    access.set_password(password);
  } else if (http_) {
    access.set_backend("http");
    access.set_host(options_.advertised_host);
    access.set_port(static_cast<uint32_t>(http_->port()));
    access.set_user(attempt_id);
    access.set_password(password);
  }
  return access;
}

absl::StatusOr<std::string> CompileCacheService::Authenticate(const HttpRequest& request) const {
  std::string decoded;
  if (!absl::StartsWith(request.authorization, "Basic ") ||
      !absl::Base64Unescape(request.authorization.substr(6), &decoded)) {
    return absl::UnauthenticatedError("the compile cache takes an attempt's credential (Basic auth)");
  }
  const size_t colon = decoded.find(':');
  const std::string attempt = decoded.substr(0, colon);
  if (colon == std::string::npos || !credentials_.IsAttemptPassword(attempt, decoded.substr(colon + 1))) {
    return absl::UnauthenticatedError("not an attempt's credential");
  }
  std::optional<std::string> domain = domain_of_(attempt);
  if (!domain.has_value()) return absl::UnauthenticatedError(absl::StrCat("attempt ", attempt, " is not current"));
  return *domain;
}

std::optional<HttpResponse> CompileCacheService::Admit(const HttpRequest& request) const {
  absl::StatusOr<std::string> domain = Authenticate(request);
  if (!domain.ok()) return Unauthorized(std::string(domain.status().message()));
  if (KeyOf(request.path).empty()) return HttpResponse::Text(404, "not a compile cache entry\n");
  return std::nullopt;
}

HttpResponse CompileCacheService::Handle(const HttpRequest& request) {
  absl::StatusOr<std::string> domain = Authenticate(request);
  if (!domain.ok()) return Unauthorized(std::string(domain.status().message()));
  const std::string key = KeyOf(request.path);
  if (key.empty()) return HttpResponse::Text(404, "not a compile cache entry\n");
  if (request.method == "PUT") {
    absl::Status stored = store_->Put(*domain, key, request.body_file);
    if (absl::IsResourceExhausted(stored)) return HttpResponse::Text(413, absl::StrCat(stored.message(), "\n"));
    if (!stored.ok()) return HttpResponse::Text(503, absl::StrCat(stored.message(), "\n"));
    return HttpResponse::Text(201, "");
  }
  std::optional<std::filesystem::path> file = store_->Get(*domain, key);
  if (!file.has_value()) return HttpResponse::Text(404, "");
  HttpResponse response;
  response.content_type = "application/octet-stream";
  response.file = *file;
  return response;
}

void CompileCacheService::SweepUntilStopped() {
  std::unique_lock lock(sweep_mutex_);
  while (!stopping_) {
    lock.unlock();
    absl::StatusOr<int> swept =
        redis_->Sweep([this](const std::string& attempt) { return domain_of_(attempt).has_value(); });
    if (!swept.ok()) std::cerr << "cwb-coordinator: compile cache: " << swept.status().message() << "\n";
    lock.lock();
    sweep_cv_.wait_for(lock, options_.sweep_every, [this] { return stopping_; });
  }
}

}  // namespace cwb
