// An AgentChannel that records what the coordinator sends to one agent, and whether it closed the
// session.
#pragma once

#include <string>
#include <vector>

#include "coordinator/agent_channel.h"

namespace cwb::testing {

class RecordingChannel final : public AgentChannel {
 public:
  void Send(v1::CoordinatorMessage message) override { sent.push_back(std::move(message)); }
  void Close() override { closed = true; }

  std::vector<v1::Assignment> Assignments() const {
    std::vector<v1::Assignment> out;
    for (const auto& m : sent) {
      if (m.has_assignment()) out.push_back(m.assignment());
    }
    return out;
  }
  std::vector<std::string> Cancels() const {
    std::vector<std::string> out;
    for (const auto& m : sent) {
      if (m.has_cancel()) out.push_back(m.cancel().attempt_id());
    }
    return out;
  }

  std::vector<v1::CoordinatorMessage> sent;
  bool closed = false;
};

}  // namespace cwb::testing
