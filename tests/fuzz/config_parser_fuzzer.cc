// libFuzzer target for the config parser and planner: any input must either parse (and then plan
// or fail with diagnostics) or fail with at least one diagnostic naming a place; nothing may
// crash, hang or read out of bounds (built with ASan and UBSan).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/config/builtin_template.h"
#include "common/config/config_parser.h"
#include "common/config/planner.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  cwb::Diagnostics diagnostics;
  std::optional<cwb::Config> config = cwb::ParseConfig(text, "fuzz.yaml", diagnostics);
  if (!config) {
    if (diagnostics.empty()) std::abort();  // a refusal must say why
    for (const cwb::Diagnostic& d : diagnostics.errors()) {
      if (d.location.file != "fuzz.yaml" || d.location.line <= 0 || d.location.column <= 0) {
        std::abort();  // every error names file:line:column
      }
    }
    return 0;
  }
  config->dockerfile_template = std::string(cwb::BuiltinDockerfileTemplate());
  config->template_origin = "builtin";
  // Keep pathological matrices (huge products) from turning into a timeout.
  size_t product = 1;
  for (const cwb::MatrixAxis& axis : config->matrix.axes) product *= axis.values.size();
  if (product * config->projects.size() > 4096) return 0;
  std::optional<cwb::BuildPlan> plan = cwb::PlanBuild(*config, diagnostics);
  if (!plan && diagnostics.empty()) std::abort();
  return 0;
}
