// Transport security and bearer tokens, shared by the coordinator, the agent and the CLI.
// Secrets (tokens, keys) are read from files or the environment and never logged or printed.
#pragma once

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"

namespace cwb {

// The text of a PEM file; NotFound naming `what` (the flag) when it cannot be read.
absl::StatusOr<std::string> ReadPem(const std::string& file, const char* what);

// A secret from `file` when given, else from environment variable `env` (null or "": none);
// surrounding whitespace trimmed. "" when neither is given. Fails when the file cannot be read,
// and when the file or the variable holds nothing: an empty token would switch authentication
// off, so it is never taken for "no token".
absl::StatusOr<std::string> ReadSecret(const std::string& file, const char* env);

// Removes CWB_AGENT_TOKEN, CWB_CLIENT_TOKEN and CWB_TOKEN from this process's environment, once
// read: no child process (a host-runtime build) inherits a long-lived token.
void ForgetTokenVariables();

struct ServerTlsOptions {
  std::string cert_file;       // PEM certificate chain; empty: plaintext
  std::string key_file;        // PEM private key
  std::string client_ca_file;  // PEM CA; when set, clients must present a certificate it signed
};
// Server credentials: MakeAuthorizingCredentials (authorizing_credentials.h).

struct ClientTlsOptions {
  std::string ca_file;    // PEM CA that signed the server's certificate; empty: plaintext
  std::string cert_file;  // client certificate for mutual TLS (optional)
  std::string key_file;
};
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const ClientTlsOptions& tls);

}  // namespace cwb
