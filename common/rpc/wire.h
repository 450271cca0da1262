// What both ends of a call agree on, defined once: how a bearer token travels and how large a
// data chunk (of a wheel or a log) may be.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <grpcpp/grpcpp.h>

namespace cwb {

// Data chunks of wheels, both ways: well under gRPC's message limits.
inline constexpr size_t kChunkBytes = 1 << 20;

// The call carries `token` as "authorization: Bearer <token>" (nothing when it is empty).
inline void AddBearerToken(grpc::ClientContext& context, const std::string& token) {
  if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
}

// The token of an "Authorization" header's value, or nullopt when it is not a bearer token.
inline std::optional<std::string_view> BearerToken(std::string_view authorization) {
  constexpr std::string_view kPrefix = "Bearer ";
  if (!authorization.starts_with(kPrefix)) return std::nullopt;
  return authorization.substr(kPrefix.size());
}

}  // namespace cwb
