// The trust domain of a build's task: its project's repository together with the principal that
// submitted the build, as the coordinator decides it (never what a build says of itself). Anyone
// can name another project's repository in a config, so the repository alone is not a domain;
// caches a build writes are shared only within its domain.
#pragma once

#include <string>

#include "common/base/digest.h"

namespace cwb {

// 16 hex digits of a digest of both.
inline std::string TrustDomainOf(const std::string& repo_url, const std::string& submitter) {
  return Sha256Hex(repo_url + '\0' + submitter).substr(0, 16);
}

}  // namespace cwb
