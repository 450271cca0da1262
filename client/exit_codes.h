// The cwb CLI's exit statuses.
#pragma once

namespace cwb {

inline constexpr int kExitSuccess = 0;      // everything asked for succeeded
inline constexpr int kExitSomeFailed = 1;   // some task or build failed
inline constexpr int kExitUsageError = 2;   // bad arguments or a bad config

}  // namespace cwb
