// SHA-256 digests through OpenSSL: of bytes in memory, of files, and incrementally; and secrets
// from its random generator.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace cwb {

// Incremental SHA-256. Update any number of times, then Finish once.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(std::string_view bytes);
  // Lower-case hex digest (64 characters). The hasher is spent afterwards.
  std::string FinishHex();

 private:
  void* ctx_;  // EVP_MD_CTX*, kept opaque so OpenSSL headers stay out of users
};

// Lower-case hex SHA-256 of `bytes`.
std::string Sha256Hex(std::string_view bytes);

// Lower-case hex SHA-256 of a file's contents, read in bounded chunks.
absl::StatusOr<std::string> Sha256File(const std::filesystem::path& path);

// Lower-case hex HMAC-SHA256 of `message` under `key`.
std::string HmacSha256Hex(std::string_view key, std::string_view message);

// Whether two secrets are equal, in time that does not depend on where they differ.
bool SecretsEqual(std::string_view a, std::string_view b);

// `bytes` bytes from OpenSSL's cryptographically secure generator, in lower-case hex: a secret
// nobody can guess (a session's, a credential's).
std::string RandomSecretHex(size_t bytes = 16);

}  // namespace cwb
