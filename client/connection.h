// How the CLI reaches a coordinator: the address and token come from flags, then the
// environment (CWB_COORDINATOR, CWB_TOKEN), then the config file
// ($XDG_CONFIG_HOME/cwb/config.yaml or ~/.config/cwb/config.yaml, keys `coordinator` and `token`),
// then the default 127.0.0.1:7600. Every call gets a deadline.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "common/rpc/auth.h"
#include "cwb/v1/client.grpc.pb.h"

namespace cwb {

struct ConnectionSettings {
  std::string coordinator;
  std::string token_file;  // the token itself is read from here, $CWB_TOKEN or the config file
  std::string token;
  ClientTlsOptions tls;    // --tls-ca etc., else $CWB_TLS_CA, else config keys tls_ca, tls_cert, tls_key
};

// Fills what the flags left empty from the environment and the config file. Fails when a named
// token file cannot be read, or the config file is broken (ApplyClientConfigFile).
absl::StatusOr<ConnectionSettings> ResolveConnection(ConnectionSettings flags);

// Fills what `flags` leaves empty from the client config `file` (keys coordinator, token_file,
// token, tls_ca, tls_cert, tls_key). InvalidArgument naming file:line:column when it is not YAML,
// not a mapping, has an unknown key (with a suggestion) or an empty or non-scalar value, is over
// 64 KiB, or names a token file that cannot be read: a broken config is never silently ignored.
absl::Status ApplyClientConfigFile(const std::filesystem::path& file, ConnectionSettings& flags);

class CoordinatorConnection {
 public:
  // Settings as ResolveConnection returns them; bad TLS files leave the channel failing every call
  // with the reason.
  explicit CoordinatorConnection(const ConnectionSettings& settings);

  v1::BuildService::Stub& stub() { return *stub_; }
  // A context with the token and a deadline.
  std::unique_ptr<grpc::ClientContext> Context(std::chrono::seconds deadline = std::chrono::seconds(30)) const;
  // For streams that last as long as a build.
  std::unique_ptr<grpc::ClientContext> StreamContext() const { return Context(std::chrono::hours(72)); }
  const std::string& address() const { return address_; }

 private:
  std::string address_;
  std::string token_;
  std::unique_ptr<v1::BuildService::Stub> stub_;
};

}  // namespace cwb
