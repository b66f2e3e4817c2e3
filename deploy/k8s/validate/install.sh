#!/usr/bin/env bash
# Installs what //tests/deploy:k8s_manifests_test needs to check the Kubernetes manifests
# offline. Idempotent: a second run with nothing changed does nothing (and needs no network).
#
#   - node and npm (Debian's nodejs and npm, if missing)
#   - kubectl, if none is on PATH (Debian's kubernetes-client, kubectl 1.20)
#   - the schema validator: the npm packages of package.json / package-lock.json beside this
#     script (kubernetes-models, yaml) installed with `npm ci` into $PREFIX/node_modules
#   - a second kubectl, 1.20 from Debian's kubernetes-client, unpacked (not installed) into
#     $PREFIX/kubectl-1.20, so the test also renders the overlays with its kustomize v2.0.3.
#     Best effort: without it the test reports those cases as skipped.
#
# PREFIX is $SLUICE_K8S_TOOLS or /opt/sluice-k8s-validate (outside the repository: nothing
# to git-ignore, and visible from inside Bazel's sandbox).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
prefix=${SLUICE_K8S_TOOLS:-/opt/sluice-k8s-validate}
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
apt_updated=0
apt_install() {
  if [ $apt_updated -eq 0 ]; then $SUDO apt-get update -q; apt_updated=1; fi
  $SUDO apt-get install -y -q --no-install-recommends "$@"
}

missing=()
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v kubectl >/dev/null 2>&1 || missing+=(kubernetes-client)
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"

# The validator: reinstalled only when the lock file changed.
if [ -d "$prefix/node_modules/kubernetes-models" ] && cmp -s "$here/package-lock.json" "$prefix/package-lock.json"; then
  echo "k8s-validate: validator present in $prefix"
else
  $SUDO mkdir -p "$prefix"
  staging=$($SUDO mktemp -d "$prefix/.staging.XXXXXX")
  $SUDO cp "$here/package.json" "$here/package-lock.json" "$staging/"
  (cd "$staging" && $SUDO npm ci --no-audit --no-fund --omit=dev --loglevel=error)
  $SUDO rm -rf "$prefix/node_modules"
  $SUDO mv "$staging/node_modules" "$prefix/node_modules"
  $SUDO cp "$staging/package.json" "$staging/package-lock.json" "$prefix/"
  $SUDO rm -rf "$staging"
  echo "k8s-validate: installed the validator into $prefix"
fi

# kubectl 1.20 (kustomize v2.0.3) beside whatever kubectl is on PATH.
old="$prefix/kubectl-1.20/usr/bin/kubectl"
if [ -x "$old" ]; then
  echo "k8s-validate: kubectl 1.20 present in $prefix/kubectl-1.20"
else
  tmp=$(mktemp -d)
  chmod 755 "$tmp"   # apt-get download runs as _apt when it can
  if ! (cd "$tmp" && apt-get download kubernetes-client >/dev/null 2>&1); then
    [ $apt_updated -eq 1 ] || { $SUDO apt-get update -q; apt_updated=1; }
    (cd "$tmp" && apt-get download kubernetes-client >/dev/null 2>&1) || true
  fi
  deb=$(find "$tmp" -maxdepth 1 -name "kubernetes-client_*.deb" | head -1)
  if [ -n "$deb" ]; then
    $SUDO rm -rf "$prefix/kubectl-1.20"
    $SUDO dpkg -x "$deb" "$prefix/kubectl-1.20"
    echo "k8s-validate: unpacked $(basename "$deb") into $prefix/kubectl-1.20"
  else
    echo "k8s-validate: WARNING: could not download Debian's kubernetes-client; the test will skip its kubectl 1.20 cases" >&2
  fi
  rm -rf "$tmp"
fi
