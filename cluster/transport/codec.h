// Conversion between raft::Message and the wire form in proto/raft.proto. The snapshot image is
// not part of a wire Message (it travels in SnapshotChunk.data); everything else round-trips.
// Pure functions; thread-safe.
#ifndef SLUICE_CLUSTER_TRANSPORT_CODEC_H_
#define SLUICE_CLUSTER_TRANSPORT_CODEC_H_

#include "absl/status/statusor.h"
#include "base/ids.h"
#include "cluster/raft/types.h"
#include "cluster/transport/transport.h"
#include "proto/raft.pb.h"

namespace sluice::transport {

// Fills `out` from `m` (without m.snapshot->data).
void ToProto(GroupId group, const raft::Message& m, sluice::raft::v1::Message* out);
// InvalidArgument for an unknown or local-only message type or entry type.
absl::StatusOr<GroupMessage> FromProto(const sluice::raft::v1::Message& in);

}  // namespace sluice::transport

#endif  // SLUICE_CLUSTER_TRANSPORT_CODEC_H_
