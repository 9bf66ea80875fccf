#!/usr/bin/env bash
# Makes a throwaway test CA and a server certificate for localhost with the
# `openssl` command, for tests and demos of wss:// — never for production.
#   scripts/make-test-certs.sh [DIR]      (default: build/test-certs)
# Writes into DIR: ca.pem (the CA to trust in clients), server.pem (the
# server certificate: --tls-cert), server-key.pem (its key: --tls-key), and
# ca-key.pem. Keys are written 0600 and DIR is under build/, which git
# ignores: never commit them. Certificates are valid for $DAYS days (30).
set -euo pipefail

dir=${1:-"$(dirname "$0")/../build/test-certs"}
days=${DAYS:-30}
command -v openssl >/dev/null || { echo "make-test-certs: needs the openssl command (apt-get install openssl)" >&2; exit 1; }
mkdir -p "$dir"
cd "$dir"
umask 077
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# EC P-256 keys: small and fast, and every TLS 1.2/1.3 client takes them.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca-key.pem
openssl req -x509 -new -key ca-key.pem -sha256 -days "$days" -subj "/CN=wsring test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out ca.pem

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out server-key.pem
openssl req -new -key server-key.pem -subj "/CN=localhost" -out "$tmp/server.csr"
# Clients check the name against subjectAltName only (RFC 6125 §6.4.4), so
# the SAN must list every name and address the tests connect to.
cat > "$tmp/ext.cnf" <<'EXT'
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EXT
openssl x509 -req -in "$tmp/server.csr" -CA ca.pem -CAkey ca-key.pem -set_serial "0x$(openssl rand -hex 8)" \
  -days "$days" -sha256 -extfile "$tmp/ext.cnf" -out server.pem 2>/dev/null
chmod 644 ca.pem server.pem

openssl verify -CAfile ca.pem -purpose sslserver server.pem >/dev/null
echo "make-test-certs: in $(pwd): ca.pem (trust it), server.pem (--tls-cert), server-key.pem (--tls-key), valid $days days"
