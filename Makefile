# The two commands of the README:
#   make serve   set up (first time) and run s3gw on the embedded default (./data, 127.0.0.1:8080)
#   make test    set up (first time) and run lint and the whole test suite (unit, integration, compat)
# The parts, each on its own:
#   make lint         ruff (lint + format check) and mypy --strict on auth, storage, meta, nodes
#   make unit         tests/unit and doctests, no external service (seconds)
#   make integration  real processes: PostgreSQL, Redis, servers, nodes, mc (minutes)
#   make compat       compat-tests: s3gw and the pinned MinIO side by side
#   make stress       make test N times (RUNS, default 3) with two CPU-bound processes running
#   make fuzz         the fuzz harnesses with a long budget (FUZZ_EXAMPLES, default 20000 per harness)
#   make chaos        the long chaos schedule (tests/chaos, docs/reliability.md): a workload with a
#                     ledger against 9 nodes + 2 gateways on PostgreSQL while nodes, gateways and
#                     PostgreSQL are killed, frozen, filled and corrupted, for CHAOS_SECONDS (default
#                     600) plus the verification after it; prints the figures (CHAOS_REPORT=FILE also
#                     writes them as JSON; CHAOS_CLIENTS, CHAOS_KEYS, CHAOS_SEED, CHAOS_DIR for the
#                     logs). `make test` (its integration stage) runs the short schedule, about 3 min
#   make bench        the bench/ scripts' quick modes (scripts/bench.sh): figures printed, nothing
#                     asserted, a few minutes
#   make lock         regenerate requirements/*.lock from pyproject.toml (scripts/lock.sh; UPGRADE=1,
#                     UPGRADE_PACKAGE=NAME to move pins)
DATA ?= ./data
ADDRESS ?= 127.0.0.1:8080
RUNS ?= 3
FUZZ_EXAMPLES ?= 20000
CHAOS_SECONDS ?= 600

.PHONY: serve test setup lint unit integration compat stress fuzz chaos bench lock
setup:
	@scripts/setup.sh

serve: setup
	s3gw serve --data $(DATA) --address $(ADDRESS)

test: setup
	@scripts/test.sh all

lint: setup
	@scripts/test.sh lint

unit: setup
	@scripts/test.sh unit

integration: setup
	@scripts/test.sh integration

compat: setup
	@scripts/test.sh compat

stress: setup
	@scripts/stress-test.sh $(RUNS)

fuzz: setup
	S3GW_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) python3 -m pytest -q -p no:cacheprovider tests/unit/fuzz tests/functional/test_fuzz_requests.py

chaos: setup
	CHAOS_SECONDS=$(CHAOS_SECONDS) python3 -m pytest -q -s -p no:cacheprovider \
		tests/chaos/test_chaos.py::test_long_schedule

bench: setup
	@scripts/bench.sh

lock:
	@UPGRADE=$(UPGRADE) UPGRADE_PACKAGE=$(UPGRADE_PACKAGE) scripts/lock.sh
