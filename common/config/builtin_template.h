// The Dockerfile template shipped with cwb (templates/Dockerfile.template, embedded at build time
// so the binaries need no install path).
#pragma once

#include <string_view>

namespace cwb {

std::string_view BuiltinDockerfileTemplate();

}  // namespace cwb
