// CompileCacheCredentials: what the compile cache's users are given, all derived from one secret
// the coordinator keeps (<data>/compile-cache.key, made on its first start, readable by its owner
// only), so nothing per attempt is stored:
//  - an attempt's password, an HMAC of its id: the shared store takes it only while the
//    coordinator says the attempt is current (so it lives as long as the attempt does), and only
//    for the attempt's trust domain;
//  - a trust domain's key, an HMAC of the domain: the build hashes it into every entry it looks up
//    or writes (ccache's extra_files_to_hash), so two domains' entries never share a name, even
//    in one Redis keyspace; a build knows only its own domain's key.
#pragma once

#include <filesystem>
#include <string>

#include "absl/status/statusor.h"

namespace cwb {

class CompileCacheCredentials {
 public:
  // Reads the secret from `file`, or makes it (32 random bytes, mode 0600, written atomically).
  static absl::StatusOr<CompileCacheCredentials> LoadOrCreate(const std::filesystem::path& file);
  // For tests and benchmarks: a given secret.
  explicit CompileCacheCredentials(std::string secret) : secret_(std::move(secret)) {}

  std::string AttemptPassword(const std::string& attempt_id) const;
  bool IsAttemptPassword(const std::string& attempt_id, const std::string& password) const;
  std::string DomainKey(const std::string& trust_domain) const;

 private:
  std::string secret_;
};

}  // namespace cwb
