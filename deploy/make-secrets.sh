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

# TLS on every hop (deploy/config.yaml: encryption_in_transit): a private CA and one
# certificate per role, in secrets/tls/ (mounted at /etc/s3gw/tls as a directory, so a
# renewal written here is served without a restart). Renew: delete a role's .crt and run
# this again (same CA); the gateways and nodes reload theirs within 10 s, PostgreSQL and
# Redis on a restart of their container.
mkdir -p secrets/tls
chmod 755 secrets/tls   # the containers' users enter it; secrets/ (700) still guards it on this machine
if [ ! -s secrets/tls/ca.crt ]; then
  openssl req -x509 -newkey rsa:3072 -sha256 -days 3650 -nodes -subj "/CN=s3gw compose CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout secrets/tls/ca.key -out secrets/tls/ca.crt 2>/dev/null
  chmod 600 secrets/tls/ca.key
  chmod 644 secrets/tls/ca.crt
fi
cert() {  # ROLE SUBJECT-ALT-NAMES
  [ -s "secrets/tls/$1.crt" ] && return
  openssl req -newkey rsa:2048 -sha256 -nodes -subj "/CN=$1" -keyout "secrets/tls/$1.key" \
    -out "secrets/tls/$1.csr" 2>/dev/null
  # the extensions strict verifiers (Python 3.13's VERIFY_X509_STRICT) insist on
  printf '%s\n' "subjectAltName=$2" "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=serverAuth" "subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid,issuer" \
    > "secrets/tls/$1.ext"
  openssl x509 -req -sha256 -days 365 -in "secrets/tls/$1.csr" -CA secrets/tls/ca.crt -CAkey secrets/tls/ca.key \
    -CAcreateserial -extfile "secrets/tls/$1.ext" -out "secrets/tls/$1.crt" 2>/dev/null
  rm -f "secrets/tls/$1.csr" "secrets/tls/$1.ext"
  chmod 644 "secrets/tls/$1.crt" "secrets/tls/$1.key"   # readable by the containers' users, as the secrets above
}
local_names="DNS:localhost,IP:127.0.0.1"   # the containers' own health checks
cert gateway "DNS:gateway1,DNS:gateway2,$local_names"
cert node "$(printf 'DNS:node%d,' 1 2 3 4 5 6 7 8 9)$local_names"
cert postgres "DNS:postgres,$local_names"
cert redis "DNS:redis,$local_names"
echo "secrets in $(pwd)/secrets (root user: $(cat secrets/root_user.txt)); TLS CA: $(pwd)/secrets/tls/ca.crt"
