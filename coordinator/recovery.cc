#include "coordinator/recovery.h"

#include <cstdio>
#include <map>
#include <set>

#include "common/config/dockerfile_renderer.h"
#include "common/rpc/task_proto.h"
#include "common/rpc/task_state.h"

namespace cwb {

namespace {

// A row stored before the client rendered Dockerfiles names the template it was made from (in
// its spec, or by index into its build's templates): its image is rendered from it once more.
void RenderStoredTemplate(const StoredTask& stored, const std::vector<std::string>& templates, TaskTable& tasks) {
  v1::TaskSpec spec = stored.info.spec();
  if (stored.template_index >= 0 && static_cast<size_t>(stored.template_index) < templates.size()) {
    spec.mutable_image()->set_dockerfile_template(templates[stored.template_index]);
  }
  if (spec.image().dockerfile_template().empty()) return;
  absl::StatusOr<RenderedImage> image = RenderDockerfile(RecipeFromProto(spec));
  if (!image.ok() || image->content_hash != spec.image().content_hash()) {
    std::fprintf(stderr, "cwb-coordinator: task %s of build %s: its stored template no longer renders to image %s\n",
                 spec.id().c_str(), stored.info.build_id().c_str(), spec.image().content_hash().c_str());
    return;
  }
  tasks.AddImage(image->content_hash, std::move(image->dockerfile));
}

}  // namespace

void Recover(StoredState state, TaskTable& tasks, AgentRegistry& agents, TargetHistory& history) {
  history.Load(std::move(state.targets));
  agents.Load(std::move(state.agents));
  for (auto& [content_hash, dockerfile] : state.images) tasks.AddImage(content_hash, std::move(dockerfile));
  std::map<std::string, std::vector<TaskRecord>> by_build;
  for (StoredTask& stored : state.tasks) {
    if (tasks.FindImage(stored.info.spec().image().content_hash()) == nullptr) {
      RenderStoredTemplate(stored, state.templates[stored.info.build_id()], tasks);
    }
    TaskRecord task;
    task.info = std::move(stored.info);
    task.info.mutable_spec()->mutable_image()->clear_dockerfile_template();
    task.info.mutable_spec()->mutable_image()->clear_template_origin();
    if (!task.info.attempt_id().empty() && !IsTerminal(task.info.state())) agents.Expect(task.info.agent_id());
    by_build[task.info.build_id()].push_back(std::move(task));
  }
  for (v1::BuildInfo& build : state.builds) {
    const std::string id = build.build_id();
    tasks.AddBuild(std::move(build), std::move(by_build[id]));
  }
}

void RemoveDebris(const std::filesystem::path& data_dir, TaskTable& tasks) {
  namespace fs = std::filesystem;
  std::error_code error;
  for (const char* area : {"uploads", "builds", "held"}) {
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
  // Held wheels no task holds any more (discarded before a restart finished removing them).
  error.clear();
  const std::set<std::string> held = tasks.HeldAttempts();
  for (auto it = fs::directory_iterator(data_dir / "held", error); !error && it != fs::directory_iterator();
       it.increment(error)) {
    if (!held.contains(it->path().filename().string())) fs::remove_all(it->path(), error);
  }
}

}  // namespace cwb
