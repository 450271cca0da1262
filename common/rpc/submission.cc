#include "common/rpc/submission.h"

#include <set>

#include "common/rpc/task_proto.h"

namespace cwb {

v1::SubmitBuildRequest MakeSubmission(const BuildPlan& plan, const std::string& config_name, bool no_cache) {
  v1::SubmitBuildRequest request;
  *request.mutable_plan() = ToProto(plan);
  request.mutable_plan()->clear_config_path();  // paths on the client's machine mean nothing there
  request.mutable_plan()->clear_output_dir();
  std::set<std::string> sent;
  for (v1::TaskSpec& spec : *request.mutable_plan()->mutable_tasks()) {
    v1::ImageSpec& image = *spec.mutable_image();
    if (sent.insert(image.content_hash()).second) {
      v1::RenderedDockerfile* dockerfile = request.add_dockerfiles();
      dockerfile->set_content_hash(image.content_hash());
      dockerfile->set_text(std::move(*image.mutable_dockerfile()));
    }
    image.clear_dockerfile();
  }
  request.set_config_name(config_name);
  request.set_no_cache(no_cache);
  return request;
}

}  // namespace cwb
