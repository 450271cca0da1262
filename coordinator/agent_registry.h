// The agents: who registered with what capabilities, which session each has now, when each was
// last heard from, and what happens when one comes back (reconciliation against the attempts it
// still runs) or falls silent past its lease (its attempts queued again or failed). The attempts
// themselves are the TaskTable's; the registry changes them through it. `epoch` moves whenever
// the set of connected agents or their capabilities change, so the dispatcher knows when its
// per-group answers are stale. Not thread-safe: used under the coordinator's lock.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/base/clock.h"
#include "coordinator/agent_channel.h"
#include "coordinator/change_set.h"
#include "coordinator/task_table.h"

namespace cwb {

struct AgentRecord {
  v1::AgentInfo info;
  std::shared_ptr<AgentChannel> channel;  // null while disconnected
  Clock::SteadyTime last_seen;
  std::string session;  // the secret of its current session; uploads must carry it
};

class AgentRegistry {
 public:
  struct Options {
    std::chrono::milliseconds heartbeat_interval{2000};
    std::chrono::milliseconds lease{10000};  // silence after which an agent is lost
    std::chrono::milliseconds check_every{500};  // how often leases are looked at, at most
    bool clients_open = false;  // told to agents (RegisterAck.clients_open)
  };
  AgentRegistry(Options options, Clock& clock, TaskTable& tasks)
      : options_(options), clock_(clock), tasks_(tasks) {}

  // Agents known from the store, all disconnected and seen now: the lease is the grace each has
  // to come back.
  void Load(std::vector<v1::AgentInfo> agents);
  // An agent whose recovered attempt names it; seen now (it may come back to report it).
  void Expect(const std::string& agent_id);

  // An agent connects on `channel` (replacing an earlier session of it). Of the attempts it
  // reports, those still current and its own go on; the ack tells it to abandon the rest, and
  // attempts bound to it that it no longer runs are queued again.
  absl::StatusOr<v1::RegisterAck> Register(const v1::Register& request, std::shared_ptr<AgentChannel> channel,
                                           ChangeSet& changes);
  // The agent on `channel` is alive (a heartbeat); nothing durable changes.
  void Heartbeat(const std::string& agent_id, const AgentChannel* channel);
  // The agent sent something: it is alive.
  void Seen(const std::string& agent_id);
  // Adds a build's compile cache counters to the agent's (AgentInfo.compile_cache).
  void AddCompileCache(const std::string& agent_id, const v1::CompileCacheStats& stats);
  // The session on `channel` ended; the agent's attempts stay bound until its lease runs out.
  void Disconnected(const std::string& agent_id, const AgentChannel* channel, ChangeSet& changes);
  // Loses every agent silent for longer than the lease (at most once per check_every).
  void ExpireLeases(ChangeSet& changes);

  uint64_t epoch() const { return epoch_; }
  const std::map<std::string, AgentRecord>& agents() const { return agents_; }
  std::shared_ptr<AgentChannel> ChannelOf(const std::string& agent_id) const;
  // Whether `session` is the current session of a connected `agent_id`.
  bool HoldsSession(const std::string& agent_id, const std::string& session) const;
  size_t connected() const;
  // Every agent with its running attempts ("build/task/attempt").
  std::vector<v1::AgentInfo> List();

 private:
  int64_t NowMs();
  void Lose(AgentRecord& agent, const std::string& reason, ChangeSet& changes);

  const Options options_;
  Clock& clock_;
  TaskTable& tasks_;
  std::map<std::string, AgentRecord> agents_;
  uint64_t epoch_ = 1;
  Clock::SteadyTime next_lease_check_{};
};

}  // namespace cwb
