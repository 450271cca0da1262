// RedisCacheUsers: the coordinator's administrative connection to a Redis that is the compile
// cache's shared store (`--compile-cache-redis`). Each attempt that opens the cache gets an ACL
// user of its own, `cwb-<attempt>`, allowed only what ccache's Redis storage does to entries (GET,
// SET, EXISTS on `ccache:*`: no KEYS, SCAN, DEL, FLUSHALL or CONFIG), with the attempt's password;
// Sweep removes the users of attempts that are no longer current (a user lives as long as its
// attempt, give or take a sweep). ccache 4.x names every entry `ccache:<digest>` with no way to add
// a prefix, so the key pattern cannot split domains: the trust domain's key hashed into every
// digest does (CompileCacheCredentials). Thread-safe (one connection, under a lock).
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

struct redisContext;

namespace cwb {

struct RedisEndpoint {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string admin_user;      // empty: "default"
  std::string admin_password;  // empty: none
};

// Parses redis://[USER[:PASSWORD]@]HOST[:PORT] (no password in the URL: it comes from a file).
absl::StatusOr<RedisEndpoint> ParseRedisUrl(const std::string& url);

class RedisCacheUsers {
 public:
  static constexpr char kUserPrefix[] = "cwb-";

  // Connects and authenticates; fails naming the server when it cannot, or when its ACL refuses
  // the admin user what it needs (ACL SETUSER).
  static absl::StatusOr<std::unique_ptr<RedisCacheUsers>> Connect(RedisEndpoint endpoint);
  ~RedisCacheUsers();

  // Creates (or resets) the attempt's user with `password`. Returns its name.
  absl::StatusOr<std::string> Grant(const std::string& attempt_id, const std::string& password);
  // Removes the users of attempts `current` says are not (Redis closes their connections too).
  // Returns how many it removed.
  absl::StatusOr<int> Sweep(const std::function<bool(const std::string& attempt_id)>& current);

  const RedisEndpoint& endpoint() const { return endpoint_; }

 private:
  explicit RedisCacheUsers(RedisEndpoint endpoint) : endpoint_(std::move(endpoint)) {}
  // Runs a command (argv), reconnecting once if the connection broke; the reply's strings (an
  // array's elements, or the one status/string), or the server's error.
  absl::StatusOr<std::vector<std::string>> Command(const std::vector<std::string>& argv);
  absl::Status ConnectLocked();

  RedisEndpoint endpoint_;
  std::mutex mutex_;
  redisContext* context_ = nullptr;
};

}  // namespace cwb
