#!/usr/bin/env bash
# Install s3gw and everything its tests use, from the project's own files.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

# Real PostgreSQL and Redis servers for the tests (tests/services.py starts them
# on loopback, in throwaway directories). Installed from Debian's packages when
# missing; without them those tests fail (never skip), so a machine that cannot
# install them goes red.
have_pg() { ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; }
if ! have_pg || ! command -v redis-server >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
  if command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing postgresql and redis-server (Debian packages)" >&2
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 \
      && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
           postgresql redis-server >&2 \
      || echo "setup: could not install postgresql/redis-server: their tests will fail" >&2
  else
    echo "setup: no apt-get: install PostgreSQL and Redis yourself, or their tests will fail" >&2
  fi
fi

# Python packages: exactly the versions of the lock file (requirements/test.lock, made from
# pyproject.toml by scripts/lock.sh), so a fresh machine gets what the tests passed with; then s3gw
# itself, editable, without resolving anything again.
LOCK=requirements/test.lock
if ! $PY -c "import s3gw, aiohttp, pyeclib, boto3, minio, pytest_asyncio, hypothesis, awscli, asyncpg, redis, ruff, mypy" 2>/dev/null \
   || [ pyproject.toml -nt .setup-done ] || [ "$LOCK" -nt .setup-done ]; then
  $PY -m pip install --disable-pip-version-check -q -r "$LOCK"
  $PY -m pip install --disable-pip-version-check -q --no-deps -e .
  touch .setup-done
fi
