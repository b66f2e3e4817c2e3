// RunOnSmallStack: runs fn on a fresh thread whose stack is `stack_bytes` and waits for it.
// Tests use it to prove that a walk does not recurse per input element: on a 256 KiB stack,
// a few thousand frames per level overflow at once instead of hiding in the main thread's
// 8 MiB. Test-only; aborts if the thread cannot be created.
#ifndef SLUICE_BASE_TESTING_SMALL_STACK_H_
#define SLUICE_BASE_TESTING_SMALL_STACK_H_

#include <pthread.h>

#include <cstddef>
#include <functional>

#include "base/check.h"

namespace sluice::testing {

inline void RunOnSmallStack(size_t stack_bytes, std::function<void()> fn) {
  pthread_attr_t attr;
  SLUICE_CHECK(pthread_attr_init(&attr) == 0);
  SLUICE_CHECK(pthread_attr_setstacksize(&attr, stack_bytes) == 0);
  pthread_t thread;
  auto body = [](void* arg) -> void* {
    (*static_cast<std::function<void()>*>(arg))();
    return nullptr;
  };
  SLUICE_CHECK(pthread_create(&thread, &attr, body, &fn) == 0);
  SLUICE_CHECK(pthread_join(thread, nullptr) == 0);
  pthread_attr_destroy(&attr);
}

inline constexpr size_t kSmallStackBytes = 256 * 1024;

}  // namespace sluice::testing

#endif  // SLUICE_BASE_TESTING_SMALL_STACK_H_
