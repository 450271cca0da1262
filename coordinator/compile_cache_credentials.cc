#include "coordinator/compile_cache_credentials.h"

#include <fstream>
#include <sstream>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/base/atomic_file.h"
#include "common/base/digest.h"

namespace cwb {

absl::StatusOr<CompileCacheCredentials> CompileCacheCredentials::LoadOrCreate(const std::filesystem::path& file) {
  std::error_code error;
  if (!std::filesystem::exists(file, error)) {
    if (absl::Status s = WriteFileAtomically(file, RandomSecretHex(32) + "\n"); !s.ok()) return s;
    std::filesystem::permissions(file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
                                 error);
  }
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  const std::string secret(absl::StripAsciiWhitespace(text.str()));
  if (!in || secret.size() < 32) {
    return absl::FailedPreconditionError(
        absl::StrCat(file.string(), ": not the compile cache's secret (remove it to have a new one made)"));
  }
  return CompileCacheCredentials(secret);
}

std::string CompileCacheCredentials::AttemptPassword(const std::string& attempt_id) const {
  return HmacSha256Hex(secret_, absl::StrCat("attempt\n", attempt_id));
}

bool CompileCacheCredentials::IsAttemptPassword(const std::string& attempt_id, const std::string& password) const {
  return SecretsEqual(AttemptPassword(attempt_id), password);
}

std::string CompileCacheCredentials::DomainKey(const std::string& trust_domain) const {
  return HmacSha256Hex(secret_, absl::StrCat("domain\n", trust_domain));
}

}  // namespace cwb
