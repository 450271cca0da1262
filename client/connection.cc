#include "client/connection.h"
#include "common/rpc/wire.h"

#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

namespace cwb {

absl::StatusOr<ConnectionSettings> ResolveConnection(ConnectionSettings flags) {
  auto env = [](const char* name) -> std::string {
    const char* value = std::getenv(name);
    return value == nullptr ? "" : value;
  };
  if (flags.coordinator.empty()) flags.coordinator = env("CWB_COORDINATOR");
  if (flags.tls.ca_file.empty()) flags.tls.ca_file = env("CWB_TLS_CA");
  if (flags.token.empty()) {
    absl::StatusOr<std::string> token = ReadSecret(flags.token_file, "CWB_TOKEN");
    if (!token.ok()) return token.status();
    flags.token = *token;
  }
  {
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
        if (flags.token.empty() && config["token_file"]) {
          absl::StatusOr<std::string> token = ReadSecret(config["token_file"].as<std::string>(), "");
          if (!token.ok()) return token.status();
          flags.token = *token;
        }
        if (flags.token.empty() && config["token"]) flags.token = config["token"].as<std::string>();
        if (flags.tls.ca_file.empty() && config["tls_ca"]) flags.tls.ca_file = config["tls_ca"].as<std::string>();
        if (flags.tls.cert_file.empty() && config["tls_cert"]) flags.tls.cert_file = config["tls_cert"].as<std::string>();
        if (flags.tls.key_file.empty() && config["tls_key"]) flags.tls.key_file = config["tls_key"].as<std::string>();
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
  args.SetMaxReceiveMessageSize(256 << 20);  // a build of 100,000 tasks is about 60 MB
  // A fixed 8 MiB window (as on the coordinator's side) rather than bandwidth-delay probing:
  // wheels download at up to twice the speed on small machines.
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 8 << 20);
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      MakeChannelCredentials(settings.tls);
  if (!credentials.ok()) {
    std::fprintf(stderr, "cwb: %s\n", std::string(credentials.status().message()).c_str());
    credentials = grpc::InsecureChannelCredentials();  // every call then fails to connect
  }
  stub_ = v1::BuildService::NewStub(grpc::CreateCustomChannel(address_, *credentials, args));
}

std::unique_ptr<grpc::ClientContext> CoordinatorConnection::Context(std::chrono::seconds deadline) const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + deadline);
  AddBearerToken(*context, token_);
  return context;
}

}  // namespace cwb
