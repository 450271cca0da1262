// Helpers for config tests: parse text and look at the diagnostics.
#pragma once

#include <string>

#include "common/config/config_parser.h"
#include "gtest/gtest.h"

namespace cwb::testing {

// The errors of parsing `text` as "test.yaml", one per line.
inline std::string ParseErrors(const std::string& text) {
  Diagnostics diagnostics;
  ParseConfig(text, "test.yaml", diagnostics);
  return diagnostics.ToString();
}

// A valid matrix config; tests append or substitute parts.
inline constexpr char kMinimalMatrix[] = R"(build_matrix:
  python_version: [3.10, 3.11]
  cuda_version: [12.1]
  pytorch_version: [2.3.0]
projects:
  - name: demo
    repo_url: https://example.com/demo.git
pytorch_base_images:
  "2.3.0":
    "12.1": img:1
)";

}  // namespace cwb::testing
