#!/usr/bin/env bash
# The whole suite on a busy machine: `make test` RUNS times in a row (default 3) in a
# fresh clone of this repository's HEAD, while two CPU-bound processes run for the
# whole time (as CI shares its two cores with other work). Prints each run's result
# and duration; exits non-zero when any run failed.
#
#   scripts/stress-test.sh [RUNS]          (make stress RUNS=3)
#
# The clone is left in place (its path is printed; the logs of each run are in it),
# since `make test` there installs the package from it (pip install -e).
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
repo=$(pwd)
dir=$(mktemp -d "${TMPDIR:-/tmp}/s3gw-stress-XXXXXX")
git clone -q "$repo" "$dir/s3gw" || exit 1
echo "stress: $runs runs of make test in $dir/s3gw ($(git rev-parse --short HEAD)), two CPU burners running" >&2

burners=()
for _ in 1 2; do
  python3 -c 'while True: pass' &
  burners+=($!)
done
trap 'kill "${burners[@]}" 2>/dev/null; wait "${burners[@]}" 2>/dev/null' EXIT

fails=0
results=()
for i in $(seq 1 "$runs"); do
  start=$(date +%s)
  (cd "$dir/s3gw" && make test) > "$dir/run$i.log" 2>&1
  rc=$?
  took=$(( $(date +%s) - start ))
  summary=$(grep -E "^[0-9]+ (passed|failed)|^=+ .*(passed|failed).* =+$|^== .*exit" "$dir/run$i.log" | tr '\n' ' ')
  line="run $i: exit $rc in $((took / 60))m$((took % 60))s: $summary"
  results+=("$line")
  echo "stress: $line" >&2
  [ $rc -eq 0 ] || { fails=$((fails + 1)); grep -E "^(FAILED|ERROR) " "$dir/run$i.log" >&2; }
done
echo "stress: logs in $dir (run1.log ...)" >&2
printf '%s\n' "${results[@]}"
[ $fails -eq 0 ]
