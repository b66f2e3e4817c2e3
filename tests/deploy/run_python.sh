#!/bin/sh
# Runs a Python 3 test script under Bazel (bazel 4's py_test stub needs `python`, which Debian
# lacks). Usage: run_python.sh SCRIPT [ARGS...]
exec python3 "$@"
