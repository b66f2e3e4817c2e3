#!/bin/sh
# compare.py --smoke under Bazel (bazel 4's py_test stub needs `python`, which Debian lacks).
# Usage: smoke_test.sh COMPARE_PY SLUICED LOADGEN RELAY
exec python3 "$1" --smoke --sluiced "$2" --loadgen "$3" --relay "$4"
