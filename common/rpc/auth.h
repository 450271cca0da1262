// Transport security and bearer tokens, shared by the coordinator, the agent and the CLI.
// Secrets (tokens, keys) are read from files or the environment and never logged or printed.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"

namespace cwb {

// A secret from `file` when given, else from environment variable `env`; surrounding whitespace
// trimmed. Empty when neither is set. Fails when the file cannot be read.
absl::StatusOr<std::string> ReadSecret(const std::string& file, const char* env);

struct ServerTlsOptions {
  std::string cert_file;       // PEM certificate chain; empty: plaintext
  std::string key_file;        // PEM private key
  std::string client_ca_file;  // PEM CA; when set, clients must present a certificate it signed
};
// Plaintext credentials when cert_file is empty.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerTlsOptions& tls);

struct ClientTlsOptions {
  std::string ca_file;    // PEM CA that signed the server's certificate; empty: plaintext
  std::string cert_file;  // client certificate for mutual TLS (optional)
  std::string key_file;
};
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const ClientTlsOptions& tls);

// OK when `expected` is empty (no token configured) or the call carries
// "authorization: Bearer <expected>"; UNAUTHENTICATED otherwise. Compares in constant time.
// Compares a secret in constant time (for equal lengths).
bool SecretEquals(std::string_view given, std::string_view expected);

grpc::Status CheckBearerToken(const grpc::ServerContextBase& context, const std::string& expected);

}  // namespace cwb
