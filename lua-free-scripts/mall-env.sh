# Mall Edge stack environment: ports, paths and config rendering.
# Sourced by mallctl and build.sh; tests set the same variables for their own
# ports and runtime dir. POSIX sh.

: "${MALL_ROOT:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${MALL_BUILD_DIR:=$MALL_ROOT/build}"
: "${MALL_RUN_DIR:=$MALL_ROOT/run}"
: "${MALL_KEYS_DIR:=$MALL_BUILD_DIR/keys}"
# The worker master writes its pid here itself (and the new master after a
# binary upgrade, SIGUSR2, once it serves).
: "${MALL_WORKER_PID_FILE:=$MALL_RUN_DIR/workers.pid}"
: "${MALL_EDGE_PORT:=8080}"
: "${MALL_EDGE_TLS_PORT:=8443}"
: "${MALL_ADMIN_PORT:=8081}"
: "${MALL_WORKER_PORT:=9101}"
# Worker admin listener (loopback): GET /metrics, GET /status.
: "${MALL_WORKER_ADMIN_PORT:=9102}"
# Seconds a new worker binary (SIGUSR2 upgrade) has to serve before it is
# killed and the running one carries on.
: "${MALL_WORKER_UPGRADE_TIMEOUT:=30}"
: "${MALL_WORKER_PROCESSES:=auto}"
: "${MALL_REDIS_PORT:=6391}"
: "${MALL_SIM_PORT:=9900}"
: "${MALL_NGINX_WORKERS:=2}"
: "${MALL_ADMIN_PASSWORD:=admin-dev-password}"
# Seconds an unpaid order holds its stock (tests render a short one).
: "${MALL_ORDER_PAY_TIMEOUT:=1800}"
# Units of one SKU a buyer may hold in open orders (0 = no limit).
: "${MALL_ORDER_PURCHASE_LIMIT:=0}"
# Seconds after shipping an order counts as received (10 days), and after
# receipt the after-sales window closes (7 days); tests render short ones.
: "${MALL_ORDER_AUTO_RECEIVE:=864000}"
: "${MALL_ORDER_AFTER_SALES:=604800}"
# Abnormal orders (docs/orders.md): per clock hour, orders of one user,
# device (X-Mall-Device), shipping address; distinct addresses of a user;
# distinct users of one device on one SKU; a new account's largest order
# (age in s, fen); the edge risk score that freezes; refused payments of a
# user. 0 turns a rule off.
: "${MALL_RISK_ORDERS_PER_USER:=50}"
: "${MALL_RISK_ORDERS_PER_DEVICE:=50}"
: "${MALL_RISK_ORDERS_PER_ADDRESS:=200}"
: "${MALL_RISK_ADDRESSES_PER_USER:=5}"
: "${MALL_RISK_DEVICE_ACCOUNTS_PER_SKU:=5}"
: "${MALL_RISK_NEW_ACCOUNT_AGE:=86400}"
: "${MALL_RISK_NEW_ACCOUNT_MAX_FEN:=1000000}"
: "${MALL_RISK_EDGE_SCORE:=90}"
: "${MALL_RISK_PAY_FAILURES:=5}"
# Worker processes: pipelined Redis connections each, requests in flight
# each (beyond: 503 + Retry-After), and the Redis batch timeout.
: "${MALL_REDIS_CONNECTIONS:=4}"
: "${MALL_WORKER_MAX_INFLIGHT:=512}"
: "${MALL_REDIS_TIMEOUT_MS:=1000}"
# Redis HA (opt-in; conf/ha/README.md): Sentinels as host:port[,host:port]
# make the edge and the workers ask them for the primary of
# MALL_REDIS_MASTER_NAME; empty (the default): MALL_REDIS_PORT is the one
# Redis. An order or payment change is acknowledged once WAIT saw it on
# MALL_REDIS_WAIT_REPLICAS replicas (0 = off) within
# MALL_REDIS_WAIT_TIMEOUT_MS (below MALL_REDIS_TIMEOUT_MS), else 503.
: "${MALL_REDIS_SENTINELS:=}"
: "${MALL_REDIS_MASTER_NAME:=mall}"
: "${MALL_REDIS_WAIT_REPLICAS:=0}"
: "${MALL_REDIS_WAIT_TIMEOUT_MS:=200}"
if [ -n "$MALL_REDIS_SENTINELS" ]; then
    MALL_REDIS_SENTINELS_CONF=$MALL_REDIS_SENTINELS
    MALL_REDIS_SENTINEL_ARGS=" sentinel=$MALL_REDIS_SENTINELS master=$MALL_REDIS_MASTER_NAME"
else
    MALL_REDIS_SENTINELS_CONF=off
    MALL_REDIS_SENTINEL_ARGS=""
fi
# WeChat Pay: seconds between WeChat queries of one order that reads
# trigger, and before a refund without an answer is sent again.
: "${MALL_PAY_QUERY_INTERVAL:=5}"
: "${MALL_WXPAY_API_BASE:=http://127.0.0.1:$MALL_SIM_PORT}"
# Seconds a notification's timestamp may be old (WeChat: 5 minutes; the
# bench signs its notifications ahead of the run and allows longer).
: "${MALL_WXPAY_NOTIFY_MAX_AGE:=300}"
: "${MALL_REFUND_RETRY:=30}"
# Order notifications (subscription messages): the template ids of the
# mini-program for paid, shipped and refund result ("off": none sent), and
# the first retry delay in ms of a failed send (it doubles each time). The
# dev values are ids the WeChat simulator accepts.
: "${MALL_NOTIFY_TPL_PAID:=mall-dev-tpl-order-paid}"
: "${MALL_NOTIFY_TPL_SHIPPED:=mall-dev-tpl-order-shipped}"
: "${MALL_NOTIFY_TPL_REFUND:=mall-dev-tpl-refund-result}"
: "${MALL_NOTIFY_RETRY_BASE_MS:=1000}"
# Carrier tracking (Kuaidi100-style query API, docs/orders.md "Logistics").
# The dev stack and the tests point it at tests/carrier_sim on
# MALL_CARRIER_SIM_PORT with the DEV/TEST account that mall-keys.sh makes
# in $MALL_KEYS_DIR/carrier; production sets the real base URL
# (https://poll.kuaidi100.com) and files holding its customer id and key.
: "${MALL_CARRIER_SIM_PORT:=9910}"
: "${MALL_CARRIER_API_BASE:=http://127.0.0.1:$MALL_CARRIER_SIM_PORT}"
: "${MALL_CARRIER_CUSTOMER_FILE:=$MALL_KEYS_DIR/carrier/customer}"
: "${MALL_CARRIER_KEY_FILE:=$MALL_KEYS_DIR/carrier/key}"
# Seconds a fetched timeline is fresh (detail reads do not ask the
# carrier), and after a failed query before the carrier is asked again.
: "${MALL_LOGISTICS_CACHE_TTL:=1800}"
: "${MALL_LOGISTICS_ERROR_RETRY:=60}"
# WAF rule files (*.rules) the edge compiles; the security team edits them,
# then `mallctl check-rules` and `mallctl reload`.
: "${MALL_WAF_RULES_DIR:=$MALL_ROOT/conf/waf}"
# Fraud lists and risk rules (conf/fraud/README.md): the security team
# edits them, then `mallctl reload`. The GeoIP database build.sh fetches.
: "${MALL_FRAUD_DIR:=$MALL_ROOT/conf/fraud}"
: "${MALL_GEOIP_DB:=$MALL_BUILD_DIR/geoip/geo-whois-asn-country.mmdb}"
# Autonomous systems ($mall_asn): built from ip-location-db's CSV by
# build.sh (tools/mall_mmdb_asn.c); a MaxMind GeoLite2-ASN file works too.
: "${MALL_GEOIP_ASN_DB:=$MALL_BUILD_DIR/geoip/asn.mmdb}"
export MALL_GEOIP_ASN_DB

# Client addresses: nginx believes X-Forwarded-For only from these proxies
# (CIDRs or addresses, separated by spaces or commas), the CDN or load
# balancer in front of the edge; anyone else's header is ignored and the
# connection's address counts. MALL_ENV=production trusts nobody unless
# named here; the dev stack and the tests (MALL_ENV=dev, the default) trust
# loopback so one machine can act as many clients. "none": trust nobody.
: "${MALL_ENV:=dev}"
if [ -z "${MALL_TRUSTED_PROXIES+set}" ]; then
    case $MALL_ENV in
        production) MALL_TRUSTED_PROXIES=none ;;
        *)          MALL_TRUSTED_PROXIES=127.0.0.1 ;;
    esac
fi

# MALL_TRUSTED_PROXIES as nginx directives, on one line (mall_render).
mall_real_ip_conf() {
    _conf=""
    for _cidr in $(printf '%s' "$MALL_TRUSTED_PROXIES" | tr ',' ' '); do
        [ "$_cidr" = none ] && continue
        case $_cidr in
            *[!0-9A-Fa-f.:/]*|"")
                echo "MALL_TRUSTED_PROXIES: not a CIDR: $_cidr" >&2
                return 1 ;;
        esac
        _conf="$_conf set_real_ip_from $_cidr;"
    done
    printf '%s' "${_conf:-# no trusted proxy: X-Forwarded-For is ignored}"
}
MALL_REAL_IP_CONF=$(mall_real_ip_conf) || exit 1

# TLS listener: OCSP stapling needs a CA-issued certificate that names a
# responder (MALL_TLS_CHAIN: its issuer chain) and a resolver to reach it.
: "${MALL_TLS_STAPLING:=off}"
: "${MALL_TLS_CHAIN:=$MALL_KEYS_DIR/tls.crt}"
: "${MALL_TLS_RESOLVER:=127.0.0.1}"
export MALL_TLS_STAPLING MALL_TLS_CHAIN MALL_TLS_RESOLVER

export MALL_ROOT MALL_BUILD_DIR MALL_RUN_DIR MALL_KEYS_DIR MALL_EDGE_PORT MALL_EDGE_TLS_PORT \
    MALL_ADMIN_PORT MALL_WORKER_PORT MALL_WORKER_ADMIN_PORT MALL_WORKER_PID_FILE \
    MALL_WORKER_UPGRADE_TIMEOUT \
    MALL_WORKER_PROCESSES MALL_REDIS_PORT \
    MALL_SIM_PORT MALL_NGINX_WORKERS MALL_ADMIN_PASSWORD MALL_ORDER_PAY_TIMEOUT \
    MALL_ORDER_PURCHASE_LIMIT MALL_ORDER_AUTO_RECEIVE MALL_ORDER_AFTER_SALES \
    MALL_RISK_ORDERS_PER_USER MALL_RISK_ORDERS_PER_DEVICE \
    MALL_RISK_ORDERS_PER_ADDRESS MALL_RISK_ADDRESSES_PER_USER \
    MALL_RISK_DEVICE_ACCOUNTS_PER_SKU MALL_RISK_NEW_ACCOUNT_AGE \
    MALL_RISK_NEW_ACCOUNT_MAX_FEN MALL_RISK_EDGE_SCORE MALL_RISK_PAY_FAILURES \
    MALL_REDIS_CONNECTIONS MALL_WORKER_MAX_INFLIGHT \
    MALL_REDIS_TIMEOUT_MS MALL_PAY_QUERY_INTERVAL MALL_REFUND_RETRY \
    MALL_REDIS_SENTINELS MALL_REDIS_MASTER_NAME MALL_REDIS_WAIT_REPLICAS \
    MALL_REDIS_WAIT_TIMEOUT_MS MALL_REDIS_SENTINELS_CONF \
    MALL_REDIS_SENTINEL_ARGS \
    MALL_WXPAY_API_BASE MALL_WXPAY_NOTIFY_MAX_AGE MALL_ENV \
    MALL_NOTIFY_TPL_PAID MALL_NOTIFY_TPL_SHIPPED MALL_NOTIFY_TPL_REFUND \
    MALL_NOTIFY_RETRY_BASE_MS \
    MALL_CARRIER_SIM_PORT MALL_CARRIER_API_BASE MALL_CARRIER_CUSTOMER_FILE \
    MALL_CARRIER_KEY_FILE MALL_LOGISTICS_CACHE_TTL MALL_LOGISTICS_ERROR_RETRY \
    MALL_TRUSTED_PROXIES MALL_REAL_IP_CONF MALL_WAF_RULES_DIR \
    MALL_FRAUD_DIR MALL_GEOIP_DB

# Sanitizer runs (./build.sh test --sanitize): MALL_SAN_DIR names a build
# dir of ASan+UBSan builds (bin/ workers, modules/ the nginx module, nginx
# a wrapper that preloads libasan, which must come first, into the stock
# nginx). Unset: the normal build. MALL_MODULE_DIR and MALL_NGINX, when
# set, win over both (tests/integration/edge_harness.py does the same).
if [ -n "${MALL_SAN_DIR:-}" ]; then
    MALL_BIN_DIR=$MALL_SAN_DIR/bin
    MALL_MODULE_DIR=${MALL_MODULE_DIR:-$MALL_SAN_DIR/modules}
    MALL_NGINX=${MALL_NGINX:-$MALL_SAN_DIR/nginx}
else
    MALL_BIN_DIR=$MALL_BUILD_DIR/bin
    MALL_MODULE_DIR=${MALL_MODULE_DIR:-$MALL_BUILD_DIR/modules}
fi
export MALL_MODULE_DIR

MALL_NGINX=${MALL_NGINX:-/usr/sbin/nginx}
MALL_REDIS_SERVER=${MALL_REDIS_SERVER:-/usr/bin/redis-server}
MALL_PYTHON=${MALL_PYTHON:-/usr/bin/python3}

# Key ids in use (docs/architecture.md "Key material"; `mallctl
# rotate-keys` writes them): $MALL_KEYS_DIR/keyring has one line per kind,
# "jwt|sign|edge ID[@UNTIL]...", the current (signing) id first, older ones
# accepted until UNTIL (unix s; mallctl drops them after). No keyring: the
# ids mall-keys.sh makes, k1, s1 and e1.
mall_key_ids() {   # mall_key_ids KIND DEFAULT
    _ids=""
    [ -f "$MALL_KEYS_DIR/keyring" ] &&
        _ids=$(sed -n "s/^$1[[:space:]]//p" "$MALL_KEYS_DIR/keyring" | head -n 1 |
               sed 's/@[0-9]*//g')
    printf '%s' "${_ids:-$2}"
}

# The key directives of both configs from the keyring, for mall_render:
# MALL_{AUTH_KEYS,SIGN_SECRETS,EDGE_KEYS}_CONF (nginx, on one line) and
# MALL_WORKER_{JWT_KEYS,SIGN_SECRETS,EDGE_KEYS}_CONF (one per line).
mall_key_conf_vars() {
    _k=$MALL_KEYS_DIR
    MALL_AUTH_KEYS_CONF="" MALL_WORKER_JWT_KEYS_CONF="" _first=""
    for _id in $(mall_key_ids jwt k1); do
        MALL_AUTH_KEYS_CONF="$MALL_AUTH_KEYS_CONF mall_auth_key $_id ES256 $_k/jwt-$_id.pub.pem;"
        MALL_WORKER_JWT_KEYS_CONF="${MALL_WORKER_JWT_KEYS_CONF}jwt_key $_id $_k/jwt-$_id.pem
"
        : "${_first:=$_id}"
    done
    MALL_WORKER_JWT_KEYS_CONF="${MALL_WORKER_JWT_KEYS_CONF}jwt_sign_kid $_first"
    MALL_SIGN_SECRETS_CONF="" MALL_WORKER_SIGN_SECRETS_CONF=""
    for _id in $(mall_key_ids sign s1); do
        MALL_SIGN_SECRETS_CONF="$MALL_SIGN_SECRETS_CONF mall_sign_secret $_id $_k/sign-$_id.key;"
        MALL_WORKER_SIGN_SECRETS_CONF="${MALL_WORKER_SIGN_SECRETS_CONF:+$MALL_WORKER_SIGN_SECRETS_CONF
}sign_secret $_id $_k/sign-$_id.key"
    done
    MALL_EDGE_KEYS_CONF="" MALL_WORKER_EDGE_KEYS_CONF=""
    for _id in $(mall_key_ids edge e1); do
        MALL_EDGE_KEYS_CONF="$MALL_EDGE_KEYS_CONF mall_edge_key $_id $_k/edge-$_id.key;"
        MALL_WORKER_EDGE_KEYS_CONF="${MALL_WORKER_EDGE_KEYS_CONF:+$MALL_WORKER_EDGE_KEYS_CONF
}edge_key $_id $_k/edge-$_id.key"
    done
}

# render TEMPLATE OUTPUT: replace every @@NAME@@ with the value of $NAME
# (a value of several lines becomes several lines). An unknown placeholder
# is an error, so a typo never reaches nginx.
mall_render() {
    _tmpl=$1 _out=$2
    mall_key_conf_vars
    _names=$(grep -o '@@[A-Z0-9_]*@@' "$_tmpl" | sort -u | tr -d @)
    _script=""
    for _n in $_names; do
        eval "_v=\${$_n-__unset__}"
        if [ "$_v" = "__unset__" ]; then
            echo "mall_render: $_tmpl uses @@$_n@@ but \$$_n is not set" >&2
            return 1
        fi
        _v=$(printf '%s' "$_v" | sed 's/[|&\\]/\\&/g; $!s/$/\\/')
        _script="$_script s|@@$_n@@|$_v|g;"
    done
    sed "$_script" "$_tmpl" >"$_out.tmp" && mv "$_out.tmp" "$_out"
}

# Render every template of the stack into MALL_RUN_DIR and create its dirs.
mall_render_all() {
    mkdir -p "$MALL_RUN_DIR/logs" "$MALL_RUN_DIR/redis" "$MALL_RUN_DIR/tmp" \
        "$MALL_RUN_DIR/conf.d"
    mall_render "$MALL_ROOT/conf/nginx.conf.tmpl" "$MALL_RUN_DIR/nginx.conf" &&
    mall_render "$MALL_ROOT/conf/mall-worker.conf.tmpl" \
        "$MALL_RUN_DIR/mall-worker.conf" &&
    mall_render "$MALL_ROOT/conf/redis.conf.tmpl" "$MALL_RUN_DIR/redis.conf" &&
    cp "$MALL_ROOT"/conf/mall-errors.conf "$MALL_RUN_DIR/mall-errors.conf"
}
