#!/bin/sh
# mall-keys.sh DIR: create the key material of one Mall Edge stack in DIR,
# where missing (never overwrites). DEV/TEST ONLY: production keys come from
# your secret store. Used by build.sh (build/keys) and the benchmark
# (build/bench/keys). Files: see docs/architecture.md, "Key material".
set -eu

[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
k=$1
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$k"
chmod 700 "$k"
umask 077

# ES256 access-token key, kid k1 (workers sign, the edge verifies).
if [ ! -s "$k/jwt-k1.pem" ]; then
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
        -out "$k/jwt-k1.pem" 2>/dev/null
    rm -f "$k/jwt-k1.pub.pem"
fi
[ -s "$k/jwt-k1.pub.pem" ] || openssl pkey -in "$k/jwt-k1.pem" -pubout \
    -out "$k/jwt-k1.pub.pem"

# Secrets as 64 hex characters: sign-key derivation, edge -> worker HMAC,
# AES-256-GCM data key.
for f in sign-s1 edge-e1 data-d1; do
    [ -s "$k/$f.key" ] || openssl rand -hex 32 >"$k/$f.key"
done

# Self-signed TLS certificate for 127.0.0.1 / localhost.
if [ ! -s "$k/tls.crt" ] || [ ! -s "$k/tls.key" ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 825 -subj "/CN=localhost" \
        -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
        -keyout "$k/tls.key" -out "$k/tls.crt" 2>/dev/null
fi

# TLS session ticket keys (80 bytes: AES-256 + HMAC-SHA256 keys and a name):
# the current one encrypts, the previous one still decrypts until
# `mallctl rotate-keys` moves it out.
for f in tls_ticket.key tls_ticket.prev.key; do
    [ -s "$k/$f" ] || openssl rand -out "$k/$f" 80
done

# WeChat Pay merchant/platform keys (the simulator plays WeChat's side).
sh "$here/../tests/wechat_sim/gen_keys.sh" "$k/wechat"

# Carrier-tracking account (Kuaidi100-style customer id + key) that the
# dev stack's carrier simulator accepts. DEV/TEST values, not an account.
mkdir -p "$k/carrier"
[ -s "$k/carrier/customer" ] || echo "DEVTESTCUSTOMER0000000000000001" \
    >"$k/carrier/customer"
[ -s "$k/carrier/key" ] || openssl rand -hex 16 >"$k/carrier/key"

chmod 644 "$k/jwt-k1.pub.pem" "$k/tls.crt"
