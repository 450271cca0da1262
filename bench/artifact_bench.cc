// Benchmark 1, the artifact path: a large wheel from an agent's disk into the coordinator's store
// (the agent's upload code; sha256 verified and fsynced there) and from the store into a client's
// wheelhouse (`cwb fetch`'s download code; verified and fsynced), each against two baselines in
// the same run: a raw loopback TCP copy of the file (read, send, receive) and the disk's own
// write+fsync of it. The coordinator's resident memory is sampled throughout.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "agent/wheel_upload.h"
#include "bench/bench_util.h"
#include "bench/benchmarks.h"
#include "bench/coordinator_process.h"
#include "client/wheel_download.h"
#include "common/base/digest.h"

namespace cwb::bench {
namespace {

namespace fs = std::filesystem;
constexpr size_t kBlock = 1 << 20;

// Baseline: the file read and sent over a loopback TCP connection to a receiver that takes every
// byte (and keeps none).
double TcpCopySeconds(const fs::path& source, uint64_t bytes) {
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  ::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  ::listen(listener, 1);
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
  const auto start = std::chrono::steady_clock::now();
  std::thread sender([&] {
    const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ::connect(s, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    const int in = ::open(source.c_str(), O_RDONLY | O_CLOEXEC);
    std::string block(kBlock, '\0');
    for (ssize_t n; (n = ::read(in, block.data(), block.size())) > 0;) {
      for (ssize_t sent = 0; sent < n;) sent += ::send(s, block.data() + sent, n - sent, MSG_NOSIGNAL);
    }
    ::close(in);
    ::close(s);
  });
  const int peer = ::accept(listener, nullptr, nullptr);
  std::string block(kBlock, '\0');
  uint64_t received = 0;
  for (ssize_t n; received < bytes && (n = ::recv(peer, block.data(), block.size(), 0)) > 0;) received += n;
  const double seconds = Seconds(std::chrono::steady_clock::now() - start);
  sender.join();
  ::close(peer);
  ::close(listener);
  return seconds;
}

// An agent's session reduced to what an upload needs: registered, heartbeating, taking one
// assignment at a time and reporting its end.
class UploadingAgent {
 public:
  explicit UploadingAgent(const std::string& address)
      : channel_(grpc::CreateChannel(address, grpc::InsecureChannelCredentials())),
        stub_(v1::AgentService::NewStub(channel_)) {
    stream_ = stub_->Session(&context_);
    v1::AgentMessage hello;
    hello.mutable_register_()->set_agent_id("artifact-bench");
    hello.mutable_register_()->mutable_capabilities()->set_slots(1);
    stream_->Write(hello);
    v1::CoordinatorMessage ack;
    stream_->Read(&ack);
    session_ = ack.ack().session();
    heartbeats_ = std::thread([this] {
      v1::AgentMessage beat;
      beat.mutable_heartbeat();
      while (!stop_) {
        {
          std::lock_guard lock(write_mutex_);
          stream_->Write(beat);
        }
        for (int i = 0; i < 10 && !stop_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    });
  }
  ~UploadingAgent() {
    stop_ = true;
    heartbeats_.join();
    context_.TryCancel();
    stream_->Finish();
  }
  bool NextAssignment(v1::Assignment* assignment) {
    v1::CoordinatorMessage message;
    while (stream_->Read(&message)) {
      if (message.has_assignment()) {
        *assignment = message.assignment();
        return true;
      }
    }
    return false;
  }
  void Report(const v1::Assignment& assignment, v1::TaskState state, const std::string& wheel) {
    const v1::AgentMessage message =
        StatusMessage(assignment, state, wheel.empty() ? std::vector<std::string>{} : std::vector<std::string>{wheel});
    std::lock_guard lock(write_mutex_);
    stream_->Write(message);
  }
  v1::AgentService::Stub& stub() { return *stub_; }
  const std::string& session() const { return session_; }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::AgentService::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::AgentMessage, v1::CoordinatorMessage>> stream_;
  std::mutex write_mutex_;
  std::atomic<bool> stop_{false};
  std::thread heartbeats_;
  std::string session_;  // the ack's: uploads carry it
};

// Samples a process's resident memory until stopped; the largest sample.
class RssSampler {
 public:
  explicit RssSampler(int pid) : pid_(pid), thread_([this] {
    while (!stop_) {
      peak_ = std::max<uint64_t>(peak_, ProcStatusBytes(pid_, "VmRSS:"));
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }) {}
  uint64_t Stop() {
    stop_ = true;
    thread_.join();
    return peak_;
  }

 private:
  int pid_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> peak_{0};
  std::thread thread_;
};

double Median(std::vector<double> values) { return Percentile(std::move(values), 50); }

}  // namespace

void RunArtifactBench(const BenchContext& context, Report& report) {
  const fs::path dir = context.Dir("artifact");
  CoordinatorProcess coordinator(context.coordinator_binary, dir / "coordinator");
  if (coordinator.address().empty()) {
    report.Check("artifact path", "coordinator started", 0, false, coordinator.Output());
    return;
  }
  const std::string repo = dir / "repo";
  CommitPackage(repo, "bigwheel", "one commit");
  const fs::path config = WriteConfig(dir / "artifact.yaml", {{"bigwheel", repo, {}}},
                                      {"python_version: [3.11]", "cuda_version: [cpu]"}, {"2.4.0"});
  UploadingAgent agent(coordinator.address());
  ConnectionSettings settings;
  settings.coordinator = coordinator.address();
  CoordinatorConnection client(settings);

  const std::vector<uint64_t> sizes =
      context.tiny ? std::vector<uint64_t>{4ull << 20} : std::vector<uint64_t>{200'000'000ull, 1'000'000'000ull};
  const int rounds = context.tiny ? 1 : 3;
  const uint64_t rss_before = coordinator.ResidentBytes();
  for (uint64_t bytes : sizes) {
    uint64_t rss_peak = rss_before;
    const std::string label = bytes >= 1'000'000'000ull ? absl::StrCat(bytes / 1'000'000'000ull, " GB")
                                                        : absl::StrCat(bytes / 1'000'000ull, " MB");
    context.log() << "artifact: " << label << " file\n" << std::flush;
    const fs::path file = dir / "bigwheel.whl";
    BuiltWheel wheel{file, "bigwheel-1.0-py3-none-any.whl", bytes, MakeRandomFile(file, bytes)};
    std::vector<double> disk, tcp, upload, download;
    bool verified = true;
    for (int round = 0; round < rounds; ++round) {
      // Each measurement starts with nothing left for the disk to write back from the one before
      // (the kernel would otherwise throttle its writes to pay for that one's).
      ::sync();
      disk.push_back(DiskWriteSeconds(file, dir / "disk-copy"));
      ::sync();
      tcp.push_back(TcpCopySeconds(file, bytes));

      absl::StatusOr<std::string> build = Submit(coordinator.address(), config, /*no_cache=*/true);
      v1::Assignment assignment;
      if (!build.ok() || !agent.NextAssignment(&assignment)) {
        report.Check("artifact path", "assignment received", 0, false, "a 1-task build is assigned");
        return;
      }
      agent.Report(assignment, v1::TASK_STATE_RUNNING, "");
      ::sync();
      RssSampler sampler(coordinator.pid());
      auto start = std::chrono::steady_clock::now();
      absl::Status uploaded = UploadWheel(agent.stub(), "", agent.session(), assignment, wheel);
      upload.push_back(Seconds(std::chrono::steady_clock::now() - start));
      agent.Report(assignment, v1::TASK_STATE_SUCCEEDED, wheel.filename);
      absl::StatusOr<v1::BuildInfo> done = WaitForBuild(coordinator.address(), *build, std::chrono::seconds(60));
      verified = verified && uploaded.ok() && done.ok() && done->succeeded() == 1;
      if (!verified) {
        sampler.Stop();
        break;
      }
      const v1::TaskInfo& task = done->tasks(0);
      const fs::path destination = dir / "wheelhouse" / task.artifacts(0).wheelhouse_path();
      ::sync();
      start = std::chrono::steady_clock::now();
      absl::Status fetched = DownloadWheel(client, *build, task.spec().id(), task.artifacts(0), destination);
      download.push_back(Seconds(std::chrono::steady_clock::now() - start));
      rss_peak = std::max(rss_peak, sampler.Stop());
      const double mb = static_cast<double>(bytes) / 1e6;
      context.log() << absl::StrFormat("artifact: %s round %d: disk %.0f, tcp %.0f, upload %.0f, download %.0f MB/s\n",
                                       label, round + 1, mb / disk.back(), mb / tcp.back(), mb / upload.back(),
                                       mb / download.back())
                    << std::flush;
      verified = verified && fetched.ok() && Sha256File(destination).value_or("") == wheel.sha256;
      std::error_code ignored;
      fs::remove(destination, ignored);
    }
    fs::remove(file);
    report.Check(absl::StrCat("artifact ", label), "uploaded and fetched, sha256 verified", verified ? 1 : 0,
                 verified, "both ways, every round");
    if (!verified) return;
    const double mb = static_cast<double>(bytes) / 1e6;
    const double disk_rate = mb / Median(disk), tcp_rate = mb / Median(tcp);
    const double slower = std::min(disk_rate, tcp_rate);
    const std::string slower_name = disk_rate <= tcp_rate ? "disk write+fsync" : "loopback TCP copy";
    report.Add({absl::StrCat("baseline: disk write+fsync ", label), "MB/s", disk_rate, "", std::nullopt,
                "(baseline)", true, true});
    report.Add({absl::StrCat("baseline: loopback TCP copy ", label), "MB/s", tcp_rate, "", std::nullopt,
                "(baseline)", true, true});
    report.AtLeast(absl::StrCat("upload agent -> store ", label), "MB/s", mb / Median(upload), 0.8 * slower,
                   ">= 0.8x the slower baseline", slower_name, slower);
    report.AtLeast(absl::StrCat("download store -> wheelhouse ", label), "MB/s", mb / Median(download),
                   0.8 * slower, ">= 0.8x the slower baseline", slower_name, slower);
    // Flat: the growth is a few chunks and windows, whatever the wheel's size.
    const double growth_mb = static_cast<double>(rss_peak - std::min(rss_peak, rss_before)) / 1e6;
    report.AtMost(absl::StrCat("coordinator memory, ", label, " transfers"), "RSS growth MB", growth_mb,
                  std::max(64.0, 0.1 * mb), absl::StrFormat("< %.0f MB (no whole-file buffer)", std::max(64.0, 0.1 * mb)),
                  "RSS before", static_cast<double>(rss_before) / 1e6);
  }
}

}  // namespace cwb::bench
