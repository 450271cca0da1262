// Propagation helpers for absl::Status / absl::StatusOr (the packaged Abseil predates its own).
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define CWB_STATUS_CONCAT_INNER(a, b) a##b
#define CWB_STATUS_CONCAT(a, b) CWB_STATUS_CONCAT_INNER(a, b)

// Returns the status of `expr` from the enclosing function when it is not OK.
#define RETURN_IF_ERROR(expr)                        \
  do {                                               \
    ::absl::Status cwb_status_ = (expr);             \
    if (!cwb_status_.ok()) return cwb_status_;       \
  } while (false)

// `ASSIGN_OR_RETURN(auto x, Fn());` assigns the value of a StatusOr or returns its status.
#define ASSIGN_OR_RETURN(lhs, expr) \
  CWB_ASSIGN_OR_RETURN_IMPL(CWB_STATUS_CONCAT(cwb_statusor_, __LINE__), lhs, expr)
#define CWB_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(tmp).value()
