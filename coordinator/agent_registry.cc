#include "coordinator/agent_registry.h"

#include <iostream>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/base/digest.h"
#include "common/rpc/task_state.h"
#include "common/web/server_log.h"
#include "coordinator/request_checks.h"

namespace cwb {

int64_t AgentRegistry::NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_.WallNow().time_since_epoch()).count();
}

void AgentRegistry::Load(std::vector<v1::AgentInfo> agents) {
  const Clock::SteadyTime now = clock_.SteadyNow();
  for (v1::AgentInfo& info : agents) {
    info.set_connected(false);
    info.clear_running_attempts();
    const std::string id = info.agent_id();
    agents_[id] = {std::move(info), nullptr, now};
  }
}

void AgentRegistry::Expect(const std::string& agent_id) {
  AgentRecord& agent = agents_[agent_id];
  agent.info.set_agent_id(agent_id);
  agent.last_seen = clock_.SteadyNow();
}

absl::StatusOr<v1::RegisterAck> AgentRegistry::Register(const v1::Register& request,
                                                        std::shared_ptr<AgentChannel> channel, ChangeSet& changes) {
  if (absl::Status s = CheckRegistration(request); !s.ok()) return s;
  AgentRecord& agent = agents_[request.agent_id()];
  if (agent.channel && agent.channel != channel) agent.channel->Close();  // replaced by this one
  agent.channel = std::move(channel);
  agent.last_seen = clock_.SteadyNow();
  agent.info.set_agent_id(request.agent_id());
  *agent.info.mutable_capabilities() = request.capabilities();
  agent.info.set_connected(true);
  agent.info.set_last_heartbeat_ms(NowMs());
  agent.session = RandomSecretHex();
  ++epoch_;

  // Reconcile: what the agent still runs and is current stays; the rest it must abandon.
  v1::RegisterAck ack;
  ack.set_heartbeat_interval_ms(static_cast<uint32_t>(options_.heartbeat_interval.count()));
  ack.set_lease_ms(static_cast<uint32_t>(options_.lease.count()));
  ack.set_session(agent.session);
  ack.set_clients_open(options_.clients_open);
  std::set<std::string> reported;
  for (const v1::RunningAttempt& running : request.running()) {
    TaskRecord* task = tasks_.FindAttempt(running.attempt_id());
    if (task != nullptr && !IsTerminal(task->info.state()) && task->info.agent_id() == request.agent_id()) {
      reported.insert(running.attempt_id());
    } else {
      ack.add_abandon_attempts(running.attempt_id());
    }
  }
  const std::set<std::string> bound = tasks_.AttemptsOf(request.agent_id());
  for (const std::string& attempt : bound) {
    if (reported.count(attempt)) continue;
    if (TaskRecord* task = tasks_.FindAttempt(attempt); task != nullptr && !IsTerminal(task->info.state())) {
      tasks_.RequeueOrFail(*task, absl::StrCat("agent ", request.agent_id(), " came back without it"), NowMs(),
                           changes);
    }
  }
  changes.batch().agents.push_back(agent.info);
  // The ack goes out before anything the scheduler sends on this channel.
  v1::CoordinatorMessage message;
  *message.mutable_ack() = ack;
  changes.Send(request.agent_id(), std::move(message));
  changes.ScheduleSoon();
  LogEvent(std::cerr, "info",
           absl::StrCat("agent ", request.agent_id(), " connected: ", request.capabilities().slots(), " slot(s), ",
                        request.capabilities().cpu_cores(), " core(s), ", request.capabilities().memory_bytes() >> 20,
                        " MiB", request.capabilities().measures_builds() ? " (builds measured)" : "", ", ",
                        request.capabilities().gpus_size(), " GPU(s), runtime ", request.capabilities().runtime()),
           {{"agent_id", request.agent_id()}, {"hostname", request.capabilities().hostname()}});
  return ack;
}

void AgentRegistry::Heartbeat(const std::string& agent_id, const AgentChannel* channel) {
  auto it = agents_.find(agent_id);
  if (it == agents_.end() || it->second.channel.get() != channel) return;
  it->second.last_seen = clock_.SteadyNow();
  it->second.info.set_last_heartbeat_ms(NowMs());
}

void AgentRegistry::Seen(const std::string& agent_id) {
  auto it = agents_.find(agent_id);
  if (it == agents_.end()) return;
  it->second.last_seen = clock_.SteadyNow();
  it->second.info.set_last_heartbeat_ms(NowMs());
}

void AgentRegistry::Disconnected(const std::string& agent_id, const AgentChannel* channel, ChangeSet& changes) {
  auto it = agents_.find(agent_id);
  if (it == agents_.end() || it->second.channel.get() != channel) return;
  // Its attempts stay bound until the lease runs out: it may reconnect and carry on.
  it->second.channel.reset();
  it->second.info.set_connected(false);
  ++epoch_;
  changes.batch().agents.push_back(it->second.info);
}

void AgentRegistry::ExpireLeases(ChangeSet& changes) {
  const Clock::SteadyTime now = clock_.SteadyNow();
  if (now < next_lease_check_) return;
  next_lease_check_ = now + std::min<std::chrono::milliseconds>(options_.lease / 10, options_.check_every);
  for (auto& [id, agent] : agents_) {
    const bool silent = now - agent.last_seen > options_.lease;
    if (silent && (agent.channel || !tasks_.AttemptsOf(id).empty())) {
      Lose(agent, absl::StrCat("agent ", id, " was silent for more than ", options_.lease.count(), " ms"), changes);
    }
  }
}

void AgentRegistry::Lose(AgentRecord& agent, const std::string& reason, ChangeSet& changes) {
  const std::set<std::string> attempts = tasks_.AttemptsOf(agent.info.agent_id());
  LogEvent(std::cerr, "warning",
           absl::StrCat("agent ", agent.info.agent_id(), " lost (", reason, "); ", attempts.size(),
                        " attempt(s) of it are queued again or failed"),
           {{"agent_id", agent.info.agent_id()}});
  for (const std::string& attempt : attempts) {
    if (TaskRecord* task = tasks_.FindAttempt(attempt); task != nullptr && !IsTerminal(task->info.state())) {
      tasks_.RequeueOrFail(*task, reason, NowMs(), changes);
    }
  }
  if (agent.channel) agent.channel->Close();
  agent.channel.reset();
  agent.info.set_connected(false);
  agent.info.clear_running_attempts();
  ++epoch_;
  changes.batch().agents.push_back(agent.info);
}

bool AgentRegistry::HoldsSession(const std::string& agent_id, const std::string& session) const {
  auto it = agents_.find(agent_id);
  return it != agents_.end() && it->second.channel != nullptr && !session.empty() && it->second.session == session;
}

std::shared_ptr<AgentChannel> AgentRegistry::ChannelOf(const std::string& agent_id) const {
  auto it = agents_.find(agent_id);
  return it == agents_.end() ? nullptr : it->second.channel;
}

size_t AgentRegistry::connected() const {
  size_t connected = 0;
  for (const auto& [id, agent] : agents_) connected += agent.channel != nullptr;
  return connected;
}

void AgentRegistry::AddCompileCache(const std::string& agent_id, const v1::CompileCacheStats& stats) {
  auto it = agents_.find(agent_id);
  if (it == agents_.end()) return;
  v1::CompileCacheStats& sum = *it->second.info.mutable_compile_cache();
  sum.set_hits(sum.hits() + stats.hits());
  sum.set_remote_hits(sum.remote_hits() + stats.remote_hits());
  sum.set_misses(sum.misses() + stats.misses());
  sum.set_uncacheable(sum.uncacheable() + stats.uncacheable());
  sum.set_errors(sum.errors() + stats.errors());
  for (const auto& [reason, count] : stats.uncacheable_reasons()) (*sum.mutable_uncacheable_reasons())[reason] += count;
}

std::vector<v1::AgentInfo> AgentRegistry::List() {
  std::vector<v1::AgentInfo> out;
  for (const auto& [id, agent] : agents_) {
    v1::AgentInfo info = agent.info;
    info.clear_running_attempts();
    for (const std::string& attempt : tasks_.AttemptsOf(id)) {
      if (TaskRecord* task = tasks_.FindAttempt(attempt)) {
        info.add_running_attempts(absl::StrCat(task->info.build_id(), "/", task->info.spec().id(), "/", attempt));
      }
    }
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace cwb
