// cwb's TORCH_CUDA_ARCH_LIST for a CUDA cell whose config sets none and whose build holds no GPU
// to take it from: the architectures PyTorch's own release wheels of that CUDA are built for
// (what the toolkit still supports), the newest also as PTX so newer GPUs JIT-compile it.
// docs/CONFIG.md lists them; a config's (or project's) env entry replaces them.
#pragma once

#include <string>
#include <string_view>

namespace cwb {

// "5.0;6.0;7.0;7.5;8.0;8.6;8.9;9.0+PTX" for CUDA "11.8"; "" for "cpu" or a version it cannot read.
std::string DefaultCudaArchList(std::string_view cuda_version);

}  // namespace cwb
