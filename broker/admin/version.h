// The version sluiced reports (admin GetStatus, $SYS/broker/version, sluice_build_info).
#ifndef SLUICE_BROKER_ADMIN_VERSION_H_
#define SLUICE_BROKER_ADMIN_VERSION_H_

namespace sluice::admin {
inline constexpr char kVersion[] = "0.1.0";
}  // namespace sluice::admin

#endif  // SLUICE_BROKER_ADMIN_VERSION_H_
