#!/bin/bash
# Time-bounded fuzzing smoke run: copies the seed corpus into a scratch directory and runs
# the fuzz target on it for SECONDS. Under --config=fuzz this is real libFuzzer (with ASan);
# in other builds the replay binary runs the corpus once. Usage: fuzz_smoke.sh BINARY SECONDS FILE...
set -euo pipefail
binary="$1"
seconds="$2"
shift 2
corpus="${TEST_TMPDIR:-$(mktemp -d)}/corpus"
mkdir -p "$corpus"
cp "$@" "$corpus/"
exec "$binary" -max_total_time="$seconds" -seed=1 -rss_limit_mb=2048 -print_final_stats=1 "$corpus"
