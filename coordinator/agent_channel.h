// The way from the coordinator to one connected agent's session stream (the gRPC session reactor
// in production, a recorder in unit tests).
#pragma once

#include "cwb/v1/agent.pb.h"

namespace cwb {

class AgentChannel {
 public:
  virtual ~AgentChannel() = default;
  // Queues a message for the agent; never blocks.
  virtual void Send(v1::CoordinatorMessage message) = 0;
  // Ends the session (the agent will reconnect).
  virtual void Close() = 0;
};

}  // namespace cwb
