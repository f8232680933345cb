#!/usr/bin/env bash
# Run the whole suite: the project's tests, then the compatibility suite
# (s3gw and the pinned, Go-built MinIO side by side; the Go build is cached by
# scripts/go-tools.sh). pytest's exit code 5 ("no tests ran") is a failure here.
# Extra arguments go to the first stage only.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

run() {
  "$@"
  local rc=$?
  if [ $rc -eq 5 ]; then
    echo "no tests ran: failing" >&2
    return 1
  fi
  return $rc
}

run $PY -m pytest -q -p no:cacheprovider --doctest-modules s3gw nodes tests "$@"
rc=$?
if [ -z "${S3GW_SKIP_COMPAT:-}" ]; then
  run $PY -m pytest -q -p no:cacheprovider compat-tests
  rc2=$?
  [ $rc -eq 0 ] && rc=$rc2
fi
exit $rc
