// cwb-coordinator: the gRPC server that schedules build matrices onto agents.
#include <iostream>

#include "absl/strings/str_cat.h"

#include "common/base/command_line.h"
#include "common/web/server_log.h"
#include "coordinator/server.h"

int main(int argc, char** argv) {
  CLI::App app{"cwb-coordinator: schedules CUDA wheel build matrices onto agents"};
  app.set_version_flag("--version", std::string("cwb-coordinator ") + CWB_VERSION);
  cwb::ServerOptions options;
  options.coordinator.data_dir = "/var/lib/cwb";
  int64_t lease_ms = 10000, heartbeat_ms = 2000;
  app.add_option("--listen", options.listen, "host:port to serve on")->capture_default_str();
  app.add_flag("--insecure", options.allow_insecure_remote,
               "Allow plaintext on a non-loopback address");
  app.add_flag("--insecure-agents", options.allow_open_agents,
               "Allow the agent API without a token on a non-loopback address");
  app.add_flag("--insecure-clients", options.allow_open_clients,
               "Allow the client API and the HTTP side without a token on a non-loopback address");
  app.add_flag("--public-metrics", options.routes.public_metrics,
               "Serve /metrics without a token (for Prometheus); every other route still needs the read role");
  app.add_option("--http-listen", options.http_listen,
                 "host:port for the dashboard, the pip index (/simple/) and /metrics (plain HTTP; off if empty)");
  std::string client_token_file, agent_token_file;
  app.add_option("--tls-cert", options.tls.cert_file, "PEM server certificate (enables TLS)");
  app.add_option("--tls-key", options.tls.key_file, "PEM private key of --tls-cert");
  app.add_option("--tls-client-ca", options.tls.client_ca_file,
                 "PEM CA: require client certificates it signed (mutual TLS)");
  app.add_option("--client-token-file", client_token_file,
                 "File holding the token clients must send (else $CWB_CLIENT_TOKEN)");
  app.add_option("--agent-token-file", agent_token_file,
                 "File holding the token agents must send (else $CWB_AGENT_TOKEN)");
  std::vector<std::string> token_flags;
  app.add_option("--token", token_flags,
                 "NAME:ROLE=FILE: one more token, read from FILE, for principal NAME with ROLE (agent, read, "
                 "submit or admin); repeatable. --client-token-file is client:admin, --agent-token-file agent:agent");
  app.add_option("--data-dir", options.coordinator.data_dir, "State, logs and wheels")->capture_default_str();
  app.add_option("--lease-ms", lease_ms, "An agent silent this long loses its tasks")->capture_default_str();
  app.add_option("--heartbeat-ms", heartbeat_ms, "Agents' heartbeat interval")->capture_default_str();
  app.add_option("--retry-limit", options.coordinator.retry_limit, "Attempts per task")->capture_default_str();
  app.add_option("--max-upload-bytes", options.coordinator.max_upload_bytes, "Largest wheel accepted")
      ->capture_default_str();
  app.add_option("--max-log-bytes", options.coordinator.max_log_bytes,
                 "Bytes of log kept per attempt: the first half as it comes, and the last lines (the middle is cut)")->capture_default_str();
  app.add_option("--task-time-limit", options.coordinator.task_time_limit_s,
                 "Seconds a build may run (0: none)")->capture_default_str();
  std::string cache_listen = "auto", cache_redis, cache_redis_password_file;
  cwb::CompileCacheOptions cache;
  app.add_option("--compile-cache-listen", cache_listen,
                 "host:port of the compile cache's shared store (ccache's HTTP protocol; plain HTTP). auto: the host "
                 "of --listen, a free port; off: none (builds use their agent's directory)")
      ->capture_default_str();
  app.add_option("--compile-cache-size", cache.max_bytes,
                 "Bound of the shared store: past it, the least recently used entries go (20GiB, 500MB, ...)")
      ->transform(CLI::AsSizeValue(false))
      ->capture_default_str();
  app.add_option("--compile-cache-host", cache.advertised_host,
                 "Host builds dial for the shared store (default: the coordinator's, as each agent reaches it)");
  app.add_option("--compile-cache-redis", cache_redis,
                 "redis://[USER@]HOST[:PORT]: Redis as the shared store instead; the coordinator makes an ACL user "
                 "per attempt (USER needs ACL SETUSER, DELUSER and USERS)");
  app.add_option("--compile-cache-redis-password-file", cache_redis_password_file,
                 "File holding the password of --compile-cache-redis's USER (else $CWB_COMPILE_CACHE_REDIS_PASSWORD)");
  std::string log_format = "text";
  app.add_option("--log-format", log_format, "text, or json: one JSON object per line for log collectors")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  if (std::optional<int> exit = cwb::ParseCommandLine(app, argc, argv)) return *exit;
  cwb::SetLogFormat(log_format, "cwb-coordinator");
  cwb::ConfigureProcess();
  auto fail = [](const absl::Status& status) {
    cwb::LogEvent(std::cerr, "error", absl::StrCat("cwb-coordinator: ", status.message()));
    return 2;
  };
  for (auto [file, env, principal] : {std::tuple{&client_token_file, "CWB_CLIENT_TOKEN", cwb::Principal{"client", cwb::Role::kAdmin}},
                                      std::tuple{&agent_token_file, "CWB_AGENT_TOKEN", cwb::Principal{"agent", cwb::Role::kAgent}}}) {
    absl::StatusOr<std::string> secret = cwb::ReadSecret(*file, env);
    if (!secret.ok()) return fail(secret.status());
    if (secret->empty()) continue;
    if (absl::Status s = options.tokens.Add(*secret, principal); !s.ok()) return fail(s);
  }
  for (const std::string& flag : token_flags) {
    absl::StatusOr<cwb::TokenFlag> parsed = cwb::ParseTokenFlag(flag);
    if (!parsed.ok()) return fail(parsed.status());
    absl::StatusOr<std::string> secret = cwb::ReadSecret(parsed->file, "");
    if (!secret.ok()) return fail(secret.status());
    if (absl::Status s = options.tokens.Add(*secret, {parsed->name, parsed->role}); !s.ok()) {
      return fail(absl::InvalidArgumentError(absl::StrCat("--token ", flag, ": ", s.message())));
    }
  }
  if (!cache_redis.empty()) {
    absl::StatusOr<cwb::RedisEndpoint> redis = cwb::ParseRedisUrl(cache_redis);
    if (!redis.ok()) return fail(absl::InvalidArgumentError(absl::StrCat("--compile-cache-redis ", redis.status().message())));
    absl::StatusOr<std::string> password = cwb::ReadSecret(cache_redis_password_file, "CWB_COMPILE_CACHE_REDIS_PASSWORD");
    if (!password.ok()) return fail(password.status());
    redis->admin_password = *password;
    cache.redis = *redis;
    options.compile_cache = cache;
  } else if (cache_listen == "auto") {
    cache.listen = absl::StrCat(options.listen.substr(0, options.listen.rfind(':')), ":0");
    if (cwb::IsLoopbackAddress(cache.listen) || options.allow_insecure_remote) {
      options.compile_cache = cache;
    } else {
      cwb::LogEvent(std::cerr, "warning",
                    absl::StrCat("cwb-coordinator: the compile cache has no shared store: --listen ", options.listen,
                                 " is not loopback, and its store is plain HTTP (give --compile-cache-listen with "
                                 "--insecure, or --compile-cache-redis); builds use their agent's directory"));
    }
  } else if (cache_listen != "off") {
    cache.listen = cache_listen;
    options.compile_cache = cache;
  }
  options.coordinator.lease = std::chrono::milliseconds(lease_ms);
  options.coordinator.heartbeat_interval = std::chrono::milliseconds(heartbeat_ms);

  cwb::Cancellation stop;
  cwb::CancelOnSignals(stop);

  auto server = cwb::CoordinatorServer::Start(options, cwb::SystemClock::Get());
  if (!server.ok()) {
    cwb::LogEvent(std::cerr, "error", absl::StrCat("cwb-coordinator: ", server.status().message()));
    return 1;
  }
  // The line scripts and tests wait for: the address actually bound.
  cwb::LogEvent(std::cout, "info", absl::StrCat("cwb-coordinator listening on ", (*server)->address()),
                {{"address", (*server)->address()}, {"version", CWB_VERSION}});
  if (!(*server)->http_address().empty()) {
    cwb::LogEvent(std::cout, "info", absl::StrCat("cwb-coordinator http on ", (*server)->http_address()),
                  {{"http_address", (*server)->http_address()}});
  }
  if (!(*server)->compile_cache_address().empty()) {
    cwb::LogEvent(std::cout, "info", absl::StrCat("cwb-coordinator compile cache on ", (*server)->compile_cache_address()),
                  {{"compile_cache_address", (*server)->compile_cache_address()}});
  }
  stop.Wait();
  cwb::LogEvent(std::cout, "info", absl::StrCat("cwb-coordinator: stopping (", stop.reason(), ")"));
  (*server)->Shutdown();
  return 0;
}
