// This abseil is built with its own absl::string_view (not std::string_view). Av() converts
// at the boundary, for heterogeneous lookup in absl containers keyed by std::string.
#ifndef SLUICE_BASE_STRINGS_H_
#define SLUICE_BASE_STRINGS_H_

#include <string_view>

#include "absl/strings/string_view.h"

namespace sluice {
inline absl::string_view Av(std::string_view s) { return absl::string_view(s.data(), s.size()); }
inline std::string_view Sv(absl::string_view s) { return std::string_view(s.data(), s.size()); }
}  // namespace sluice

#endif  // SLUICE_BASE_STRINGS_H_
