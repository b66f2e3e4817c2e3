// "HOST:PORT" addresses of the command line and config files. Pure.
#ifndef SLUICE_BASE_HOST_PORT_H_
#define SLUICE_BASE_HOST_PORT_H_

#include <cstdint>
#include <string>

namespace sluice {

// Splits "HOST:PORT" ("[::1]:1883" for IPv6). False when malformed.
bool SplitHostPort(const std::string& text, std::string* host, uint16_t* port);

}  // namespace sluice

#endif  // SLUICE_BASE_HOST_PORT_H_
