#include <torch/extension.h>

torch::Tensor Saxpy(double a, const torch::Tensor& x, const torch::Tensor& y);
int DeviceOfLastLaunch();

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("saxpy", &Saxpy, "out = a * x + y (float32, CUDA)");
  m.def("device_of_last_launch", &DeviceOfLastLaunch, "CUDA device of the last saxpy kernel");
}
