#!/usr/bin/env bash
# Install the pinned MinIO server and mc client that compat-tests/ runs against.
#
# Each tool is built with `CGO_ENABLED=0 go install MODULE@VERSION` only when its
# binary is missing or is not that version. The version is recorded in a stamp
# file next to the binary (`minio.version`, `mc.version`), so repeated runs are
# a no-op; a binary without a stamp whose build info (`go version -m`) already
# names the pinned version is stamped without rebuilding.
#
# Why pseudo-versions: MinIO's RELEASE.* tags are not semver, so the Go module
# proxy does not serve them; the pins below are the newest commits it serves.
# helm (for scripts/helm-check.sh) is a tagged release; its main package lives
# below the module root (helm.sh/helm/v3/cmd/helm), hence ensure's 4th argument.
#
# Usage: scripts/go-tools.sh [minio|mc|helm]...   (default: minio mc)
# Prints one line per tool: NAME PATH. Honours GOBIN (default: $(go env GOPATH)/bin).
set -euo pipefail

MINIO_MODULE=github.com/minio/minio
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
MC_MODULE=github.com/minio/mc
MC_VERSION=v0.0.0-20250313080218-cf909e1063a9
HELM_MODULE=helm.sh/helm/v3
HELM_VERSION=v3.22.0
HELM_PACKAGE=helm.sh/helm/v3/cmd/helm

bindir() {
  if [ -n "${GOBIN:-}" ]; then echo "$GOBIN"; return; fi
  command -v go >/dev/null 2>&1 || { echo "go-tools.sh: go is not installed" >&2; exit 1; }
  echo "$(go env GOPATH)/bin"
}

ensure() {  # NAME MODULE VERSION [PACKAGE (default: the module itself)]
  local name=$1 module=$2 version=$3 package=${4:-$2} dir bin stamp want
  dir=$(bindir)
  bin=$dir/$name
  stamp=$dir/$name.version
  want="$module@$version"
  if [ -x "$bin" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "$name $bin"; return
  fi
  if [ -x "$bin" ] && command -v go >/dev/null 2>&1 \
     && go version -m "$bin" 2>/dev/null | awk '$1=="mod"{print $2"@"$3}' | grep -qx "$want"; then
    echo "$want" > "$stamp"
    echo "$name $bin"; return
  fi
  command -v go >/dev/null 2>&1 || { echo "go-tools.sh: go is needed to build $want" >&2; exit 1; }
  echo "go-tools.sh: building $want (a few minutes the first time)" >&2
  GOBIN="$dir" CGO_ENABLED=0 go install "$package@$version" >&2
  echo "$want" > "$stamp"
  echo "$name $bin"
}

tools=("$@")
[ ${#tools[@]} -eq 0 ] && tools=(minio mc)
for t in "${tools[@]}"; do
  case $t in
    minio) ensure minio "$MINIO_MODULE" "$MINIO_VERSION" ;;
    mc) ensure mc "$MC_MODULE" "$MC_VERSION" ;;
    helm) ensure helm "$HELM_MODULE" "$HELM_VERSION" "$HELM_PACKAGE" ;;
    *) echo "go-tools.sh: unknown tool $t (minio|mc|helm)" >&2; exit 2 ;;
  esac
done
