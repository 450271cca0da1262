#include "client/connection.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>

namespace cwb {

ConnectionSettings ResolveConnection(ConnectionSettings flags) {
  auto env = [](const char* name) -> std::string {
    const char* value = std::getenv(name);
    return value == nullptr ? "" : value;
  };
  if (flags.coordinator.empty()) flags.coordinator = env("CWB_COORDINATOR");
  if (flags.token.empty()) flags.token = env("CWB_TOKEN");
  if (flags.coordinator.empty() || flags.token.empty()) {
    std::filesystem::path file;
    if (!env("XDG_CONFIG_HOME").empty()) {
      file = std::filesystem::path(env("XDG_CONFIG_HOME")) / "cwb/config.yaml";
    } else if (!env("HOME").empty()) {
      file = std::filesystem::path(env("HOME")) / ".config/cwb/config.yaml";
    }
    std::error_code error;
    if (!file.empty() && std::filesystem::exists(file, error)) {
      try {
        YAML::Node config = YAML::LoadFile(file.string());
        if (flags.coordinator.empty() && config["coordinator"]) {
          flags.coordinator = config["coordinator"].as<std::string>();
        }
        if (flags.token.empty() && config["token"]) flags.token = config["token"].as<std::string>();
      } catch (const YAML::Exception&) {
        // An unreadable client config is ignored; flags and environment still apply.
      }
    }
  }
  if (flags.coordinator.empty()) flags.coordinator = "127.0.0.1:7600";
  return flags;
}

CoordinatorConnection::CoordinatorConnection(const ConnectionSettings& settings)
    : address_(settings.coordinator), token_(settings.token) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(16 << 20);
  stub_ = v1::BuildService::NewStub(
      grpc::CreateCustomChannel(address_, grpc::InsecureChannelCredentials(), args));
}

std::unique_ptr<grpc::ClientContext> CoordinatorConnection::Context(std::chrono::seconds deadline) const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + deadline);
  if (!token_.empty()) context->AddMetadata("authorization", "Bearer " + token_);
  return context;
}

}  // namespace cwb
