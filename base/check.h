// CHECK macros: a broken invariant is a bug, so it crashes loudly with file, line and message.
// Operating errors (bad input, I/O failure) never use these: they return an absl::Status.
// Thread-safe; usable from any module (no dependency but libc).
#ifndef SLUICE_BASE_CHECK_H_
#define SLUICE_BASE_CHECK_H_

#include <cstdio>
#include <cstdlib>

namespace sluice::internal {
[[noreturn]] inline void CheckFailed(const char* file, int line, const char* expr,
                                     const char* msg) {
  std::fprintf(stderr, "FATAL %s:%d: CHECK failed: %s %s\n", file, line, expr, msg ? msg : "");
  std::fflush(stderr);
  std::abort();
}
}  // namespace sluice::internal

#define SLUICE_CHECK(cond)                                                  \
  do {                                                                      \
    if (__builtin_expect(!(cond), 0))                                       \
      ::sluice::internal::CheckFailed(__FILE__, __LINE__, #cond, nullptr); \
  } while (0)

#define SLUICE_CHECK_MSG(cond, msg)                                     \
  do {                                                                  \
    if (__builtin_expect(!(cond), 0))                                   \
      ::sluice::internal::CheckFailed(__FILE__, __LINE__, #cond, msg); \
  } while (0)

#define SLUICE_CHECK_OK(expr)                                                         \
  do {                                                                                \
    auto _sluice_st = (expr);                                                         \
    if (__builtin_expect(!_sluice_st.ok(), 0))                                        \
      ::sluice::internal::CheckFailed(__FILE__, __LINE__, #expr,                      \
                                      std::string(_sluice_st.ToString()).c_str());    \
  } while (0)

#endif  // SLUICE_BASE_CHECK_H_
