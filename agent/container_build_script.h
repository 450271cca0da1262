// The script the build container runs (templates/container-build.sh, embedded at build time).
#pragma once

#include <string_view>

namespace cwb {

std::string_view ContainerBuildScript();

}  // namespace cwb
