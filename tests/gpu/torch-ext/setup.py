# A small torch CUDA extension: one kernel (saxpy) and its binding, built by
# torch.utils.cpp_extension for the GPUs in TORCH_CUDA_ARCH_LIST (set by cwb-agent).
from setuptools import setup
from torch.utils.cpp_extension import BuildExtension, CUDAExtension

setup(
    name="cwb_saxpy",
    version="0.1.0",
    packages=["cwb_saxpy"],
    ext_modules=[CUDAExtension("cwb_saxpy._C", ["csrc/saxpy.cu", "csrc/binding.cpp"])],
    cmdclass={"build_ext": BuildExtension},
)
