#!/usr/bin/env bash
# Run the whole suite. pytest's exit code 5 ("no tests ran") is a failure here.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
$PY -m pytest -q -p no:cacheprovider --doctest-modules s3gw nodes tests "$@"
rc=$?
if [ $rc -eq 5 ]; then
  echo "no tests ran: failing" >&2
  exit 1
fi
exit $rc
