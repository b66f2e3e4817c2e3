#!/usr/bin/env bash
# Builds and runs Sluice's default test suite, then counts the real test cases.
#
#   ./test.sh              default build of every test, then the broker's unit and conformance
#                          tests again under AddressSanitizer and ThreadSanitizer
#   ./test.sh --quick      the default build only
#   ./test.sh [--quick] -- EXTRA_BAZEL_FLAGS...
#
# Ends with "N passed, N failed, N skipped" over all stages. Long soaks, chaos runs and
# benchmarks are separate targets: see README.md.
set -uo pipefail
cd "$(dirname "$0")"
quick=0
sanitizers=0
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --sanitizers) sanitizers=1 ;;
    --) shift; extra=("$@"); break ;;
    *) extra+=("$1") ;;
  esac
  shift
done

collected=$(mktemp -d)
trap 'rm -rf "$collected"' EXIT
overall=0
build_failures=0

# stage NAME CONFIG_FLAGS... -- TARGETS...
stage() {
  local name=$1; shift
  local flags=() targets=()
  while [ "$1" != "--" ]; do flags+=("$1"); shift; done
  shift
  targets=("$@")
  echo "=== $name: bazel test ${flags[*]} ${extra[*]} ${targets[*]}"
  local logs
  logs=$(bazel info "${flags[@]}" bazel-testlogs 2>/dev/null)
  rm -rf "$logs"
  bazel test "${flags[@]}" "${extra[@]}" -- "${targets[@]}"
  local status=$?
  # Exit 3 means some tests failed (counted below); anything else non-zero is a build error.
  if [ $status -ne 0 ] && [ $status -ne 3 ]; then
    echo "=== $name: bazel exited $status (build failure?): counted as one failed case"
    build_failures=$((build_failures + 1))
    overall=1
  fi
  [ -d "$logs" ] && cp -r "$logs" "$collected/$name"
}

stage default --config=ci -- //...
if [ $quick -eq 0 ]; then
  if [ $sanitizers -eq 1 ]; then
    stage asan --config=ci --config=asan -- //base/... //broker/... //tests/conformance/...
    stage tsan --config=ci --config=tsan -- //broker/... //tests/conformance/... //cluster/multiraft/...
  else
    stage asan --config=ci --config=asan -- //base/... //mqtt/codec/... //mqtt/topic/... \
      //broker/session/... //broker/auth/...
    stage tsan --config=ci --config=tsan -- //cluster/multiraft/...
  fi
  stage fuzz --config=ci --config=fuzz -- //tests/fuzz/...
fi
python3 tools/ci/count_tests.py "$collected" --extra-failed "$build_failures"
counted=$?
[ $counted -ne 0 ] && overall=1
exit $overall
