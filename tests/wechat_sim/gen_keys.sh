#!/bin/sh
# gen_keys.sh OUT_DIR: create DEV/TEST-ONLY WeChat key material, where missing.
#
# Nothing here is a real WeChat credential: the merchant and "platform" keys
# are fresh local RSA keys, the appid/mchid are placeholders.  Files (each
# secret/id holds its value plus a trailing newline):
#
#   appid, mchid, appsecret          mini-program id, merchant id, AppSecret
#   merchant_private.pem             merchant API key (the workers sign with it)
#   merchant_cert.pem                self-signed merchant API certificate
#   merchant_public.pem              its public key (the simulator verifies)
#   merchant_serial                  the certificate serial, upper-case hex
#   platform_private.pem             WeChat Pay key (the simulator signs)
#   platform_public.pem              its public key (the workers verify)
#   platform_serial                  its id, PUB_KEY_ID_... (Wechatpay-Serial)
#   platform_cert_private.pem        a second "platform" key, as an older
#   platform_cert.pem                WeChat Pay platform certificate (its
#                                    serial is the id): the dev stack accepts
#                                    both at once, as during a key rotation
#   apiv3.key                        32-character APIv3 key (AES-256-GCM)
#
# appid/mchid default to MALL_WX_APPID / MALL_WX_MCHID when those are set.
set -eu

[ $# -eq 1 ] || { echo "usage: $0 OUT_DIR" >&2; exit 2; }
out=$1
mkdir -p "$out"
chmod 700 "$out"
umask 077

# rand_alnum N: N random characters of [A-Za-z0-9]
rand_alnum() {
    _s=""
    while [ "${#_s}" -lt "$1" ]; do
        _s="$_s$(openssl rand -base64 48 | tr -dc 'A-Za-z0-9')"
    done
    printf '%s\n' "$_s" | cut -c "1-$1"
}

rsa_key() {   # rsa_key FILE: RSA-2048 private key, PKCS#8 PEM
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
        -out "$1" 2>/dev/null
}

[ -s "$out/appid" ] || printf '%s\n' "${MALL_WX_APPID:-wxdevmall0000001}" >"$out/appid"
[ -s "$out/mchid" ] || printf '%s\n' "${MALL_WX_MCHID:-1900000109}" >"$out/mchid"
[ -s "$out/appsecret" ] || openssl rand -hex 16 >"$out/appsecret"
[ -s "$out/apiv3.key" ] || rand_alnum 32 >"$out/apiv3.key"

if [ ! -s "$out/merchant_private.pem" ] || [ ! -s "$out/merchant_cert.pem" ]; then
    rsa_key "$out/merchant_private.pem"
    # A 20-byte serial, 40 hex digits with no leading zero, like WeChat's.
    _serial=$(openssl rand -hex 20 | sed 's/^./5/' | tr 'a-f' 'A-F')
    openssl req -x509 -new -key "$out/merchant_private.pem" -days 3650 \
        -set_serial "0x$_serial" \
        -subj "/O=Mall Edge DEV TEST ONLY/OU=not a WeChat Pay certificate/CN=$(cat "$out/mchid")" \
        -out "$out/merchant_cert.pem" 2>/dev/null
    rm -f "$out/merchant_public.pem" "$out/merchant_serial"
fi
[ -s "$out/merchant_public.pem" ] ||
    openssl pkey -in "$out/merchant_private.pem" -pubout -out "$out/merchant_public.pem"
[ -s "$out/merchant_serial" ] ||
    openssl x509 -in "$out/merchant_cert.pem" -noout -serial |
        sed 's/^serial=//' | tr 'a-f' 'A-F' >"$out/merchant_serial"

if [ ! -s "$out/platform_private.pem" ]; then
    rsa_key "$out/platform_private.pem"
    rm -f "$out/platform_public.pem"
fi
[ -s "$out/platform_public.pem" ] ||
    openssl pkey -in "$out/platform_private.pem" -pubout -out "$out/platform_public.pem"
[ -s "$out/platform_serial" ] ||
    printf 'PUB_KEY_ID_01%s%s\n' "$(cat "$out/mchid")" \
        "$(od -An -N4 -tu4 /dev/urandom | tr -dc '0-9')" >"$out/platform_serial"

if [ ! -s "$out/platform_cert_private.pem" ] || [ ! -s "$out/platform_cert.pem" ]; then
    rsa_key "$out/platform_cert_private.pem"
    _serial=$(openssl rand -hex 20 | sed 's/^./3/' | tr 'a-f' 'A-F')
    openssl req -x509 -new -key "$out/platform_cert_private.pem" -days 3650 \
        -set_serial "0x$_serial" \
        -subj "/O=Mall Edge DEV TEST ONLY/OU=not a WeChat Pay platform certificate/CN=Tenpay.com Root CA" \
        -out "$out/platform_cert.pem" 2>/dev/null
fi

# Public halves and ids are not secret; keep the private ones 0600.
chmod 644 "$out/appid" "$out/mchid" "$out/merchant_cert.pem" \
    "$out/merchant_public.pem" "$out/merchant_serial" \
    "$out/platform_public.pem" "$out/platform_serial" "$out/platform_cert.pem"
chmod 600 "$out/appsecret" "$out/apiv3.key" "$out/merchant_private.pem" \
    "$out/platform_private.pem" "$out/platform_cert_private.pem"
