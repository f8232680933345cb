#!/usr/bin/env bash
# Regenerate the lock files from pyproject.toml with pip-tools' pip-compile:
#   requirements/test.lock        the `test` extra: what scripts/setup.sh (make test, CI) installs
#   requirements/production.lock  the `production` extra: what the Dockerfile installs
# Pins already in a lock file are kept while pyproject.toml allows them; UPGRADE=1 moves every pin to
# the newest version allowed, UPGRADE_PACKAGE=name one of them. Then run `make test` and commit
# pyproject.toml and the locks together. pip-tools is installed here when missing (PyPI).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
"$PY" -m piptools --version >/dev/null 2>&1 || "$PY" -m pip install --disable-pip-version-check -q "pip-tools>=7.4"
args=()
[ -n "${UPGRADE:-}" ] && args+=(--upgrade)
[ -n "${UPGRADE_PACKAGE:-}" ] && args+=(--upgrade-package "$UPGRADE_PACKAGE")
for extra in test production; do
  CUSTOM_COMPILE_COMMAND="scripts/lock.sh" "$PY" -m piptools compile --quiet --strip-extras --no-emit-index-url --no-emit-find-links \
    --extra "$extra" ${args[@]+"${args[@]}"} --output-file "requirements/$extra.lock" pyproject.toml
done
