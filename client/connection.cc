#include "client/connection.h"
#include "common/rpc/wire.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/config/did_you_mean.h"

namespace cwb {
namespace {

constexpr std::array<std::string_view, 6> kClientConfigKeys = {"coordinator", "token_file", "token",
                                                              "tls_ca",      "tls_cert",   "tls_key"};
constexpr uintmax_t kMaxClientConfigBytes = 64 << 10;

}  // namespace

absl::Status ApplyClientConfigFile(const std::filesystem::path& file, ConnectionSettings& flags) {
  const std::string name = file.string();
  std::error_code error;
  if (const uintmax_t size = std::filesystem::file_size(file, error); !error && size > kMaxClientConfigBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": the client config is ", size, " bytes, more than ", kMaxClientConfigBytes));
  }
  YAML::Node config;
  try {
    config = YAML::LoadFile(name);
  } catch (const YAML::ParserException& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ":", e.mark.line + 1, ":", e.mark.column + 1, ": the client config is not valid YAML: ", e.msg));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": cannot read the client config: ", e.what()));
  }
  if (config.IsNull()) return absl::OkStatus();  // empty
  auto at = [&](const YAML::Node& node) {
    return absl::StrCat(name, ":", node.Mark().line + 1, ":", node.Mark().column + 1, ": ");
  };
  if (!config.IsMap()) return absl::InvalidArgumentError(absl::StrCat(at(config), "the client config must be a mapping"));
  std::map<std::string, std::string> values;
  for (const auto& entry : config) {
    const std::string key = entry.first.IsScalar() ? entry.first.Scalar() : "";
    if (std::find(kClientConfigKeys.begin(), kClientConfigKeys.end(), key) == kClientConfigKeys.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat(at(entry.first), "unknown key '", key, "'", DidYouMeanSuffix(key, kClientConfigKeys),
                       " (known: ",
                       absl::StrJoin(kClientConfigKeys, ", ", [](std::string* out, std::string_view k) { out->append(k); }),
                       ")"));
    }
    if (!entry.second.IsScalar() || entry.second.Scalar().empty()) {
      // A missing value has no place of its own: its key's.
      const YAML::Node& place = entry.second.IsNull() ? entry.first : entry.second;
      return absl::InvalidArgumentError(absl::StrCat(at(place), key, ": expected a non-empty value"));
    }
    values[key] = entry.second.Scalar();
  }
  auto take = [&](const char* key, std::string& into) {
    if (into.empty() && values.count(key)) into = values[key];
  };
  take("coordinator", flags.coordinator);
  if (flags.token.empty() && values.count("token_file")) {
    absl::StatusOr<std::string> token = ReadSecret(values["token_file"], "");
    if (!token.ok()) return absl::InvalidArgumentError(absl::StrCat(name, ": token_file: ", token.status().message()));
    flags.token = *token;
  }
  take("token", flags.token);
  take("tls_ca", flags.tls.ca_file);
  take("tls_cert", flags.tls.cert_file);
  take("tls_key", flags.tls.key_file);
  return absl::OkStatus();
}

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
      if (absl::Status s = ApplyClientConfigFile(file, flags); !s.ok()) return s;
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
