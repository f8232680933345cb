#!/usr/bin/env bash
# Install s3gw and everything its tests use, from the project's own files.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! $PY -c "import s3gw, aiohttp, pyeclib, boto3, minio, pytest_asyncio, hypothesis, awscli" 2>/dev/null \
   || [ pyproject.toml -nt .setup-done ]; then
  $PY -m pip install --disable-pip-version-check -q -e '.[test]'
  touch .setup-done
fi
