// A coordinator's start: its memory rebuilt from the store, and what a crash may have left on
// disk cleared away. Agents come back disconnected, each with the lease as grace to return;
// tasks come back in the state they were stored in, attempts still bound to their agents, queued
// tasks queued again. Rows stored before Dockerfiles were rendered by the client get their image
// rendered from the template they name.
#pragma once

#include <filesystem>

#include "absl/status/status.h"
#include "coordinator/agent_registry.h"
#include "coordinator/state_store.h"
#include "coordinator/target_history.h"
#include "coordinator/task_table.h"

namespace cwb {

// Loads `state` (from StateStore::LoadAll) into empty parts.
void Recover(StoredState state, TaskTable& tasks, AgentRegistry& agents, TargetHistory& history);

// Removes temporary files under <data_dir>/uploads and /builds (never under a final name) and
// the uploads of attempts that are not current: neither is anything's state.
void RemoveDebris(const std::filesystem::path& data_dir, TaskTable& tasks);

}  // namespace cwb
