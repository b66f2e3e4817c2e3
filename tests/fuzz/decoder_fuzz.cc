// libFuzzer target for the MQTT codec. For each input: PeekFrame with a size limit; then
// Decode the frame under every protocol version, and whenever decoding succeeds check the
// round trip: Encode's size equals EncodedSize, the encoding is one complete frame, it
// decodes to an equal packet, and re-encoding that packet gives the same bytes. Also checks
// IsValidMqttUtf8 against a slow reference decoder on the raw input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <unistd.h>

#include "base/check.h"
#include "mqtt/codec/codec.h"
#include "mqtt/codec/utf8_reference.h"

namespace {

using namespace sluice::mqtt;

constexpr uint32_t kMaxPacketBytes = 1 << 20;


void CheckRoundTrip(const Packet& packet, Version version) {
  std::string bytes;
  Encode(packet, version, &bytes);
  SLUICE_CHECK(bytes.size() == EncodedSize(packet, version));
  FrameHeader header;
  CodecError error;
  SLUICE_CHECK(PeekFrame(bytes, kMaxRemainingLength + 5, &header, &error) ==
               FrameStatus::kComplete);
  SLUICE_CHECK(header.frame_size() == bytes.size());
  Packet again;
  if (!Decode(bytes, version, &again, &error)) {
    SLUICE_CHECK_MSG(false, error.message.c_str());
  }
  SLUICE_CHECK(again == packet);
  std::string bytes_again;
  Encode(again, version, &bytes_again);
  SLUICE_CHECK(bytes_again == bytes);
}

}  // namespace

// `bazel run` starts the binary in its runfiles tree; go back to where the user ran it so
// relative corpus paths (tests/fuzz/corpus/decoder) and crash artifacts work as expected.
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  if (const char* dir = std::getenv("BUILD_WORKING_DIRECTORY")) {
    SLUICE_CHECK(chdir(dir) == 0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  SLUICE_CHECK(IsValidMqttUtf8(input) == sluice::mqtt::testing::ReferenceValidUtf8(input));

  FrameHeader header;
  CodecError error;
  const FrameStatus status = PeekFrame(input, kMaxPacketBytes, &header, &error);
  if (status == FrameStatus::kError) {
    SLUICE_CHECK(error.reason_code >= 0x80 && !error.message.empty());
    return 0;
  }
  if (status == FrameStatus::kNeedMore) {
    SLUICE_CHECK(header.frame_size() == 0 || header.frame_size() > size ||
                 header.header_size == 0);
    return 0;
  }
  SLUICE_CHECK(header.frame_size() <= size && header.frame_size() <= kMaxPacketBytes);
  const std::string_view frame = input.substr(0, header.frame_size());
  for (Version version : {Version::k31, Version::k311, Version::k5}) {
    Packet packet;
    CodecError decode_error;
    if (Decode(frame, version, &packet, &decode_error)) {
      CheckRoundTrip(packet, version);
    } else {
      SLUICE_CHECK(decode_error.reason_code >= 0x80 && !decode_error.message.empty());
    }
  }
  return 0;
}
