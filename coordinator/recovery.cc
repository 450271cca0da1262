#include "coordinator/recovery.h"

#include <algorithm>
#include <map>

#include "common/rpc/task_state.h"

namespace cwb {

void Recover(StoredState state, TaskTable& tasks, AgentRegistry& agents, TargetHistory& history) {
  history.Load(std::move(state.target_durations));
  agents.Load(std::move(state.agents));
  std::map<std::string, std::vector<TaskRecord>> by_build;
  for (StoredTask& stored : state.tasks) {
    std::vector<std::string>& templates = state.templates[stored.info.build_id()];
    TaskRecord task;
    task.info = std::move(stored.info);
    task.template_index = stored.template_index;
    if (task.template_index < 0) {
      // A row from before templates were shared: its spec carries the template.
      const std::string& text = task.info.spec().image().dockerfile_template();
      auto it = std::find(templates.begin(), templates.end(), text);
      task.template_index = static_cast<int>(it - templates.begin());
      if (it == templates.end()) templates.push_back(text);
      task.info.mutable_spec()->mutable_image()->clear_dockerfile_template();
    }
    if (!task.info.attempt_id().empty() && !IsTerminal(task.info.state())) agents.Expect(task.info.agent_id());
    by_build[task.info.build_id()].push_back(std::move(task));
  }
  for (v1::BuildInfo& build : state.builds) {
    const std::string id = build.build_id();
    tasks.AddBuild(std::move(build), std::move(state.templates[id]), std::move(by_build[id]));
  }
}

void RemoveDebris(const std::filesystem::path& data_dir, TaskTable& tasks) {
  namespace fs = std::filesystem;
  std::error_code error;
  for (const char* area : {"uploads", "builds"}) {
    std::vector<fs::path> stray;
    for (auto it = fs::recursive_directory_iterator(data_dir / area, error);
         !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
      if (it->path().filename().string().find(".cwb-tmp-") != std::string::npos) stray.push_back(it->path());
    }
    for (const fs::path& path : stray) fs::remove(path, error);
  }
  for (auto it = fs::directory_iterator(data_dir / "uploads", error); !error && it != fs::directory_iterator();
       it.increment(error)) {
    if (tasks.FindAttempt(it->path().filename().string()) == nullptr) fs::remove_all(it->path(), error);
  }
}

}  // namespace cwb
