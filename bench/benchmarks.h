// The benchmarks, one function each; each adds its rows to the report. See docs/PERFORMANCE.md
// for what each measures, its baseline and its target.
#pragma once

#include "bench/bench_util.h"
#include "bench/report.h"

namespace cwb::bench {

void RunArtifactBench(const BenchContext& context, Report& report);
void RunDispatchBench(const BenchContext& context, Report& report);
void RunScaleBench(const BenchContext& context, Report& report);
void RunSchedulingBench(const BenchContext& context, Report& report);
void RunCacheBench(const BenchContext& context, Report& report);
void RunLogLatencyBench(const BenchContext& context, Report& report);
void RunRelabelBench(const BenchContext& context, Report& report);
void RunPlacementBench(const BenchContext& context, Report& report);
void RunCompileCacheBench(const BenchContext& context, Report& report);

}  // namespace cwb::bench
