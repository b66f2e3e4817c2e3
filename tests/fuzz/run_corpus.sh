#!/bin/bash
# Regression test for a fuzz target: runs its binary (the corpus-replay build, or libFuzzer
# under --config=fuzz) over every corpus file. Usage: run_corpus.sh BINARY FILE...
set -euo pipefail
if [[ $# -lt 2 ]]; then
  echo "usage: $0 BINARY CORPUS_FILE..." >&2
  exit 2
fi
binary="$1"
shift
exec "${binary}" "$@"
