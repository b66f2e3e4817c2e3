#!/usr/bin/env bash
# Builds and runs Sluice's default test suite, then counts the real test cases.
# Usage: ./test.sh [extra bazel test flags]
# Long soaks, chaos runs and benchmarks are separate targets: see README.md.
set -uo pipefail
cd "$(dirname "$0")"
rm -rf "$(bazel info bazel-testlogs 2>/dev/null)"
bazel test //... "$@"
status=$?
python3 tools/ci/count_tests.py "$(bazel info bazel-testlogs)"
counted=$?
# Bazel's status also covers build failures, which leave no test.xml to count.
if [ $status -ne 0 ] && [ $counted -eq 0 ]; then
  echo "bazel test failed (exit $status) although every reported case passed: see its output above"
  exit $status
fi
exit $counted
