#include "common/rpc/auth.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace cwb {
absl::StatusOr<std::string> ReadPem(const std::string& file, const char* what) {
  std::ifstream in(file);
  if (!in) return absl::NotFoundError(absl::StrCat(what, ": cannot read ", file));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::StatusOr<std::string> ReadSecret(const std::string& file, const char* env) {
  if (!file.empty()) {
    std::ifstream in(file);
    if (!in) return absl::NotFoundError(absl::StrCat("cannot read secret file ", file));
    std::stringstream text;
    text << in.rdbuf();
    std::string value(absl::StripAsciiWhitespace(text.str()));
    if (value.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("the secret file ", file, " is empty (an empty token would switch authentication off)"));
    }
    return value;
  }
  const char* from_env = env != nullptr && *env != '\0' ? std::getenv(env) : nullptr;
  if (from_env == nullptr) return std::string();
  std::string value(absl::StripAsciiWhitespace(from_env));
  if (value.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("$", env, " is set but empty (an empty token would switch authentication off)"));
  }
  return value;
}

void ForgetTokenVariables() {
  for (const char* name : {"CWB_AGENT_TOKEN", "CWB_CLIENT_TOKEN", "CWB_TOKEN"}) ::unsetenv(name);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const ClientTlsOptions& tls) {
  if (tls.ca_file.empty()) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions options;
  absl::StatusOr<std::string> ca = ReadPem(tls.ca_file, "--tls-ca");
  if (!ca.ok()) return ca.status();
  options.pem_root_certs = *ca;
  if (!tls.cert_file.empty()) {
    absl::StatusOr<std::string> cert = ReadPem(tls.cert_file, "--tls-cert");
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadPem(tls.key_file, "--tls-key");
    if (!key.ok()) return key.status();
    options.pem_cert_chain = *cert;
    options.pem_private_key = *key;
  }
  return grpc::SslCredentials(options);
}

}  // namespace cwb
