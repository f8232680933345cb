#!/usr/bin/env bash
# The benchmarks' quick modes (`make bench`): small sizes and short runs, so the whole set takes a few
# minutes and prints figures to compare between two commits on one machine. Nothing is asserted: the
# figures depend on the machine and what else runs on it. The full runs, with the sizes the docs quote,
# are each script's defaults (python bench/NAME.py --help).
#
#   storage_bench   the storage layer alone: write, read, degraded read (6+3, fsync on)
#   meta_bench      listing pages against bucket size, SQLite and PostgreSQL
#   cache_bench     HEAD/GET of small objects with and without the metadata caches
#   cluster_bench   9 node processes and a gateway over HTTP: big and small objects, 3 nodes killed
#   memory          the gateway's peak memory during a large streamed PUT/GET and a multipart upload
#
# BENCH="storage meta" runs some of them only. Exit status: the first failing script's.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
only=${BENCH:-storage meta cache cluster memory}
rc=0

run() {  # NAME ARGS...
  local name=$1 start status
  shift
  case " $only " in *" $name "*) ;; *) return 0 ;; esac
  echo "== bench $name: python bench/$*" >&2
  start=$(date +%s)
  "$PY" "bench/$@"
  status=$?
  echo "== bench $name: exit $status after $(( $(date +%s) - start )) s" >&2
  [ $status -eq 0 ] || [ $rc -ne 0 ] || rc=$status
}

run storage storage_bench.py --size-mib 64
run meta    meta_bench.py --sizes 10000 --repeat 5
run cache   cache_bench.py --seconds 2 --concurrency 1,8 --objects 100
run cluster cluster_bench.py --big 2 --big-mib 16 --small 200
run memory  memory.py --size 256MiB --multipart 128MiB
exit $rc
