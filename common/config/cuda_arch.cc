#include "common/config/cuda_arch.h"

#include "common/config/versions.h"

namespace cwb {

std::string DefaultCudaArchList(std::string_view cuda_version) {
  int major = 0, minor = 0;
  if (!ParseMajorMinor(cuda_version, &major, &minor)) return "";
  const int version = major * 100 + minor;
  if (version < 1100) return "3.5;5.0;6.0;7.0;7.5+PTX";
  if (version < 1101) return "3.5;5.0;6.0;7.0;7.5;8.0+PTX";  // sm_86 came with 11.1
  if (version < 1108) return "3.5;5.0;6.0;7.0;7.5;8.0;8.6+PTX";
  if (version < 1208) return "5.0;6.0;7.0;7.5;8.0;8.6;8.9;9.0+PTX";  // 11.8 added sm_89, sm_90
  if (version < 1300) return "7.0;7.5;8.0;8.6;8.9;9.0;10.0;12.0+PTX";  // 12.8 added Blackwell
  return "7.5;8.0;8.6;8.9;9.0;10.0;11.0;12.0+PTX";  // 13.0 dropped everything before Turing
}

}  // namespace cwb
