// Benchmark 6, log latency: a build in a real container (the real cwb-agent with podman, the real
// coordinator) prints a line with its wall-clock time every 50 ms; `cwb logs -f`'s own code,
// running here, notes when each line reaches it. Baseline, in the same run: when the agent read
// each line from the container (the time the agent stamps on it), so the figure shows what the
// trip agent -> coordinator -> client adds to what the engine's pipe already takes.
#include <ctime>
#include <mutex>
#include <sstream>
#include <streambuf>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "bench/benchmarks.h"
#include "bench/coordinator_process.h"
#include "client/remote_commands.h"

namespace cwb::bench {
namespace {

namespace fs = std::filesystem;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// An output stream buffer that notes the wall-clock time each complete line arrives.
class ArrivalStamper final : public std::streambuf {
 public:
  struct Line {
    int64_t arrived_ns;
    std::string text;
  };
  std::vector<Line> lines() {
    std::lock_guard lock(mutex_);
    return lines_;
  }

 protected:
  int overflow(int c) override {
    if (c != EOF) Append(std::string(1, static_cast<char>(c)));
    return c;
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    Append(std::string(s, static_cast<size_t>(n)));
    return n;
  }

 private:
  void Append(const std::string& data) {
    const int64_t now = NowNs();
    std::lock_guard lock(mutex_);
    for (char c : data) {
      if (c != '\n') {
        partial_ += c;
        continue;
      }
      lines_.push_back({now, std::move(partial_)});
      partial_.clear();
    }
  }
  std::mutex mutex_;
  std::string partial_;
  std::vector<Line> lines_;
};

// "2026-11-25T04:30:00.123Z" -> nanoseconds since the epoch; -1 if it is not one.
int64_t ParseStamp(const std::string& text) {
  std::tm tm{};
  int millis = 0;
  if (std::sscanf(text.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec, &millis) != 7) {
    return -1;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(::timegm(&tm)) * 1'000'000'000 + static_cast<int64_t>(millis) * 1'000'000;
}

}  // namespace

void RunLogLatencyBench(const BenchContext& context, Report& report) {
  const fs::path dir = context.Dir("log-latency");
  const int lines = context.tiny ? 20 : 200;
  CoordinatorProcess coordinator(context.coordinator_binary, dir / "coordinator");
  if (coordinator.address().empty()) {
    report.Check("log latency", "coordinator started", 0, false, coordinator.Output());
    return;
  }
  testing::ChildProcess agent({context.agent_binary, "serve", "--coordinator", coordinator.address(),
                               "--work-dir", (dir / "agent").string(), "--network", "host", "--slots", "1"});
  if (agent.WaitForLine("serving", std::chrono::seconds(60)).empty()) {
    report.Check("log latency", "agent started", 0, false, agent.Output());
    return;
  }
  const std::string repo = dir / "repo";
  CommitPackage(repo, "ticker", "one commit");
  const fs::path config = WriteConfig(
      dir / "ticker.yaml", {{"ticker", repo, {}}}, {"python_version: [3.11]", "cuda_version: [cpu]"}, {"2.4.0"},
      context.base_image,
      absl::StrCat("sleep 1; for i in $(seq ", lines,
                   "); do echo \"cwb-tick $(date +%s%N)\"; sleep 0.05; done; "
                   "python3 -c \"import sys, zipfile; zipfile.ZipFile(sys.argv[1], 'w').close()\" "
                   "\"$CWB_OUT/ticker-1.0-py3-none-any.whl\""));
  context.log() << "log latency: " << lines << " lines from a podman container\n" << std::flush;
  absl::StatusOr<std::string> build = Submit(coordinator.address(), config, /*no_cache=*/true);
  absl::StatusOr<v1::BuildInfo> submitted =
      build.ok() ? GetBuild(coordinator.address(), *build) : absl::StatusOr<v1::BuildInfo>(build.status());
  if (!submitted.ok()) {
    report.Check("log latency", "build submitted", 0, false, std::string(submitted.status().message()));
    return;
  }
  // `cwb logs -f`, as the CLI runs it, into a stream that notes when each line arrives.
  ArrivalStamper stamper;
  std::ostream out(&stamper);
  std::ostringstream err;
  RemoteOptions remote;
  remote.connection.coordinator = coordinator.address();
  const int code = LogsCommand(remote, *build, submitted->tasks(0).spec().id(), /*follow=*/true, /*raw=*/true, /*tail_lines=*/0,
                               out, err);
  std::vector<double> end_to_end, engine;
  for (const ArrivalStamper::Line& line : stamper.lines()) {
    const size_t at = line.text.find("cwb-tick ");
    int64_t printed = 0;
    if (at == std::string::npos || !absl::SimpleAtoi(line.text.substr(at + 9), &printed)) continue;
    end_to_end.push_back(static_cast<double>(line.arrived_ns - printed) / 1e6);
    const int64_t read_by_agent = ParseStamp(line.text.substr(0, line.text.find(' ')));
    if (read_by_agent > 0) engine.push_back(std::max(0.0, static_cast<double>(read_by_agent - printed) / 1e6));
  }
  absl::StatusOr<v1::BuildInfo> done = WaitForBuild(coordinator.address(), *build, std::chrono::seconds(60));
  const bool complete = code == 0 && static_cast<int>(end_to_end.size()) == lines && done.ok() &&
                        done->succeeded() == 1;
  if (!complete) {
    context.log() << "log latency: logs -f exited " << code << " " << err.str() << "with "
                  << end_to_end.size() << " lines; the task: "
                  << (done.ok() ? done->tasks(0).message() : std::string(done.status().message())) << "\n";
  }
  const std::string label = absl::StrCat("log latency, ", lines, " lines, podman");
  report.Check(label, "lines that reached logs -f", static_cast<double>(end_to_end.size()), complete,
               absl::StrCat("all ", lines, ", the task succeeded"));
  report.AtMost(label, "p50 printed -> logs -f, ms", Percentile(end_to_end, 50), 250, "(p99 is the target)",
                "p50 printed -> agent", Percentile(engine, 50));
  report.AtMost(label, "p99 printed -> logs -f, ms", Percentile(end_to_end, 99), 250, "< 250 ms",
                "p99 printed -> agent", Percentile(engine, 99));
  agent.Signal(SIGTERM);
  agent.Wait(std::chrono::seconds(30));
}

}  // namespace cwb::bench
