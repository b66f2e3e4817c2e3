// Planted bugs: fault points that make production code wrong on purpose, so that the
// simulator's checkers can be shown to catch real mistakes (tests/sim/README.md "The checkers
// can fail"). Compiled in only where SLUICE_PLANTED_BUGS is defined, which only the testonly
// *_planted_bugs targets do (local_defines); in every other build SLUICE_BUG_PLANTED(...) is the
// constant false and the faulty branch is dead code the compiler drops.
//
// The active bug is process-wide (one simulator per process). Thread-compatible: set it before
// starting anything that reads it.
#ifndef SLUICE_BASE_PLANTED_BUG_H_
#define SLUICE_BASE_PLANTED_BUG_H_

namespace sluice {

enum class PlantedBug {
  kNone,
  // PartitionedLog::Append on the partition's leader acknowledges an append as soon as it is
  // proposed, with the offset it expects the record to get (the high watermark plus the
  // appends in flight), instead of after the entry is committed and applied. Right while
  // nothing fails.
  kAckBeforeApply,
  // LogState skips an offset now and then when it applies an append (offsets not dense).
  kSkipOffset,
};

inline PlantedBug& ActivePlantedBug() {
  static PlantedBug bug = PlantedBug::kNone;
  return bug;
}

}  // namespace sluice

#if defined(SLUICE_PLANTED_BUGS)
#define SLUICE_BUG_PLANTED(name) (::sluice::ActivePlantedBug() == ::sluice::PlantedBug::name)
#else
#define SLUICE_BUG_PLANTED(name) false
#endif

#endif  // SLUICE_BASE_PLANTED_BUG_H_
