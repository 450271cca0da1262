#include "coordinator/redis_cache_users.h"

#include <hiredis/hiredis.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace cwb {

absl::StatusOr<RedisEndpoint> ParseRedisUrl(const std::string& url) {
  constexpr absl::string_view kScheme = "redis://";
  if (!absl::StartsWith(url, kScheme)) {
    return absl::InvalidArgumentError(absl::StrCat("'", url, "': expected redis://[USER@]HOST[:PORT]"));
  }
  std::string rest = url.substr(kScheme.size());
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  RedisEndpoint endpoint;
  if (const size_t at = rest.rfind('@'); at != std::string::npos) {
    endpoint.admin_user = rest.substr(0, at);
    rest = rest.substr(at + 1);
    if (endpoint.admin_user.find(':') != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "'", url, "': the password does not go in the URL (give it in --compile-cache-redis-password-file)"));
    }
  }
  if (const size_t colon = rest.rfind(':'); colon != std::string::npos && rest.find(']') == std::string::npos) {
    if (!absl::SimpleAtoi(rest.substr(colon + 1), &endpoint.port) || endpoint.port <= 0 || endpoint.port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat("'", url, "': bad port"));
    }
    rest = rest.substr(0, colon);
  }
  if (rest.empty() || rest.find('/') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("'", url, "': expected redis://[USER@]HOST[:PORT]"));
  }
  endpoint.host = rest;
  return endpoint;
}

absl::StatusOr<std::unique_ptr<RedisCacheUsers>> RedisCacheUsers::Connect(RedisEndpoint endpoint) {
  std::unique_ptr<RedisCacheUsers> users(new RedisCacheUsers(std::move(endpoint)));
  std::lock_guard lock(users->mutex_);
  if (absl::Status s = users->ConnectLocked(); !s.ok()) return s;
  return users;
}

RedisCacheUsers::~RedisCacheUsers() {
  if (context_ != nullptr) redisFree(context_);
}

absl::Status RedisCacheUsers::ConnectLocked() {
  if (context_ != nullptr) redisFree(context_);
  const std::string where = absl::StrCat("redis ", endpoint_.host, ":", endpoint_.port);
  timeval timeout{5, 0};
  context_ = redisConnectWithTimeout(endpoint_.host.c_str(), endpoint_.port, timeout);
  if (context_ == nullptr || context_->err != 0) {
    const std::string why = context_ == nullptr ? "out of memory" : context_->errstr;
    if (context_ != nullptr) redisFree(context_);
    context_ = nullptr;
    return absl::UnavailableError(absl::StrCat(where, ": ", why));
  }
  redisSetTimeout(context_, timeout);
  if (!endpoint_.admin_password.empty()) {
    const std::string user = endpoint_.admin_user.empty() ? "default" : endpoint_.admin_user;
    auto* reply = static_cast<redisReply*>(
        redisCommand(context_, "AUTH %s %s", user.c_str(), endpoint_.admin_password.c_str()));
    const bool ok = reply != nullptr && reply->type != REDIS_REPLY_ERROR;
    const std::string why = reply == nullptr ? context_->errstr : (reply->str ? reply->str : "");
    if (reply != nullptr) freeReplyObject(reply);
    if (!ok) return absl::PermissionDeniedError(absl::StrCat(where, ": AUTH as ", user, ": ", why));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> RedisCacheUsers::Command(const std::vector<std::string>& argv) {
  std::vector<const char*> args;
  std::vector<size_t> sizes;
  for (const std::string& arg : argv) {
    args.push_back(arg.data());
    sizes.push_back(arg.size());
  }
  for (int tries = 0;; ++tries) {
    if (context_ == nullptr) {
      if (absl::Status s = ConnectLocked(); !s.ok()) return s;
    }
    auto* reply = static_cast<redisReply*>(
        redisCommandArgv(context_, static_cast<int>(args.size()), args.data(), sizes.data()));
    if (reply == nullptr) {  // the connection broke: once more on a new one
      const std::string why = context_->errstr;
      redisFree(context_);
      context_ = nullptr;
      if (tries == 0) continue;
      return absl::UnavailableError(absl::StrCat("redis ", endpoint_.host, ":", endpoint_.port, ": ", why));
    }
    std::vector<std::string> out;
    absl::Status status;
    if (reply->type == REDIS_REPLY_ERROR) {
      status = absl::FailedPreconditionError(absl::StrCat("redis ", endpoint_.host, ":", endpoint_.port, ": ",
                                                          argv[0], " ", argv.size() > 1 ? argv[1] : "", ": ",
                                                          std::string(reply->str, reply->len)));
    } else if (reply->type == REDIS_REPLY_ARRAY) {
      for (size_t i = 0; i < reply->elements; ++i) {
        const redisReply* element = reply->element[i];
        if (element->type == REDIS_REPLY_STRING || element->type == REDIS_REPLY_STATUS) {
          out.emplace_back(element->str, element->len);
        }
      }
    } else if (reply->type == REDIS_REPLY_STRING || reply->type == REDIS_REPLY_STATUS) {
      out.emplace_back(reply->str, reply->len);
    }
    freeReplyObject(reply);
    if (!status.ok()) return status;
    return out;
  }
}

absl::StatusOr<std::string> RedisCacheUsers::Grant(const std::string& attempt_id, const std::string& password) {
  const std::string user = absl::StrCat(kUserPrefix, attempt_id);
  std::lock_guard lock(mutex_);
  absl::StatusOr<std::vector<std::string>> reply =
      Command({"ACL", "SETUSER", user, "reset", "on", absl::StrCat(">", password), "~ccache:*", "resetchannels",
               "-@all", "+get", "+set", "+exists", "+ping"});
  if (!reply.ok()) return reply.status();
  return user;
}

absl::StatusOr<int> RedisCacheUsers::Sweep(const std::function<bool(const std::string& attempt_id)>& current) {
  std::lock_guard lock(mutex_);
  absl::StatusOr<std::vector<std::string>> users = Command({"ACL", "USERS"});
  if (!users.ok()) return users.status();
  int removed = 0;
  for (const std::string& user : *users) {
    if (!absl::StartsWith(user, kUserPrefix) || current(user.substr(sizeof(kUserPrefix) - 1))) continue;
    absl::StatusOr<std::vector<std::string>> reply = Command({"ACL", "DELUSER", user});
    if (!reply.ok()) return reply.status();
    ++removed;
  }
  return removed;
}

}  // namespace cwb
