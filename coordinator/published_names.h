// The wheel file names the coordinator has published, in every build, and the bytes each stands
// for. A published name never changes content, so a hash-pinned `pip install` of it keeps working
// after a rebuild: the same bytes again (the result cache, a reproducible rebuild) are the same
// file, and other bytes of the same version from a later build get a PEP 427 build tag, the lowest
// number whose name is free ("flash_attn-2.6.3-1-cp312-cp312-linux_x86_64.whl"); pip prefers the
// highest build tag among wheels that are otherwise alike. Within one build a name stands for one
// wheel: two variants of a build that make the same name are an error (give them local labels).
// Not thread-safe (the coordinator's lock).
#pragma once

#include <string>
#include <unordered_map>

#include "absl/status/statusor.h"

namespace cwb {

class PublishedNames {
 public:
  // The name a wheel `filename` with `sha256`, built by `build_id`, is published under; it may be
  // `filename` itself. FailedPrecondition when this build published that name with other bytes.
  absl::StatusOr<std::string> NameFor(const std::string& filename, const std::string& sha256,
                                      const std::string& build_id) const;
  // `filename` now stands for `sha256`, published by `build_id` (the first publication stays).
  void Add(const std::string& filename, const std::string& sha256, const std::string& build_id);
  size_t size() const { return names_.size(); }

 private:
  struct Publication {
    std::string sha256;
    std::string build_id;
  };
  std::unordered_map<std::string, Publication> names_;
};

// `filename` (a wheel's: name-version[-build]-python-abi-platform.whl) with build tag `number`,
// replacing the one it has; "" when it is not a wheel's file name.
std::string WithBuildTag(const std::string& filename, int number);

}  // namespace cwb
