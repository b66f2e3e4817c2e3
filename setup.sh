#!/usr/bin/env bash
# Installs every Debian 12 package Sluice needs to build, test and benchmark. Idempotent.
set -euo pipefail
# The offline validator of the Kubernetes manifests (//tests/deploy): before the early exit
# below, which runs whenever every Debian package is already present.
"$(cd "$(dirname "$0")" && pwd)/deploy/k8s/validate/install.sh"
PACKAGES=(
  bazel-bootstrap build-essential g++ clang libclang-rt-14-dev lld
  python3 git ca-certificates procps
  libgrpc++-dev protobuf-compiler protobuf-compiler-grpc libprotobuf-dev
  librocksdb-dev libboost-dev libboost-system-dev
  librdkafka-dev libabsl-dev libgtest-dev libgmock-dev
  prometheus-cpp-dev libssl-dev libyaml-cpp-dev zlib1g-dev
  mosquitto mosquitto-clients kcat
  iproute2 nftables
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
# The mosquitto package starts a system broker on 1883; Sluice's quick start wants that port.
if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now mosquitto 2>/dev/null || true; fi
pkill -x mosquitto 2>/dev/null || true
echo "setup: installed ${missing[*]}"
