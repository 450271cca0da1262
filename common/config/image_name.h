// Image references as docker reads them. A short name ("pytorch/pytorch:2.4.0-cuda12.1-cudnn9-devel",
// "ubuntu:22.04") means Docker Hub to docker, but podman by default asks which registry it means
// and, with no terminal to ask on, fails. cwb writes every base image fully qualified, so both
// engines pull the same image and the rendered Dockerfile says which one.
#pragma once

#include <string>
#include <string_view>

namespace cwb {

// The fully qualified reference: "ubuntu:22.04" -> "docker.io/library/ubuntu:22.04",
// "pytorch/pytorch:2.4.0" -> "docker.io/pytorch/pytorch:2.4.0", "docker.io/ubuntu" ->
// "docker.io/library/ubuntu". A reference whose first component is a registry (it has a '.' or a
// ':', or is "localhost": "ghcr.io/org/img", "localhost/cwb-base:bookworm",
// "registry:5000/img") is returned as it is.
std::string FullImageName(std::string_view reference);

}  // namespace cwb
