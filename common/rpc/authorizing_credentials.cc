#include "common/rpc/authorizing_credentials.h"

#include <grpc/grpc_security.h>

#include "absl/strings/str_cat.h"
#include "common/rpc/wire.h"

namespace cwb {
namespace {

constexpr char kPrincipalProperty[] = "cwb_principal";
constexpr char kRoleProperty[] = "cwb_role";

// What the processor holds: the server's tokens and policy. Owned by the core credentials.
struct ProcessorState {
  std::shared_ptr<const TokenRing> tokens;
  MethodPolicy policy;
  RefusalObserver on_refused;
};

std::string_view View(const grpc_slice& slice) {
  return {reinterpret_cast<const char*>(GRPC_SLICE_START_PTR(slice)), GRPC_SLICE_LENGTH(slice)};
}

void Process(void* state, grpc_auth_context* context, const grpc_metadata* metadata, size_t count,
             grpc_process_auth_metadata_done_cb done, void* user_data) {
  const ProcessorState& self = *static_cast<const ProcessorState*>(state);
  std::string_view method, bearer;
  const grpc_metadata* authorization = nullptr;
  for (size_t i = 0; i < count; ++i) {
    const std::string_view key = View(metadata[i].key), value = View(metadata[i].value);
    if (key == ":path") method = value;
    if (key == "authorization") {
      authorization = &metadata[i];
      bearer = BearerToken(value).value_or("");
    }
  }
  absl::StatusOr<Principal> principal = Authorize(*self.tokens, self.policy(method), bearer, method);
  if (!principal.ok()) {
    if (self.on_refused) self.on_refused(method, principal.status());
    const std::string message(principal.status().message());
    done(user_data, nullptr, 0, nullptr, 0, static_cast<grpc_status_code>(principal.status().code()), message.c_str());
    return;
  }
  grpc_auth_context_add_cstring_property(context, kPrincipalProperty, principal->name.c_str());
  grpc_auth_context_add_cstring_property(context, kRoleProperty, std::string(RoleName(principal->role)).c_str());
  grpc_auth_context_set_peer_identity_property_name(context, kPrincipalProperty);
  done(user_data, authorization, authorization != nullptr ? 1 : 0, nullptr, 0, GRPC_STATUS_OK, nullptr);
}

// C++ server credentials over core ones that carry the processor (grpc++'s own insecure
// credentials cannot take one).
class CoreServerCredentials final : public grpc::ServerCredentials {
 public:
  explicit CoreServerCredentials(grpc_server_credentials* credentials) : credentials_(credentials) {}
  ~CoreServerCredentials() override { grpc_server_credentials_release(credentials_); }
  // The processor was set on the core credentials when they were made.
  void SetAuthMetadataProcessor(const std::shared_ptr<grpc::AuthMetadataProcessor>&) override {}

 private:
  int AddPortToServer(const std::string& address, grpc_server* server) override {
    return grpc_server_add_http2_port(server, address.c_str(), credentials_);
  }

  grpc_server_credentials* credentials_;
};

absl::StatusOr<grpc_server_credentials*> MakeCoreCredentials(const ServerTlsOptions& tls) {
  if (tls.cert_file.empty()) return grpc_insecure_server_credentials_create();
  absl::StatusOr<std::string> cert = ReadPem(tls.cert_file, "--tls-cert");
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadPem(tls.key_file, "--tls-key");
  if (!key.ok()) return key.status();
  std::string ca;
  if (!tls.client_ca_file.empty()) {
    absl::StatusOr<std::string> read = ReadPem(tls.client_ca_file, "--tls-client-ca");
    if (!read.ok()) return read.status();
    ca = *read;
  }
  grpc_ssl_pem_key_cert_pair pair{key->c_str(), cert->c_str()};
  grpc_server_credentials* credentials = grpc_ssl_server_credentials_create_ex(
      ca.empty() ? nullptr : ca.c_str(), &pair, 1,
      ca.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY,
      nullptr);
  if (credentials == nullptr) return absl::InvalidArgumentError("--tls-cert/--tls-key: not a usable certificate and key");
  return credentials;
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeAuthorizingCredentials(
    const ServerTlsOptions& tls, std::shared_ptr<const TokenRing> tokens, MethodPolicy policy,
    RefusalObserver on_refused) {
  absl::StatusOr<grpc_server_credentials*> credentials = MakeCoreCredentials(tls);
  if (!credentials.ok()) return credentials.status();
  grpc_auth_metadata_processor processor;
  processor.process = Process;
  processor.destroy = [](void* state) { delete static_cast<ProcessorState*>(state); };
  processor.state = new ProcessorState{std::move(tokens), std::move(policy), std::move(on_refused)};
  grpc_server_credentials_set_auth_metadata_processor(*credentials, processor);
  return std::make_shared<CoreServerCredentials>(*credentials);
}

Principal CallerOf(const grpc::ServerContextBase& context) {
  Principal caller;
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr) return caller;
  for (const grpc::string_ref& value : auth->FindPropertyValues(kPrincipalProperty)) {
    caller.name.assign(value.data(), value.size());
  }
  for (const grpc::string_ref& value : auth->FindPropertyValues(kRoleProperty)) {
    caller.role = ParseRole(std::string_view(value.data(), value.size())).value_or(Role::kPublic);
  }
  return caller;
}

}  // namespace cwb
