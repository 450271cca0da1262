// Whether an address stays on this machine: what decides that plaintext may be served without
// --insecure, and that a config's local repository paths mean the same to a coordinator.
#pragma once

#include <string>

namespace cwb {

// True for "host:port" addresses on 127.0.0.0/8, ::1 ("[::1]:port") and localhost.
bool IsLoopbackAddress(const std::string& host_port);

}  // namespace cwb
