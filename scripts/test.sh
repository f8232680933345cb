#!/usr/bin/env bash
# The test suite, in stages (the Makefile's targets):
#
#   scripts/test.sh lint          ruff check, ruff format --check, mypy --strict (pyproject.toml): seconds
#   scripts/test.sh unit          tests/unit and the doctests: no external service, seconds
#   scripts/test.sh integration   real processes: PostgreSQL, Redis, s3gw servers, storage
#                                 nodes, mc (functional, cluster, scale-out, ops tests)
#   scripts/test.sh compat        compat-tests/: s3gw and the pinned, Go-built MinIO side by side
#   scripts/test.sh all           the four in order: lint, unit, integration, compat (what `make test` and CI run)
#
# Extra arguments go to pytest (for `all`: to every stage). pytest's exit code 5
# ("no tests ran") is a failure here. Each stage prints how long it took.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
stage=${1:-all}
[ $# -gt 0 ] && shift

run() {  # NAME PYTEST-ARGS...
  local name=$1 start rc
  shift
  start=$(date +%s)
  echo "== $name: python -m pytest $*" >&2
  "$PY" -m pytest -q -p no:cacheprovider "$@"
  rc=$?
  if [ $rc -eq 5 ]; then
    echo "== $name: no tests ran: failing" >&2
    rc=1
  fi
  echo "== $name: exit $rc after $(( $(date +%s) - start )) s" >&2
  return $rc
}

lint() {
  local start rc=0
  start=$(date +%s)
  echo "== lint: ruff check, ruff format --check, mypy" >&2
  "$PY" -m ruff check . || rc=1
  "$PY" -m ruff format --check . || rc=1
  "$PY" -m mypy || rc=1
  echo "== lint: exit $rc after $(( $(date +%s) - start )) s" >&2
  return $rc
}
unit()        { run unit --doctest-modules s3gw nodes tests/unit -m "not services" "$@"; }
integration() { run integration tests -m "not unit or services" "$@"; }
compat()      { run compat compat-tests "$@"; }

case "$stage" in
  lint) lint ;;
  unit) unit "$@" ;;
  integration) integration "$@" ;;
  compat) compat "$@" ;;
  all)
    rc=0
    lint || rc=1
    unit "$@" || rc=1
    integration "$@" || rc=1
    if [ -z "${S3GW_SKIP_COMPAT:-}" ]; then
      compat "$@" || rc=1
    fi
    exit $rc ;;
  *) echo "usage: scripts/test.sh [lint|unit|integration|compat|all] [pytest args...]" >&2; exit 2 ;;
esac
