#!/usr/bin/env bash
# Lint, render and validate the Helm chart offline:
#   1. helm lint --strict (values checked against helm/s3gw/values.schema.json), with the
#      defaults and with each helm/s3gw/ci/*-values.yaml;
#   2. helm template for the same variants, for every Kubernetes version below;
#   3. every rendered manifest against Kubernetes' own JSON schemas (kubernetes-validate,
#      strict: unknown fields are errors; its schemas ship inside the package, no network),
#      the ServiceMonitor against helm/schemas/, and the rendered config.yaml through
#      `s3gw config check` (helm/tools/validate_rendered.py).
#
# helm comes from scripts/go-tools.sh (a pinned `go install`, built once and stamped);
# HELM=/path/to/helm overrides. kubernetes-validate is installed with pip at the pinned
# version when missing. Nothing is skipped: a missing tool is an error.
#
# Usage: scripts/helm-check.sh [--out DIR]   (DIR keeps the rendered manifests)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
CHART=${HELM_CHART:-helm/s3gw}   # HELM_CHART: another copy (the tests break one on purpose)
# the guide's EKS cluster_version, and the newest the pinned kubernetes-validate ships
KUBE_VERSIONS=(1.28.0 1.34.0)
KUBERNETES_VALIDATE_VERSION=1.34.1

OUT=""
if [ "${1:-}" = "--out" ]; then OUT=$2; shift 2; fi
if [ -z "$OUT" ]; then OUT=$(mktemp -d); trap 'rm -rf "$OUT"' EXIT; fi
mkdir -p "$OUT"

if [ -z "${HELM:-}" ]; then
  HELM=$(scripts/go-tools.sh helm | awk '$1=="helm"{print $2}') \
    || { echo "helm-check: could not build helm with scripts/go-tools.sh helm (needs go and the Go module proxy)" >&2; exit 1; }
fi
[ -x "$HELM" ] || { echo "helm-check: helm not found at $HELM" >&2; exit 1; }

have=$($PY -c 'import importlib.metadata as m; print(m.version("kubernetes-validate"))' 2>/dev/null || true)
if [ "$have" != "$KUBERNETES_VALIDATE_VERSION" ]; then
  echo "helm-check: installing kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" >&2
  $PY -m pip install --disable-pip-version-check -q "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" >&2 \
    || { echo "helm-check: pip could not install kubernetes-validate" >&2; exit 1; }
fi

echo "helm-check: $("$HELM" version --short), kubernetes-validate $KUBERNETES_VALIDATE_VERSION"
variants=(default)
for f in "$CHART"/ci/*-values.yaml; do variants+=("$f"); done

rendered=()
for v in "${variants[@]}"; do
  args=()
  name=default
  if [ "$v" != default ]; then args=(-f "$v"); name=$(basename "$v" .yaml); fi
  echo "== $name"
  "$HELM" lint --strict "$CHART" "${args[@]}" --quiet >"$OUT/lint-$name.txt" 2>&1 \
    || { cat "$OUT/lint-$name.txt" >&2; echo "helm-check: helm lint failed for $name" >&2; exit 1; }
  echo "  helm lint --strict: ok"
  for kv in "${KUBE_VERSIONS[@]}"; do
    file="$OUT/$name-k8s-$kv.yaml"
    "$HELM" template s3gw "$CHART" --namespace objectstore --kube-version "$kv" "${args[@]}" >"$file" \
      || { echo "helm-check: helm template failed for $name (Kubernetes $kv)" >&2; exit 1; }
    rendered+=("$file")
  done
  echo "  helm template: ok (Kubernetes ${KUBE_VERSIONS[*]})"
done

# each render against the schemas of the Kubernetes version it was rendered for
for file in "${rendered[@]}"; do
  ver=${file##*-k8s-}; ver=${ver%.yaml}
  $PY helm/tools/validate_rendered.py "$file" --kube-version "$ver" \
    --config-check "${S3GW_BIN:-$PY -m s3gw.cli}"
done
echo "helm-check: OK (${#variants[@]} value sets x ${#KUBE_VERSIONS[@]} Kubernetes versions)"
