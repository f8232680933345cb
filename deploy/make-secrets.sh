#!/usr/bin/env bash
# Create the secrets docker-compose.yml reads (deploy/secrets/*.txt), once: random
# values, in a directory only you can enter. Existing files are kept.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p secrets
chmod 700 secrets
gen() {  # NAME LENGTH
  [ -s "secrets/$1.txt" ] && return
  head -c 256 /dev/urandom | LC_ALL=C tr -dc 'A-Za-z0-9' | head -c "$2" > "secrets/$1.txt"
  chmod 644 "secrets/$1.txt"   # readable inside the containers (their users differ); the directory guards them
}
[ -s secrets/root_user.txt ] || { printf 's3gw-admin' > secrets/root_user.txt; chmod 644 secrets/root_user.txt; }
gen root_password 40
gen db_password 32
gen redis_password 32
gen cluster_secret 48
gen metrics_token 40
echo "secrets in $(pwd)/secrets (root user: $(cat secrets/root_user.txt))"
