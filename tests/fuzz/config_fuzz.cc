// libFuzzer target for the YAML parsers: the broker's config file (BrokerConfig through
// ConfigSchema::LoadYamlString + Validate) and the ACL file (auth::Acl::Parse). Any input must
// give a value or an error status — never a crash, hang or exception escaping. A parsed ACL
// is also compiled for a client and queried.
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstdint>
#include <string>

#include "base/check.h"
#include "base/config.h"
#include "broker/auth/acl.h"
#include "broker/server/broker_config.h"

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  // Relative corpus paths under `bazel run` (see README).
  if (const char* dir = std::getenv("BUILD_WORKING_DIRECTORY")) SLUICE_CHECK(chdir(dir) == 0);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sluice;
  if (size > 64 * 1024) return 0;
  std::string text(reinterpret_cast<const char*>(data), size);
  {
    broker::BrokerConfig config;
    ConfigSchema schema("sluiced", "fuzz");
    config.Register(&schema);
    if (schema.LoadYamlString(text, "fuzz").ok()) (void)schema.Validate();
  }
  auto acl = auth::Acl::Parse(text);
  if (acl.ok()) {
    auto client = acl->ForClient("user", "client", "identity");
    client->CanPublish("a/b/c");
    client->CanSubscribe("a/#");
    client->CanSubscribe("+/b");
  }
  return 0;
}
