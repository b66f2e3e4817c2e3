// Status helpers for absl::Status / absl::StatusOr (abseil 20220623 has no status macros).
//   RETURN_IF_ERROR(expr);          returns the status of `expr` if it is not OK.
//   ASSIGN_OR_RETURN(lhs, expr);    evaluates a StatusOr, returns its status on error,
//                                   otherwise moves the value into `lhs` (may be a declaration).
//   ValueOrDie(status_or)           the value, or abort with the status (tests).
#ifndef SLUICE_BASE_STATUS_H_
#define SLUICE_BASE_STATUS_H_

#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define SLUICE_STATUS_CONCAT_INNER(a, b) a##b
#define SLUICE_STATUS_CONCAT(a, b) SLUICE_STATUS_CONCAT_INNER(a, b)

#define RETURN_IF_ERROR(expr)                      \
  do {                                             \
    ::absl::Status _sluice_status = (expr);        \
    if (!_sluice_status.ok()) return _sluice_status; \
  } while (0)

#define ASSIGN_OR_RETURN(lhs, expr) \
  SLUICE_ASSIGN_OR_RETURN_IMPL(SLUICE_STATUS_CONCAT(_sluice_statusor_, __LINE__), lhs, expr)

#define SLUICE_ASSIGN_OR_RETURN_IMPL(var, lhs, expr) \
  auto var = (expr);                                 \
  if (!var.ok()) return std::move(var).status();     \
  lhs = std::move(var).value()

namespace sluice {

// The value, by value (safe in a range-for over a temporary); crashes with the status when
// there is none. For tests and for states where an error is a broken invariant.
template <typename T>
T ValueOrDie(absl::StatusOr<T> s) {
  if (!s.ok()) {
    std::fprintf(stderr, "ValueOrDie: %s\n", s.status().ToString().c_str());
    std::abort();
  }
  return *std::move(s);
}

}  // namespace sluice

#endif  // SLUICE_BASE_STATUS_H_
