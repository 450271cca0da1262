// cwb-bench: runs the benchmarks of docs/PERFORMANCE.md against the real binaries, prints one
// table (each figure beside its same-run baseline and its target) and writes the rows as JSON.
// Exit status: 0 when every target is met (at --size tiny only behaviour checks count: a tiny run
// proves the benchmarks work, not how fast anything is), 1 otherwise, 2 on bad usage.
#include <fstream>
#include <iostream>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "bench/benchmarks.h"
#include "common/base/command_line.h"

namespace {

struct Benchmark {
  const char* name;
  void (*run)(const cwb::bench::BenchContext&, cwb::bench::Report&);
};

constexpr Benchmark kBenchmarks[] = {
    {"artifact", cwb::bench::RunArtifactBench},   {"dispatch", cwb::bench::RunDispatchBench},
    {"scale", cwb::bench::RunScaleBench},         {"scheduling", cwb::bench::RunSchedulingBench},
    {"cache", cwb::bench::RunCacheBench},         {"log-latency", cwb::bench::RunLogLatencyBench},
    {"relabel", cwb::bench::RunRelabelBench},     {"placement", cwb::bench::RunPlacementBench},
    {"compile-cache", cwb::bench::RunCompileCacheBench},
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"cwb-bench: measure cwb against same-run baselines (docs/PERFORMANCE.md)"};
  std::string size = "full", only, json_path, work_dir = "/var/tmp/cwb-bench";
  cwb::bench::BenchContext context;
  context.coordinator_binary = CWB_COORDINATOR_BINARY;
  context.agent_binary = CWB_AGENT_BINARY;
  context.cli_binary = CWB_CLI_BINARY;
  context.base_image = "localhost/cwb-base:bookworm";
  std::vector<std::string> names;
  for (const Benchmark& b : kBenchmarks) names.push_back(b.name);
  app.add_option("--size", size, "full (the targets' sizes) or tiny (a smoke run)")
      ->check(CLI::IsMember({"full", "tiny"}))
      ->capture_default_str();
  app.add_option("--only", only, "Comma-separated benchmarks to run: " + absl::StrJoin(names, ", "));
  app.add_option("--json", json_path, "Also write the results as JSON to this file");
  app.add_option("--work-dir", work_dir, "Scratch space (wheels of up to 1 GB, coordinator state)")
      ->capture_default_str();
  app.add_option("--base-image", context.base_image, "Image for the benchmarks that run containers")
      ->capture_default_str();
  app.add_option("--coordinator-binary", context.coordinator_binary, "The cwb-coordinator to measure")
      ->capture_default_str();
  app.add_option("--agent-binary", context.agent_binary, "The cwb-agent to run")->capture_default_str();
  app.add_option("--cli-binary", context.cli_binary, "The cwb client to time")->capture_default_str();
  if (std::optional<int> exit = cwb::ParseCommandLine(app, argc, argv)) return *exit;
  cwb::ConfigureProcess();

  std::vector<std::string> selected;
  if (!only.empty()) selected = absl::StrSplit(only, ',', absl::SkipEmpty());
  for (const std::string& name : selected) {
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      std::cerr << "cwb-bench: --only: no benchmark '" << name << "' (" << absl::StrJoin(names, ", ") << ")\n";
      return 2;
    }
  }
  context.tiny = size == "tiny";
  context.work_dir = work_dir;
  context.progress = &std::cerr;
  std::filesystem::remove_all(context.work_dir);
  std::filesystem::create_directories(context.work_dir);

  cwb::bench::Report report(cwb::bench::DescribeMachine());
  for (const Benchmark& benchmark : kBenchmarks) {
    if (!selected.empty() && std::find(selected.begin(), selected.end(), benchmark.name) == selected.end()) {
      continue;
    }
    std::cerr << "== " << benchmark.name << std::endl;
    benchmark.run(context, report);
  }
  report.PrintTable(std::cout);
  if (!json_path.empty()) std::ofstream(json_path) << report.ToJson(size) << "\n";
  const std::vector<cwb::bench::Row> failures = report.Failures(/*enforce_timed=*/!context.tiny);
  for (const cwb::bench::Row& row : failures) {
    std::cerr << "cwb-bench: not met: " << row.benchmark << ", " << row.measure << " (" << row.target << ")\n";
  }
  std::filesystem::remove_all(context.work_dir);
  return failures.empty() ? 0 : 1;
}
