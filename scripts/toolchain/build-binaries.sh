#!/usr/bin/env bash
# Builds the real control-plane binaries the integration tests run (kube-apiserver, etcd) and
# the helm CLI from the Go module proxy, once per version, into a cache folder outside the
# repository. Later runs find them there and return at once.
#
# Usage: build-binaries.sh [kube-apiserver|etcd|helm|all]   (default: all)
# Prints nothing on success but the resolved paths, one "name=path" per line.
set -euo pipefail

KUBE_VERSION="${IDC_KUBE_VERSION:-1.34.4}"
ETCD_VERSION="${IDC_ETCD_VERSION:-3.6.16}"
HELM_VERSION="${IDC_HELM_VERSION:-3.19.0}"
CACHE="${IDC_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/identity-center-operator}"
BIN="$CACHE/bin"
mkdir -p "$BIN"
export CGO_ENABLED=0 GOFLAGS=-mod=mod

log() { printf '[build-binaries] %s\n' "$*" >&2; }

# A throwaway module per tool, so each tool's dependency graph stays its own.
module_dir() {
  command -v go >/dev/null || { log "building $1 needs Go on PATH (https://go.dev/dl/)"; exit 1; }
  local dir="$CACHE/build/$1"
  rm -rf "$dir" && mkdir -p "$dir" && printf '%s' "$dir"
}

build_kube_apiserver() {
  local out="$BIN/kube-apiserver-v$KUBE_VERSION"
  [ -x "$out" ] && { echo "kube-apiserver=$out"; return; }
  log "building kube-apiserver v$KUBE_VERSION (several minutes on a cold cache)"
  local dir; dir=$(module_dir "kube-apiserver-v$KUBE_VERSION")
  # k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with local
  # folders; a consumer must map each one to the published v0.<minor>.<patch> instead.
  local gomod staging
  gomod=$(go mod download -json "k8s.io/kubernetes@v$KUBE_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  staging=$(grep -oE '^\s+k8s\.io/[a-z0-9-]+ v0\.0\.0$' "$gomod" | awk '{print $1}' | sort -u)
  {
    echo "module idc.local/kube-apiserver"
    echo "go 1.24.0"
    echo "require k8s.io/kubernetes v$KUBE_VERSION"
    for m in $staging; do echo "replace $m => $m v0.${KUBE_VERSION#1.}"; done
  } > "$dir/go.mod"
  (cd "$dir" && go build -trimpath \
    -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=v$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${KUBE_VERSION#1.}" \
    -o "$out.tmp" k8s.io/kubernetes/cmd/kube-apiserver)
  mv "$out.tmp" "$out"
  echo "kube-apiserver=$out"
}

build_etcd() {
  local out="$BIN/etcd-v$ETCD_VERSION"
  [ -x "$out" ] && { echo "etcd=$out"; return; }
  log "building etcd v$ETCD_VERSION"
  local dir; dir=$(module_dir "etcd-v$ETCD_VERSION")
  printf 'module idc.local/etcd\ngo 1.24.0\nrequire go.etcd.io/etcd/server/v3 v%s\n' "$ETCD_VERSION" > "$dir/go.mod"
  (cd "$dir" && go build -trimpath -ldflags "-s -w" -o "$out.tmp" go.etcd.io/etcd/server/v3)
  mv "$out.tmp" "$out"
  echo "etcd=$out"
}

build_helm() {
  local out="$BIN/helm-v$HELM_VERSION"
  [ -x "$out" ] && { echo "helm=$out"; return; }
  log "building helm v$HELM_VERSION"
  local dir; dir=$(module_dir "helm-v$HELM_VERSION")
  printf 'module idc.local/helm\ngo 1.24.0\nrequire helm.sh/helm/v3 v%s\n' "$HELM_VERSION" > "$dir/go.mod"
  (cd "$dir" && go build -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=v$HELM_VERSION" -o "$out.tmp" helm.sh/helm/v3/cmd/helm)
  mv "$out.tmp" "$out"
  echo "helm=$out"
}

# One build per binary at a time: a second caller (another checkout, a parallel test run) waits
# for the first and then finds the binary built, instead of building it again.
locked() {
  local name=$1 fd
  exec {fd}>"$BIN/.$name.lock"
  flock -n "$fd" || { log "waiting for another build of $name"; flock "$fd"; }
  "build_${name//-/_}"
  exec {fd}>&-
}

case "${1:-all}" in
  kube-apiserver|etcd|helm) locked "$1" ;;
  all) locked etcd; locked kube-apiserver; locked helm ;;
  *) echo "unknown binary: $1" >&2; exit 2 ;;
esac
