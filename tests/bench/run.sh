#!/usr/bin/env bash
# Mall Edge benchmark harness: interleaved A/B runs, ratios to baselines.
#
#   tests/bench/run.sh [options] [case...]      (./build.sh bench [...] too)
#
#   --quick               R=2 rounds of D=2 s (a smoke run, noisy)
#   --rounds N            rounds per pair (BENCH_ROUNDS, default 5)
#   --duration S          seconds per measured run (BENCH_DURATION, 5)
#   --warmup S            seconds of warm-up per case (BENCH_WARMUP, 2)
#   --conns N             client connections (BENCH_CONNS, 64)
#   --with-modsecurity    add the ModSecurity + CRS cases (installs the
#                         Debian packages when missing)
#   --list                list the cases and exit
#
#   tests/bench/run.sh [--with-modsecurity] waf_compare [TSV...]
#                         no benchmark: detection and false-positive rates
#                         of the mall WAF (default rules) and ModSecurity +
#                         CRS PL1 on tests/waf/cases/*.tsv, each case sent
#                         as a real request (tests/waf/compare.py) to two
#                         nginx on 127.0.0.1:18600/18601 (BENCH_COMPARE_PORT)
#
# Without case names it runs every defined case (ModSecurity ones only with
# --with-modsecurity). See tests/bench/README.md for how to read the table.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${MALL_BUILD_DIR:-$ROOT/build}
OUT=$BUILD/bench
RUN=$OUT/run
KEYS=$OUT/keys
DATA=$HERE/data
LOAD=$BUILD/bin/mall-load
NGINX=${MALL_NGINX:-/usr/sbin/nginx}
PY=/usr/bin/python3
MALL_MODULE=$BUILD/modules/ngx_http_mall_module.so
MODSEC_MODULE=/usr/lib/nginx/modules/ngx_http_modsecurity_module.so
MODSEC_PACKAGES=(libnginx-mod-http-modsecurity modsecurity-crs)

# Bench-only ports, loopback only (docs/architecture.md).
ADDR=127.0.0.1
PORT_EDGE=28080         # every measured server (name-based virtual hosts)
PORT_ADMIN=28081        # reserved: module metrics / shm stats
PORT_ORIGIN=28082       # the origin behind proxy_cache
PORT_WORKER=29101
PORT_WORKER_WAIT=29102  # mall-worker with redis_wait_replicas 1 (order_create_wait)
PORT_REDIS=26391
PORT_REPLICA=26392      # a replica of the bench Redis (order_create_wait)
PORT_SIM=29900          # reserved: WeChat simulator (order cases)

CORE_SERVER=0           # nginx worker (and Redis)
CORE_LOAD=1             # mall-load, redis-benchmark

ROUNDS=${BENCH_ROUNDS:-5}
DURATION=${BENCH_DURATION:-5}
WARMUP=${BENCH_WARMUP:-2}
CONNS=${BENCH_CONNS:-64}
WITH_MODSEC=0

GET_PATH='/api/v1/products?category=12&brand=3&sort=sales&page=1&size=20'
POST_PATH='/api/v1/orders'
COMMON_HEADERS=(-H 'User-Agent: mall-bench/1.0' -H 'Accept: application/json')

log() { printf '\033[1m[bench]\033[0m %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }


# =========================================================================
# Cases. One function per case sets:
#   C_DESC    one line for --list
#   C_KIND    http (mall-load against nginx) | redis (redis-benchmark)
#   C_BASE    name of its baseline case ("" = none: a reference itself)
#   C_TARGET  minimum ratio to the baseline from MISSION.md ("" = report only)
#   C_NEEDS   any of: module modsec redis worker
#   C_SNIPS   http-level snippets it needs (snip_<name> functions below)
#   C_SERVER  the body of its server block (server_name <case>.bench)
#   C_REQ     mall-load arguments (path, method, body, auth ...)
#   C_CHECK   optional "Header: value" that a warmed-up response must carry
#   C_STATUS  the status every response must have (default 200)
#   C_CONNS   client connections of this case (default --conns)
#   C_SETUP   optional function run once, after the stack is up
#   C_REDIS   redis-benchmark arguments (kind redis)
# =========================================================================

case_reset() {
    C_DESC="" C_KIND=http C_BASE="" C_TARGET="" C_NEEDS="" C_SNIPS=""
    C_SERVER="" C_CHECK="" C_REQ=() C_REDIS=() C_STATUS=200 C_SETUP=""
    C_CONNS=$CONNS
}

# The same body everywhere: a ~1 KB product-list page.
body_conf() { printf "'%s'" "$(cat "$DATA/catalog.json")"; }

# `return` runs in the REWRITE phase, before PREACCESS/ACCESS, so a
# location answering with `return` never runs auth, signature or WAF
# handlers. Cases that measure such a handler answer after every phase:
# try_files (PRECONTENT) falls through to a named location that returns
# the body. Their baselines use the very same construct with the feature
# off, so the ratio isolates the feature.
late_return() {   # late_return DIRECTIVES...
    cat <<EOF
        root $RUN/www;
        location / {
            $*
            try_files /.bench-no-such-file @body;
        }
        location @body {
            return 200 $(body_conf);
        }
EOF
}

get_req()  { C_REQ=(-u "$GET_PATH" "${COMMON_HEADERS[@]}"); }
post_req() {
    C_REQ=(-m POST -u "$POST_PATH" -b "$DATA/order-1k.json"
           -H 'Content-Type: application/json' "${COMMON_HEADERS[@]}")
}

# ---- references: stock nginx ------------------------------------------

case_bare() {
    C_DESC="stock nginx: return 200 of the body (the reference)"
    C_SERVER="location / { return 200 $(body_conf); }"
    get_req
}

case_static() {
    C_DESC="stock nginx: the same body as a static file"
    C_BASE=bare
    C_SERVER="location = ${GET_PATH%%\?*} { alias $RUN/www/catalog.json; }"
    get_req
}

case_limit_req() {
    C_DESC="stock nginx limit_req (high rate, never rejects) + return 200"
    C_BASE=bare
    C_SNIPS="limit_req"
    C_SERVER="location / { limit_req zone=bench_lr burst=100000 nodelay;
        return 200 $(body_conf); }"
    get_req
}

# limit_req above answers with "return" (REWRITE phase), so limit_req never
# runs there; this one puts it on a location that goes through PREACCESS.
case_limit_req_content() {
    C_DESC="stock nginx limit_req (never rejects), body after all phases"
    C_BASE=bare_content
    C_SNIPS="limit_req"
    C_SERVER=$(late_return "limit_req zone=bench_lr burst=100000 nodelay;")
    get_req
}

case_proxy_cache_hit() {
    C_DESC="stock nginx proxy_cache hit (origin warmed once)"
    C_BASE=bare
    C_SNIPS="proxy_cache origin"
    C_SERVER="location / {
        proxy_pass http://$ADDR:$PORT_ORIGIN;
        proxy_http_version 1.1;
        proxy_set_header Connection \"\";
        proxy_cache bench_pc;
        proxy_cache_valid 200 1h;
        add_header X-Cache \$upstream_cache_status;
    }"
    C_CHECK="X-Cache: HIT"
    get_req
}

case_bare_content() {
    C_DESC="stock nginx: the body returned after all phases (try_files)"
    C_BASE=bare
    C_SERVER=$(late_return)
    get_req
}

case_bare_post_1k() {
    C_DESC="stock nginx: 1 KB JSON POST, body answered after all phases"
    C_SERVER=$(late_return "client_body_buffer_size 64k;")
    post_req
}

# ---- module: rate limits ------------------------------------------------

case_mall_limit() {
    C_DESC="mall_limit per IP (never rejects) where limit_req_content limits"
    C_BASE=limit_req_content
    C_TARGET=1.00
    C_NEEDS="module"
    C_SNIPS="mall_limit"
    C_SERVER=$(late_return "mall_limit zone=bench_ml key=\$binary_remote_addr
            rate=1000000r/s burst=100000 name=ip;")
    C_CHECK='RateLimit-Policy: "ip";q=1000000;w=1'
    get_req
}

# The same limit without the RateLimit response fields, which limit_req does
# not send: the like-for-like cost of limiting (mall_limit_headers off).
case_mall_limit_quiet() {
    C_DESC="mall_limit per IP, mall_limit_headers off, where limit_req_content limits"
    C_BASE=limit_req_content
    C_TARGET=1.00
    C_NEEDS="module"
    C_SNIPS="mall_limit"
    C_SERVER=$(late_return "mall_limit_headers off;
            mall_limit zone=bench_ml key=\$binary_remote_addr
            rate=1000000r/s burst=100000 name=ip;")
    get_req
}

# ---- module: catalog cache -----------------------------------------------

# A mall_cache hit: the origin (the same body, no Cache-Control, so
# mall_cache_valid applies) is asked once, then the entry is served from
# shm in PRECONTENT. No Accept-Encoding: the plain copy, as static sends.
cache_location() {   # cache_location EXTRA-DIRECTIVES...
    cat <<EOF
        location / {
            $*
            mall_cache zone=bench_mc;
            mall_cache_valid 1h;
            proxy_pass http://$ADDR:$PORT_ORIGIN;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
EOF
}

case_cache_hit() {
    C_DESC="mall_cache hit from shm vs nginx proxy_cache hit"
    C_BASE=proxy_cache_hit
    C_TARGET=1.30
    C_NEEDS="module"
    C_SNIPS="mall_cache origin"
    C_SERVER=$(cache_location)
    C_CHECK="X-Mall-Cache: HIT"
    get_req
}

case_cache_hit_static() {
    C_DESC="the same mall_cache hit vs the body as a static file"
    C_BASE=static
    C_TARGET=0.80
    C_NEEDS="module"
    C_SNIPS="mall_cache origin"
    C_SERVER=$(cache_location)
    C_CHECK="X-Mall-Cache: HIT"
    get_req
}

# Revalidated hit: the origin marks the body no-cache (a static file, so
# nginx answers If-None-Match / If-Modified-Since with 304), so every request
# is a conditional request to the origin answered 304 and the stored body is
# sent. Both sides reach the origin over the same keepalive pool. proxy_cache
# cannot be told "revalidate on every use" by Cache-Control (no-cache makes
# it not store at all), so its side ignores Cache-Control and gets an
# X-Accel-Expires at epoch second 1: stored, always expired, revalidated
# with proxy_cache_revalidate on each request (X-Cache: REVALIDATED).
reval_location() {   # reval_location CACHE-DIRECTIVES...
    cat <<EOF
        location / {
            $*
            proxy_pass http://bench_origin_pool/reval/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
EOF
}

case_proxy_cache_revalidated() {
    C_DESC="stock nginx proxy_cache, entry always expired, proxy_cache_revalidate on (origin 304)"
    C_SNIPS="proxy_cache origin origin_pool"
    C_SERVER=$(reval_location "proxy_cache bench_pc;
            proxy_cache_key \$host\$request_uri;
            proxy_cache_revalidate on;
            proxy_ignore_headers Cache-Control Expires;
            add_header X-Cache \$upstream_cache_status;")
    C_CHECK="X-Cache: REVALIDATED"
    get_req
}

case_cache_revalidated() {
    C_DESC="mall_cache hit revalidated per request (no-cache, origin 304) vs proxy_cache_revalidate"
    C_BASE=proxy_cache_revalidated
    C_NEEDS="module"
    C_SNIPS="mall_cache origin origin_pool"
    C_SERVER=$(reval_location "mall_cache zone=bench_mc;
            mall_cache_key \$host\$request_uri;")
    C_CHECK="X-Mall-Cache: REVALIDATED"
    get_req
}

# Client 304: the client sends the ETag of a fresh entry in If-None-Match;
# the cache answers 304 without a body. These four cases key their entries
# by Host (<case>.bench) so they never share one with cache_hit /
# proxy_cache_hit, which store the same URI from another origin location. The origin's body carries
# ETag "bench-1" and max-age=3600 (origin location /fresh-etag/).
etag_location() {   # etag_location CACHE-DIRECTIVES...
    cat <<EOF
        location / {
            $*
            proxy_pass http://$ADDR:$PORT_ORIGIN/fresh-etag/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
EOF
}

etag_req() {
    get_req
    C_REQ+=(-H 'If-None-Match: "bench-1"')
}

case_proxy_cache_client_304() {
    C_DESC="stock nginx proxy_cache hit answering a matching If-None-Match with 304"
    C_SNIPS="proxy_cache origin"
    C_SERVER=$(etag_location "proxy_cache bench_pc;
            proxy_cache_key \$host\$request_uri;
            add_header X-Cache \$upstream_cache_status;")
    C_CHECK="X-Cache: HIT"
    C_STATUS=304
    etag_req
}

case_cache_client_304() {
    C_DESC="mall_cache: fresh entry, client If-None-Match matches: 304 from shm"
    C_BASE=proxy_cache_client_304
    C_NEEDS="module"
    C_SNIPS="mall_cache origin"
    C_SERVER=$(etag_location "mall_cache zone=bench_mc;
            mall_cache_key \$host\$request_uri;")
    C_STATUS=304
    etag_req
}

case_pipeline_get() {
    C_DESC="catalog GET: mall_auth optional + mall_limit + cache hit vs static"
    C_BASE=static
    C_TARGET=0.85
    C_NEEDS="module redis"
    C_SNIPS="mall mall_limit mall_cache origin"
    C_SERVER=$(cache_location "mall_auth optional;
            mall_limit zone=bench_ml key=\$binary_remote_addr
                       rate=1000000r/s burst=100000 name=ip;")
    C_CHECK="X-Mall-Cache: HIT"
    get_req
}

# ---- module: token and signature --------------------------------------

case_auth_off() {
    C_DESC="module loaded, mall_auth off (baseline of auth_get)"
    C_NEEDS="module redis"
    C_SNIPS="mall"
    C_SERVER=$(late_return "mall_auth off;")
    get_req
}

case_auth_get() {
    C_DESC="mall_auth required, valid ES256 token (returning user)"
    C_BASE=auth_off
    C_TARGET=0.90
    C_NEEDS="module redis"
    C_SNIPS="mall"
    C_SERVER=$(late_return "mall_auth required;")
    get_req
    C_REQ+=(--token "$TOKEN")
}

case_unsigned_post_1k() {
    C_DESC="module loaded, mall_auth + mall_sign off, 1 KB JSON POST"
    C_NEEDS="module redis"
    C_SNIPS="mall"
    C_SERVER=$(late_return "mall_auth off; mall_sign off;
            client_body_buffer_size 64k;")
    post_req
}

# The baseline of the signature: the very same signed request (token and
# X-Mall-* headers on the wire) to the same location with the token checked
# and only the signature off. Against unsigned_post_1k the ratio would also
# charge the token check (auth_get's target) and ~600 more request bytes.
case_auth_post_1k() {
    C_DESC="mall_auth required, mall_sign off, the signed 1 KB JSON POST"
    C_NEEDS="module redis"
    C_SNIPS="mall"
    C_SERVER=$(late_return "mall_auth required; mall_sign off;
            client_body_buffer_size 64k;")
    post_req
    C_REQ+=(--token "$TOKEN" --sign --sign-key "$SIGN_KEY")
}

case_signed_post_1k() {
    C_DESC="mall_auth + mall_sign required, signed 1 KB JSON POST"
    C_BASE=auth_post_1k
    C_TARGET=0.90
    C_NEEDS="module redis"
    C_SNIPS="mall"
    C_SERVER=$(late_return "mall_auth required; mall_sign required;
            client_body_buffer_size 64k;")
    post_req
    C_REQ+=(--token "$TOKEN" --sign --sign-key "$SIGN_KEY")
}

# The same pair on a location that proxies the POST, as the shipped /api/v1/
# does: both arms read and forward the body (the signed arm reads it anyway
# to hash it). The origin is a server of the same pinned nginx worker, so both
# arms also carry its cost: read this ratio beside signed_post_1k's, not
# instead of it.
proxy_post_location() {   # proxy_post_location EXTRA-DIRECTIVES...
    cat <<EOF
        location / {
            $*
            client_body_buffer_size 64k;
            proxy_pass http://bench_origin_pool;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
EOF
}

case_auth_post_proxy() {
    C_DESC="mall_auth required, mall_sign off, signed 1 KB POST proxied"
    C_NEEDS="module redis"
    C_SNIPS="mall origin origin_pool"
    C_SERVER=$(proxy_post_location "mall_auth required; mall_sign off;")
    post_req
    C_REQ+=(--token "$TOKEN" --sign --sign-key "$SIGN_KEY")
}

case_signed_post_proxy() {
    C_DESC="mall_auth + mall_sign required, signed 1 KB POST proxied"
    C_BASE=auth_post_proxy
    C_TARGET=0.90
    C_NEEDS="module redis"
    C_SNIPS="mall origin origin_pool"
    C_SERVER=$(proxy_post_location "mall_auth required; mall_sign required;")
    post_req
    C_REQ+=(--token "$TOKEN" --sign --sign-key "$SIGN_KEY")
}

# ---- ModSecurity v3 + OWASP CRS (PL1): the WAF reference -----------------

case_modsec_get() {
    C_DESC="ModSecurity v3 + CRS PL1 on a GET with query args"
    C_BASE=bare_content
    C_NEEDS="modsec"
    C_SERVER=$(late_return "modsecurity on;
            modsecurity_rules_file $RUN/modsec/main.conf;")
    get_req
}

case_modsec_post_1k() {
    C_DESC="ModSecurity v3 + CRS PL1 on a 1 KB JSON POST"
    C_BASE=bare_post_1k
    C_NEEDS="modsec"
    C_SERVER=$(late_return "modsecurity on;
            modsecurity_rules_file $RUN/modsec/main.conf;
            client_body_buffer_size 64k;")
    post_req
}

# ---- mall WAF (default rules, conf/waf/*.rules) ---------------------------
# Each pair is the same location with mall_waf on and off, so the ratio is
# the WAF's own cost (URI, args, headers and, on the POST, the JSON body read
# and walked); the waf_vs_modsec pairs put the same request beside
# ModSecurity + CRS PL1 (--with-modsecurity).

case_waf_off_get() {
    C_DESC="module loaded, mall_waf off, GET with query args"
    C_NEEDS="module"
    C_SNIPS="waf"
    C_SERVER=$(late_return "mall_waf off;")
    get_req
}

case_waf_get() {
    C_DESC="mall WAF default rules, GET with query args"
    C_BASE=waf_off_get
    C_TARGET=0.85
    C_NEEDS="module"
    C_SNIPS="waf"
    C_SERVER=$(late_return "mall_waf on;")
    get_req
}

case_waf_off_post_1k() {
    C_DESC="module loaded, mall_waf off, 1 KB JSON POST"
    C_NEEDS="module"
    C_SNIPS="waf"
    C_SERVER=$(late_return "mall_waf off; client_body_buffer_size 64k;")
    post_req
}

case_waf_post_1k() {
    C_DESC="mall WAF default rules, 1 KB JSON POST (body read and walked)"
    C_BASE=waf_off_post_1k
    C_TARGET=0.60
    C_NEEDS="module"
    C_SNIPS="waf"
    C_SERVER=$(late_return "mall_waf on; client_body_buffer_size 64k;")
    post_req
}

case_waf_vs_modsec_get() {
    C_DESC="mall WAF vs ModSecurity + CRS PL1 on the same GET"
    C_BASE=modsec_get
    C_TARGET=3.00
    C_NEEDS="module modsec"
    C_SNIPS="waf"
    C_SERVER=$(late_return "mall_waf on;")
    get_req
}

case_waf_vs_modsec_post_1k() {
    C_DESC="mall WAF vs ModSecurity + CRS PL1 on the same 1 KB JSON POST"
    C_BASE=modsec_post_1k
    C_TARGET=3.00
    C_NEEDS="module modsec"
    C_SNIPS="waf"
    C_SERVER=$(late_return "mall_waf on; client_body_buffer_size 64k;")
    post_req
}

# ---- Redis ceiling and the workers --------------------------------------

case_redis_incr() {
    C_DESC="redis-benchmark INCR on the bench Redis (the physical ceiling)"
    C_KIND=redis
    C_NEEDS="redis"
    C_REDIS=(-t incr)
}

case_redis_decrby() {
    C_DESC="redis-benchmark DECRBY (the stock-decrement primitive)"
    C_KIND=redis
    C_NEEDS="redis"
    C_BASE=redis_incr
    C_REDIS=(DECRBY bench:stock 1)
}

case_worker_products() {
    C_DESC="GET /api/v1/products through the edge to mall-worker + Redis"
    C_BASE=redis_incr
    C_TARGET=0.30
    C_NEEDS="module redis worker"
    C_SNIPS="mall edge_proxy"
    C_SERVER="location / { mall_auth optional; proxy_pass http://bench_workers; }"
    C_REQ=(-u '/api/v1/products?sort=sales&page=1&size=20' "${COMMON_HEADERS[@]}")
}

# Orders: what a shopper's checkout costs end to end. The edge checks the
# token and the signature and signs what it forwards; the worker prices the
# order and writes stock, order, hold and idempotency key in one MULTI/EXEC
# after one read pipeline (docs/orders.md): two Redis round trips and one
# fsync'd transaction per order (Redis runs with AOF `appendfsync always`
# as shipped, so redis_incr, its baseline, is measured the same way). Every
# request has a new Idempotency-Key: each is a new order of one unit, and
# after the run the stock lost must equal the orders made (oversell check).
case_order_create() {
    C_DESC="signed POST /api/v1/orders through the edge to mall-worker + Redis"
    C_BASE=redis_incr
    C_TARGET=0.30
    C_NEEDS="module redis worker"
    C_SNIPS="mall edge_proxy"
    C_SERVER="location / { mall_auth required; mall_sign required;
            client_body_buffer_size 64k; proxy_pass http://bench_workers; }"
    C_STATUS=201
    C_SETUP=setup_orders
    C_REQ=(-m POST -u /api/v1/orders -b "$RUN/order.json"
           -H 'Content-Type: application/json' "${COMMON_HEADERS[@]}"
           --token "$TOKEN" --sign --sign-key "$SIGN_KEY"
           --unique-header Idempotency-Key)
}

# The same order, one at a time (one connection): the service latency of
# an order (p50/p99), not a throughput.
case_order_create_c1() {
    case_order_create
    C_DESC="order_create over one connection: latency of one order at a time"
    C_BASE="" C_TARGET="" C_CONNS=1
}

# The same order, acknowledged only once a replica has it (WAIT 1, as the
# HA layout of conf/ha/ ships): a second mall-worker with
# redis_wait_replicas 1 behind the same edge, the bench Redis with one
# replica (conf/ha/redis-replica.conf.tmpl, on the server core too). The
# replica is attached for the whole run, so order_create pays for the
# replication stream as well: the ratio is the cost of WAIT itself. The
# WAIT timeout is 800 ms here (200 ms shipped): a replica sharing the
# saturated core can fall that far behind, and the case counts answers.
case_order_create_wait() {
    case_order_create
    C_DESC="order_create acknowledged after WAIT 1 (one replica)"
    C_BASE=order_create C_TARGET=""
    C_NEEDS="module redis replica worker"
    C_SNIPS="mall edge_proxy edge_proxy_wait"
    C_SERVER="location / { mall_auth required; mall_sign required;
            client_body_buffer_size 64k; proxy_pass http://bench_workers_wait; }"
}

setup_orders() {
    [ -s "$RUN/order-state.json" ] && return 0      # both order cases
    "$PY" "$HERE/order-setup.py" setup "$PORT_EDGE" order_create.bench \
        "$PORT_REDIS" "$TOKEN" "$SIGN_KEY" "$RUN/order-state.json" "$RUN/order.json"
}

# WeChat Pay notifications through the edge (no token: WeChat's own
# signature), each an RSA-2048 verify, an AES-256-GCM decrypt and a state
# change unpaid -> paid of its own order (notify-setup.py signs one per
# order ahead of the run; runs resume the list where the last one stopped,
# and "list_repeats" in the samples counts any that had to go twice).
# Reported as notifications per second: there is no baseline to compare.
case_pay_notify() {
    C_DESC="WeChat Pay notifications through the edge: RSA verify + AES-GCM decrypt + unpaid->paid each"
    C_NEEDS="module redis worker"
    C_SNIPS="mall edge_proxy"
    C_SERVER="location = /api/v1/payments/wechat/notify { mall_auth off;
            mall_sign off; proxy_pass http://bench_workers; }"
    C_STATUS=204
    C_SETUP=setup_notify
    C_REQ=(--request-list "$RUN/notify.list" --list-state "$RUN/notify.state")
}

setup_notify() {   # one order per notification the case can send
    local n=${BENCH_NOTIFY_COUNT:-$(( (ROUNDS * DURATION + WARMUP + 2) * 7000 ))}
    "$PY" "$HERE/notify-setup.py" "$PORT_REDIS" "$KEYS/wechat" "$n" \
        pay_notify.bench "$RUN/notify.list"
}

# ---- anti-fraud: GeoIP + lists + velocity ------------------------------
# The same location with mall_fraud on and off, the client at a real
# address (X-Forwarded-For 8.8.8.8 from the trusted loopback: a GeoIP
# lookup that finds US) with a device fingerprint: on, each GET looks up
# the allow and block lists (10k addresses and CIDRs of three lengths), the
# country deny list and the device block list, and counts the device in
# the velocity zone. Thresholds are set out of reach so that every request
# is allowed and none is audited: the ratio is the checks' own cost.

fraud_server() {   # fraud_server DIRECTIVES...
    printf '        set_real_ip_from %s;\n        real_ip_header X-Forwarded-For;\n' "$ADDR"
    late_return "$@"
}

fraud_req() {
    C_REQ=(-u "$GET_PATH" "${COMMON_HEADERS[@]}"
           -H 'X-Forwarded-For: 8.8.8.8' -H 'X-Mall-Device: bench-device-1')
}

case_fraud_off_get() {
    C_DESC="module loaded, GeoIP db mapped, mall_fraud off, GET"
    C_NEEDS="module"
    C_SNIPS="fraud"
    C_SERVER=$(fraud_server "mall_fraud off;")
    fraud_req
}

case_fraud_get() {
    C_DESC="anti-fraud (GeoIP + country deny + IP/CIDR/device lists + velocity) on a GET"
    C_BASE=fraud_off_get
    C_TARGET=0.95
    C_NEEDS="module"
    C_SNIPS="fraud"
    C_SERVER=$(fraud_server "mall_fraud on; mall_country_deny KP;" \
        "mall_fraud_velocity window=60s device_users=7 user_devices=7" \
        "device_rate=2000000000;" \
        "mall_risk_action tag=1000 challenge=0 block=0;")
    fraud_req
}

# ---- slots for the capabilities still to come ---------------------------
# Each capability adds its case function above (same shape) and removes its
# line here. name | baseline | target | what
PLANNED=(
    "edge_pipeline|static|0.85|guards + auth optional + limits + WAF + geo + cache hit on a catalog GET"
)

DEFINED=(bare static limit_req limit_req_content proxy_cache_hit bare_content
         bare_post_1k mall_limit mall_limit_quiet cache_hit cache_hit_static pipeline_get
         proxy_cache_revalidated cache_revalidated proxy_cache_client_304 cache_client_304
         auth_off auth_get unsigned_post_1k auth_post_1k signed_post_1k
         auth_post_proxy signed_post_proxy
         modsec_get modsec_post_1k redis_incr redis_decrby worker_products
         order_create order_create_c1 order_create_wait pay_notify
         waf_off_get waf_get waf_off_post_1k waf_post_1k
         waf_vs_modsec_get waf_vs_modsec_post_1k
         fraud_off_get fraud_get)


# =========================================================================
# http-level snippets (each included once however many cases use it)
# =========================================================================

snip_limit_req() {
    echo "limit_req_zone \$binary_remote_addr zone=bench_lr:10m rate=1000000r/s;"
}

snip_mall_limit() {
    echo "mall_limit_zone name=bench_ml:10m;"
}

snip_mall_cache() {
    echo "mall_cache_zone name=bench_mc:16m max_entry=256k;"
}

snip_proxy_cache() {
    echo "proxy_cache_path $RUN/cache levels=1:2 keys_zone=bench_pc:12m" \
         "max_size=64m inactive=1h use_temp_path=off;"
}

# /reval/: the body as a static file (ETag, Last-Modified, 304 on a
# matching conditional) that must be revalidated on every use;
# /fresh-etag/: the body, fresh for an hour, with a fixed ETag.
snip_origin() {
    cat <<EOF
server {
    listen $ADDR:$PORT_ORIGIN;
    location / { return 200 $(body_conf); }
    location /reval/ {
        root $RUN/www;
        rewrite ^ /catalog.json break;
        add_header Cache-Control no-cache;
        add_header X-Accel-Expires @1;
    }
    location /fresh-etag/ {
        add_header ETag '"bench-1"';
        add_header Cache-Control max-age=3600;
        return 200 $(body_conf);
    }
}
EOF
}

# Keepalive connections to the origin, as the edge keeps them to the workers.
snip_origin_pool() {
    echo "upstream bench_origin_pool { server $ADDR:$PORT_ORIGIN; keepalive 64; }"
}

snip_mall() {
    cat <<EOF
mall_redis $ADDR:$PORT_REDIS;
mall_auth_zone bench_tokens:16m;
mall_auth_key k1 ES256 $KEYS/jwt-k1.pub.pem;
mall_auth_issuer mall-edge;
mall_auth_audience mall-mini;
mall_sign_secret s1 $KEYS/sign-s1.key;
mall_sign_zone bench_nonces:48m per_user=off;
mall_edge_key e1 $KEYS/edge-e1.key;
EOF
}

snip_waf() {
    cat <<EOF
mall_waf_rules $ROOT/conf/waf/*.rules;
mall_waf_body_limit 64k;
EOF
}

# GeoIP database, fraud zones and a 10k-entry block list (written here).
snip_fraud() {
    "$PY" - "$RUN/bench-block.list" <<'PYLIST'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(10000):
        a, b, c = 11 + i // 4000, (i // 16) % 250, i % 16
        if i % 3 == 0:
            f.write("%d.%d.%d.0/24\n" % (a, b, c))
        elif i % 3 == 1:
            f.write("%d.%d.%d.%d\n" % (a, b, c, 1 + i % 200))
        else:
            f.write("%d.%d.0.0/16\n" % (a + 100, b))
PYLIST
    cat <<EOF
mall_geoip $BUILD/geoip/geo-whois-asn-country.mmdb country_code;
mall_fraud_zone lists=bench_fl:16m velocity=bench_fv:16m;
mall_fraud_list block $RUN/bench-block.list;
EOF
}

snip_edge_proxy_wait() {
    cat <<EOF
upstream bench_workers_wait {
    server $ADDR:$PORT_WORKER_WAIT max_fails=0;
    keepalive 64;
}
EOF
}

snip_edge_proxy() {
    cat <<EOF
upstream bench_workers {
    server $ADDR:$PORT_WORKER max_fails=0;
    keepalive 64;
}
proxy_http_version 1.1;
proxy_set_header Connection "";
proxy_set_header Host \$host;
proxy_set_header X-Request-Id \$request_id;
proxy_set_header X-Mall-Client-Ip \$remote_addr;
proxy_set_header X-Mall-User \$mall_user_id;
proxy_set_header X-Mall-Role \$mall_user_role;
proxy_set_header X-Mall-Token-Id \$mall_token_id;
proxy_set_header X-Mall-Token-Exp \$mall_token_exp;
proxy_set_header X-Mall-Edge-Ts \$mall_edge_ts;
proxy_set_header X-Mall-Edge-Kid \$mall_edge_kid;
proxy_set_header X-Mall-Edge-Signature \$mall_edge_signature;
proxy_set_header Authorization "";
proxy_set_header X-Mall-Timestamp "";
proxy_set_header X-Mall-Nonce "";
proxy_set_header X-Mall-Signature "";
proxy_set_header X-Mall-Sign-Version "";
EOF
}


# ModSecurity v3 + OWASP CRS: the Debian packages (installed when missing),
# and $RUN/modsec/main.conf: the shipped recommended config with the engine
# on (blocking), then CRS as packaged (crs-setup.conf: anomaly scoring,
# paranoia level 1, inbound threshold 5). Used by the modsec_* cases and by
# waf_compare.
ensure_modsec() {
    local missing=() p
    for p in "${MODSEC_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' \
            || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        log "installing ${missing[*]} (ModSecurity reference)"
        local sudo=""
        [ "$(id -u)" -ne 0 ] && sudo=sudo
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
            --no-install-recommends "${missing[@]}" >/dev/null || return 1
    fi
    [ -f "$MODSEC_MODULE" ] && [ -f /usr/share/modsecurity-crs/owasp-crs.load ]
}

# Our ModSecurity config: Debian's recommended one with the engine on (it
# ships DetectionOnly), no audit log (our servers log nothing either), then
# CRS at its default paranoia level 1.
write_modsec_conf() {
    local src=/etc/nginx/modsecurity.conf
    [ -f "$src" ] || src=/usr/share/nginx/docs/modsecurity/modsecurity.conf
    sed -e 's/^SecRuleEngine .*/SecRuleEngine On/' \
        -e 's/^SecAuditEngine .*/SecAuditEngine Off/' \
        -e "s|^SecAuditLog .*|SecAuditLog $RUN/logs/modsec_audit.log|" \
        -e "s|^SecTmpDir .*|SecTmpDir $RUN/tmp/|" \
        -e "s|^SecDataDir .*|SecDataDir $RUN/tmp/|" \
        -e 's|^SecUnicodeMapFile .*|SecUnicodeMapFile /etc/nginx/unicode.mapping 20127|' \
        -e 's/^SecStatusEngine .*/SecStatusEngine Off/' \
        "$src" >"$RUN/modsec/main.conf"
    # owasp-crs.load uses IncludeOptional, which ModSecurity v3 lacks.
    {
        echo "Include /etc/modsecurity/crs/crs-setup.conf"
        [ -f /etc/modsecurity/crs/REQUEST-900-EXCLUSION-RULES-BEFORE-CRS.conf ] \
            && echo "Include /etc/modsecurity/crs/REQUEST-900-EXCLUSION-RULES-BEFORE-CRS.conf"
        echo "Include /usr/share/modsecurity-crs/rules/*.conf"
        [ -f /etc/modsecurity/crs/RESPONSE-999-EXCLUSION-RULES-AFTER-CRS.conf ] \
            && echo "Include /etc/modsecurity/crs/RESPONSE-999-EXCLUSION-RULES-AFTER-CRS.conf"
    } >>"$RUN/modsec/main.conf"
}

# =========================================================================
# Process management: everything we start is recorded and stopped by PID.
# =========================================================================

PIDS=()             # "name:pid"
NGINX_PID="" REDIS_PID="" WORKER_PID=""
LOCK_FD=""

cleanup() {
    local rc=$? entry name pid i
    trap - EXIT INT TERM
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        entry=${PIDS[i]} name=${entry%%:*} pid=${entry##*:}
        kill -0 "$pid" 2>/dev/null || continue
        # nginx: QUIT is graceful; others: TERM. Then KILL after 5 s.
        if [ "$name" = nginx ]; then kill -QUIT "$pid" 2>/dev/null || true
        else kill -TERM "$pid" 2>/dev/null || true; fi
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then
            log "$name (pid $pid) did not stop; killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    done
    PIDS=()
    exit "$rc"
}

on_signal() { log "interrupted"; exit 130; }

port_busy() { (exec 3<>"/dev/tcp/$ADDR/$1") 2>/dev/null; }

wait_port() {   # wait_port PORT SECONDS PID
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        port_busy "$1" && return 0
        kill -0 "$3" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

spawn() {   # spawn NAME CORE LOGFILE CMD...: background, pinned, recorded
    local name=$1 core=$2 logf=$3
    shift 3
    [ -n "$core" ] && set -- taskset -c "$core" "$@"
    # without the run's lock: a straggler must not hold it past the run
    # (the subshell execs the command, so $! is its pid)
    ( if [ -n "$LOCK_FD" ]; then exec {LOCK_FD}>&-; fi; exec "$@" ) >"$logf" 2>&1 &
    PIDS+=("$name:$!")
    SPAWNED=$!
}


# =========================================================================
# Setup
# =========================================================================

usage() { sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

SELECTED=()
while [ $# -gt 0 ]; do
    case $1 in
        --quick) ROUNDS=2 DURATION=2 WARMUP=1 ;;
        --rounds) ROUNDS=$2; shift ;;
        --duration) DURATION=$2; shift ;;
        --warmup) WARMUP=$2; shift ;;
        --conns) CONNS=$2; shift ;;
        --with-modsecurity) WITH_MODSEC=1 ;;
        --list) LIST=1 ;;
        -h|--help) usage ;;
        -*) die "unknown option $1 (see --help)" ;;
        *) SELECTED+=("$1") ;;
    esac
    shift
done

nginx_test() {   # nginx_test FILE: prints the first error on failure
    local out
    if ! out=$("$NGINX" -t -q -p "$RUN" -c "$1" 2>&1); then
        printf '%s\n' "$out" | grep -m1 -E 'emerg|alert|crit|error' \
            | sed -E 's/^.*\[(emerg|alert|crit|error)\] [0-9#]+: //; s/ in \/.*$//'
        return 1
    fi
}

# ---- waf_compare: the regression suite against both engines over HTTP -----

PORT_CMP_MALL=${BENCH_COMPARE_PORT:-18600}
PORT_CMP_MODSEC=$((PORT_CMP_MALL + 1))

compare_conf() {   # compare_conf ENGINE PORT: an nginx config for mall|modsec
    local engine=$1 port=$2 t
    if [ "$engine" = mall ]; then echo "load_module $MALL_MODULE;"
    else echo "load_module $MODSEC_MODULE;"; fi
    cat <<EOF
worker_processes 1;
pid $RUN/$engine.pid;
error_log $RUN/logs/$engine-error.log warn;
events { worker_connections 1024; }
http {
    default_type application/json;
    access_log off;
    server_tokens off;
    client_max_body_size 1m;
EOF
    for t in client_body proxy fastcgi uwsgi scgi; do
        echo "    ${t}_temp_path $RUN/tmp/$engine-$t;"
    done
    # the very locations of the waf_post_1k / modsec_post_1k cases
    case_reset
    if [ "$engine" = mall ]; then
        snip_waf | sed 's/^/    /'
        case_waf_post_1k
    else
        case_modsec_post_1k
    fi
    printf '    server {\n        listen %s:%s default_server;\n%s\n    }\n}\n' \
        "$ADDR" "$port" "$C_SERVER"
}

waf_compare() {   # waf_compare [TSV...]
    local engines=() e engine port pid reason
    RUN=$OUT/waf-compare
    trap cleanup EXIT
    trap on_signal INT TERM
    mkdir -p "$OUT"
    exec {LOCK_FD}>"$OUT/.lock-waf-compare"
    flock -n "$LOCK_FD" || die "another waf_compare holds $OUT/.lock-waf-compare"
    for port in $PORT_CMP_MALL $PORT_CMP_MODSEC; do
        port_busy "$port" && die "port $port is in use (BENCH_COMPARE_PORT)"
    done
    [ -f "$MALL_MODULE" ] || die "module not built ($MALL_MODULE): ./build.sh"
    rm -rf "$RUN"
    mkdir -p "$RUN"/{www,logs,tmp,modsec}
    cp "$DATA/catalog.json" "$RUN/www/catalog.json"
    e="mall"
    if [ "$WITH_MODSEC" = 1 ] || [ -f "$MODSEC_MODULE" ]; then
        if ensure_modsec; then
            write_modsec_conf
            e="mall modsec"
        else
            log "ModSecurity packages unavailable: the mall WAF alone"
        fi
    else
        log "ModSecurity not installed (--with-modsecurity installs it): the mall WAF alone"
    fi
    for engine in $e; do
        port=$PORT_CMP_MALL
        [ "$engine" = modsec ] && port=$PORT_CMP_MODSEC
        compare_conf "$engine" "$port" >"$RUN/$engine.conf"
        reason=$(nginx_test "$RUN/$engine.conf") \
            || die "$engine nginx config rejected: $reason"
        log "starting nginx ($engine) on $ADDR:$port"
        spawn nginx "" "$RUN/logs/$engine.out" "$NGINX" -p "$RUN" \
            -c "$RUN/$engine.conf" -g 'daemon off;'
        pid=$SPAWNED
        wait_port "$port" 20 "$pid" \
            || die "nginx ($engine) did not start ($RUN/logs/$engine-error.log)"
        engines+=(--engine "$engine=http://$ADDR:$port")
    done
    # shellcheck disable=SC2086
    "$PY" "$ROOT/tests/waf/compare.py" "${engines[@]}" \
        --json "$OUT/waf-compare.json" ${WAF_COMPARE_ARGS:-} "$@"
    log "figures: $OUT/waf-compare.json; logs: $RUN/logs"
}

if [ "${SELECTED[0]:-}" = waf_compare ]; then
    waf_compare "${SELECTED[@]:1}"
    exit $?
fi

is_defined() { declare -F "case_$1" >/dev/null; }
planned_line() {
    local p
    for p in "${PLANNED[@]}"; do [ "${p%%|*}" = "$1" ] && { echo "$p"; return 0; }; done
    return 1
}

if [ "${LIST:-0}" = 1 ]; then
    TOKEN=x SIGN_KEY=x
    printf '%-20s %-18s %-7s %s\n' CASE BASELINE TARGET WHAT
    for c in "${DEFINED[@]}"; do
        case_reset; "case_$c"
        printf '%-20s %-18s %-7s %s\n' "$c" "${C_BASE:--}" "${C_TARGET:--}" "$C_DESC"
    done
    for p in "${PLANNED[@]}"; do
        IFS='|' read -r n b t d <<<"$p"
        printf '%-20s %-18s %-7s %s (planned, not defined yet)\n' "$n" "$b" "$t" "$d"
    done
    exit 0
fi

if [ ${#SELECTED[@]} -eq 0 ]; then
    for c in "${DEFINED[@]}"; do
        case $c in modsec_*|waf_vs_modsec_*) [ $WITH_MODSEC = 1 ] && SELECTED+=("$c") ;;
                   *) SELECTED+=("$c") ;; esac
    done
fi
for c in "${SELECTED[@]}"; do
    is_defined "$c" || planned_line "$c" >/dev/null \
        || die "unknown case '$c' (see --list)"
done

trap cleanup EXIT
trap on_signal INT TERM

mkdir -p "$OUT"
exec {LOCK_FD}>"$OUT/.lock"
flock -n "$LOCK_FD" || die "another bench run holds $OUT/.lock"

for p in $PORT_EDGE $PORT_ADMIN $PORT_ORIGIN $PORT_REDIS $PORT_WORKER \
         $PORT_WORKER_WAIT $PORT_REPLICA; do
    port_busy "$p" && die "port $p is in use: a bench stack is already running?"
done

rm -rf "$RUN"
mkdir -p "$RUN"/{www,logs,tmp,cache,redis,modsec,stack}
cp "$DATA/catalog.json" "$RUN/www/catalog.json"
grep -q "[\$'\\\\]" "$DATA/catalog.json" && die "catalog.json must not contain \$ ' or \\"

log "building mall-load"
make -s -C "$HERE" BUILD="$BUILD" >/dev/null

# Keys of our own (never the dev keys): ES256 token key, sign and edge secrets.
# Bench-only keys (never the dev keys), made by the project's one generator;
# it also makes the WeChat files the worker configuration names.
gen_keys() {
    sh "$ROOT/lua-free-scripts/mall-keys.sh" "$KEYS" >/dev/null
}
gen_keys
{ read -r TOKEN; read -r SIGN_KEY; } < <("$PY" "$HERE/mint-token.py" "$KEYS")
[ -n "$TOKEN" ] && [ -n "$SIGN_KEY" ] || die "could not mint the bench token"

# ---- which cases run, which are skipped ---------------------------------

declare -A SKIP=()      # case -> reason
declare -A NEED_ANY=()  # module/modsec/redis/worker -> 1
RUNLIST=()              # selected cases plus the baselines they pull in

add_case() {
    local c=$1 b
    [[ " ${RUNLIST[*]} " == *" $c "* ]] && return 0
    if ! is_defined "$c"; then
        SKIP[$c]="planned: not defined yet ($(planned_line "$c" | cut -d'|' -f4))"
        RUNLIST+=("$c")
        return 0
    fi
    case_reset; "case_$c"
    b=$C_BASE
    RUNLIST+=("$c")
    [ -n "$b" ] && add_case "$b"
    return 0
}
for c in "${SELECTED[@]}"; do add_case "$c"; done

check_needs() {   # check_needs CASE: sets SKIP[case] when a need is unmet
    local c=$1 n
    case_reset; "case_$c"
    for n in $C_NEEDS; do
        case $n in
            module)
                [ -f "$MALL_MODULE" ] || { SKIP[$c]="module not built ($MALL_MODULE)"; return; } ;;
            modsec)
                if [ -z "${MODSEC_OK:-}" ]; then
                    if ensure_modsec; then MODSEC_OK=1; write_modsec_conf
                    else MODSEC_OK=0; fi
                fi
                [ "$MODSEC_OK" = 1 ] || { SKIP[$c]="ModSecurity packages unavailable"; return; } ;;
            worker)
                [ -x "$BUILD/bin/mall-worker" ] && [ -x "$BUILD/bin/mall-seed" ] \
                    || { SKIP[$c]="mall-worker / mall-seed not built"; return; }
                [ -f "$ROOT/conf/mall-worker.conf.tmpl" ] \
                    || { SKIP[$c]="conf/mall-worker.conf.tmpl missing"; return; } ;;
            redis|replica) ;;
        esac
    done
}

# nginx main + http preamble; $1 = the needs the config must load modules for
nginx_head() {
    local needs=$1
    [[ " $needs " == *" module "* ]] && echo "load_module $MALL_MODULE;"
    [[ " $needs " == *" modsec "* ]] && echo "load_module $MODSEC_MODULE;"
    cat <<EOF
worker_processes 1;
worker_cpu_affinity $(printf '%0*d' $((CORE_SERVER + 1)) 1);
worker_rlimit_nofile 65536;
pid $RUN/nginx.pid;
error_log $RUN/logs/nginx-error.log warn;
events { worker_connections 8192; }
http {
    default_type application/json;
    access_log off;
    server_tokens off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 75s;
    keepalive_requests 10000000;
    client_body_temp_path $RUN/tmp/client_body;
    proxy_temp_path       $RUN/tmp/proxy;
    fastcgi_temp_path     $RUN/tmp/fastcgi;
    uwsgi_temp_path       $RUN/tmp/uwsgi;
    scgi_temp_path        $RUN/tmp/scgi;
    server {
        listen $ADDR:$PORT_EDGE default_server backlog=4096;
        return 404;
    }
EOF
}

server_block() {   # server_block CASE (after "case_CASE" ran)
    printf '    server {\n        listen %s:%s;\n        server_name %s.bench;\n%s\n    }\n' \
        "$ADDR" "$PORT_EDGE" "$1" "$C_SERVER"
}

# Writes the config of the given cases to FILE.
write_nginx_conf() {   # write_nginx_conf FILE CASE...
    local file=$1 c s needs="" snips=""
    shift
    for c in "$@"; do
        case_reset; "case_$c"
        needs="$needs $C_NEEDS"
        for s in $C_SNIPS; do [[ " $snips " == *" $s "* ]] || snips="$snips $s"; done
    done
    {
        nginx_head "$needs"
        for s in $snips; do "snip_$s" | sed 's/^/    /'; done
        for c in "$@"; do case_reset; "case_$c"; [ "$C_KIND" = http ] && server_block "$c"; done
        echo "}"
    } >"$file"
}

for c in "${RUNLIST[@]}"; do
    [ -n "${SKIP[$c]:-}" ] && continue
    check_needs "$c"
    [ -n "${SKIP[$c]:-}" ] && continue
    case_reset; "case_$c"
    if [ "$C_KIND" = http ]; then
        if ! reason=$(write_nginx_conf "$RUN/test-$c.conf" "$c" \
                      && nginx_test "$RUN/test-$c.conf"); then
            SKIP[$c]="nginx -t: ${reason:-config rejected}"
        fi
    fi
done
# A case whose baseline is skipped cannot be compared.
for c in "${RUNLIST[@]}"; do
    [ -n "${SKIP[$c]:-}" ] && continue
    case_reset; "case_$c"
    if [ -n "$C_BASE" ] && [ -n "${SKIP[$C_BASE]:-}" ]; then
        SKIP[$c]="baseline $C_BASE skipped"
    fi
done

# Only what a runnable selected case needs is started.
ACTIVE=()
for c in "${RUNLIST[@]}"; do
    [ -n "${SKIP[$c]:-}" ] && log "skip $c: ${SKIP[$c]}"
done
for c in "${SELECTED[@]}"; do
    [ -n "${SKIP[$c]:-}" ] && continue
    case_reset; "case_$c"
    for x in $c $C_BASE; do
        [[ " ${ACTIVE[*]} " == *" $x "* ]] || ACTIVE+=("$x")
    done
done
for c in "${ACTIVE[@]}"; do
    case_reset; "case_$c"
    for n in $C_NEEDS; do NEED_ANY[$n]=1; done
    [ "$C_KIND" = redis ] && NEED_ANY[redis]=1
done

# ---- start the stack -----------------------------------------------------

start_redis() {
    # the shipped configuration (conf/redis.conf.tmpl: AOF, appendfsync
    # always, the mall's encoding and rewrite settings) on bench ports;
    # BENCH_REDIS_FSYNC / BENCH_REDIS_EXTRA only for experiments
    log "starting redis on $ADDR:$PORT_REDIS (core $CORE_SERVER, shipped config)"
    (
        export MALL_RUN_DIR=$RUN/stack MALL_REDIS_PORT=$PORT_REDIS
        # shellcheck disable=SC1091
        . "$ROOT/lua-free-scripts/mall-env.sh"
        mkdir -p "$MALL_RUN_DIR/redis" "$MALL_RUN_DIR/logs"
        mall_render "$ROOT/conf/redis.conf.tmpl" "$MALL_RUN_DIR/redis.conf"
    ) || die "cannot render the Redis config"
    # shellcheck disable=SC2086
    spawn redis "${BENCH_REDIS_CORE-$CORE_SERVER}" "$RUN/logs/redis.log" redis-server \
        "$RUN/stack/redis.conf" --bind "$ADDR" --logfile "" --daemonize no \
        --appendfsync "${BENCH_REDIS_FSYNC:-always}" ${BENCH_REDIS_EXTRA:-}
    REDIS_PID=$SPAWNED
    wait_port "$PORT_REDIS" 10 "$REDIS_PID" || die "redis did not start ($RUN/logs/redis.log)"
}

start_replica() {
    log "starting a replica of the bench redis on $ADDR:$PORT_REPLICA (core $CORE_SERVER)"
    (
        export MALL_RUN_DIR=$RUN/stack MALL_REDIS_PORT=$PORT_REDIS \
            MALL_REDIS_REPLICA_PORT=$PORT_REPLICA
        # shellcheck disable=SC1091
        . "$ROOT/lua-free-scripts/mall-env.sh"
        mkdir -p "$MALL_RUN_DIR/redis-replica"
        mall_render "$ROOT/conf/ha/redis-replica.conf.tmpl" "$MALL_RUN_DIR/redis-replica.conf"
    ) || die "cannot render the replica config"
    spawn redis-replica "${BENCH_REDIS_CORE-$CORE_SERVER}" "$RUN/logs/redis-replica.log" \
        redis-server "$RUN/stack/redis-replica.conf" --logfile "" --daemonize no
    wait_port "$PORT_REPLICA" 10 "$SPAWNED" || die "the replica did not start"
    for _ in $(seq 100); do
        redis-cli -p "$PORT_REPLICA" INFO replication | grep -q 'master_link_status:up' \
            && return 0
        sleep 0.1
    done
    die "the replica did not sync ($RUN/logs/redis-replica.log)"
}

# start_worker [PORT RUN_SUBDIR WAIT_REPLICAS]: the bench mall-worker
start_worker() {
    local port=${1:-$PORT_WORKER} sub=${2:-stack} wait=${3:-0}
    log "starting mall-worker on $ADDR:$port (WAIT $wait)"
    (
        export MALL_ROOT=$ROOT MALL_BUILD_DIR=$BUILD MALL_RUN_DIR=$RUN/$sub \
            MALL_KEYS_DIR=$KEYS MALL_EDGE_PORT=$PORT_EDGE MALL_EDGE_TLS_PORT=28443 \
            MALL_ADMIN_PORT=$PORT_ADMIN MALL_WORKER_PORT=$port \
            MALL_WORKER_ADMIN_PORT=$((port + 100)) \
            MALL_REDIS_WAIT_REPLICAS=$wait MALL_REDIS_WAIT_TIMEOUT_MS=800 \
            MALL_REDIS_PORT=$PORT_REDIS MALL_SIM_PORT=$PORT_SIM \
            MALL_CARRIER_SIM_PORT=29910 \
            MALL_WORKER_PROCESSES=${BENCH_WORKER_PROCESSES:-auto} \
            MALL_WXPAY_NOTIFY_MAX_AGE=3600
        # one bench buyer places tens of thousands of orders an hour: the
        # abnormal-order rules (issue 24) would freeze it within a second
        export MALL_RISK_ORDERS_PER_USER=0 MALL_RISK_ORDERS_PER_DEVICE=0 \
            MALL_RISK_ORDERS_PER_ADDRESS=0 MALL_RISK_ADDRESSES_PER_USER=0 \
            MALL_RISK_DEVICE_ACCOUNTS_PER_SKU=0
        # shellcheck disable=SC1091
        . "$ROOT/lua-free-scripts/mall-env.sh"
        mkdir -p "$MALL_RUN_DIR/logs"
        mall_render "$ROOT/conf/mall-worker.conf.tmpl" "$MALL_RUN_DIR/mall-worker.conf"
    ) || return 1
    "$BUILD/bin/mall-worker" -t -c "$RUN/$sub/mall-worker.conf" >"$RUN/logs/worker-t.log" 2>&1 \
        || { log "worker config rejected: $(tail -1 "$RUN/logs/worker-t.log")"; return 1; }
    if [ "$sub" = stack ]; then
        "$BUILD/bin/mall-seed" -c "$RUN/stack/mall-worker.conf" >"$RUN/logs/seed.log" 2>&1 \
            || { log "mall-seed failed: $(tail -1 "$RUN/logs/seed.log")"; return 1; }
    fi
    spawn mall-worker "" "$RUN/logs/worker-$port.log" "$BUILD/bin/mall-worker" \
        -c "$RUN/$sub/mall-worker.conf"
    [ "$sub" = stack ] && WORKER_PID=$SPAWNED      # measured (cpu, memory)
    wait_port "$port" 10 "$SPAWNED" \
        || { log "mall-worker did not start ($RUN/logs/worker-$port.log)"; return 1; }
}

[ -n "${NEED_ANY[redis]:-}" ] && start_redis
[ -n "${NEED_ANY[replica]:-}" ] && start_replica
if [ -n "${NEED_ANY[worker]:-}" ] && { ! start_worker \
        || { [ -n "${NEED_ANY[replica]:-}" ] \
             && ! start_worker "$PORT_WORKER_WAIT" stack-wait 1; }; }; then
    for c in "${ACTIVE[@]}"; do
        case_reset; "case_$c"
        [[ " $C_NEEDS " == *" worker "* ]] && SKIP[$c]="mall-worker could not start (see $RUN/logs)"
    done
    NEW=(); for c in "${ACTIVE[@]}"; do [ -z "${SKIP[$c]:-}" ] && NEW+=("$c"); done
    ACTIVE=("${NEW[@]}")
fi

HTTP_ACTIVE=()
for c in "${ACTIVE[@]}"; do case_reset; "case_$c"; [ "$C_KIND" = http ] && HTTP_ACTIVE+=("$c"); done

if [ ${#HTTP_ACTIVE[@]} -gt 0 ]; then
    write_nginx_conf "$RUN/nginx.conf" "${HTTP_ACTIVE[@]}"
    reason=$(nginx_test "$RUN/nginx.conf") || die "combined nginx config rejected: $reason"
    log "starting nginx (1 worker on core $CORE_SERVER) on $ADDR:$PORT_EDGE"
    spawn nginx "$CORE_SERVER" "$RUN/logs/nginx.out" "$NGINX" -p "$RUN" \
        -c "$RUN/nginx.conf" -g 'daemon off;'
    NGINX_PID=$SPAWNED
    wait_port "$PORT_EDGE" 10 "$NGINX_PID" || die "nginx did not start ($RUN/logs/nginx-error.log)"
fi

# ---- per-case setup (once, with the whole stack up) ------------------------

for c in "${ACTIVE[@]}"; do
    case_reset; "case_$c"
    [ -n "$C_SETUP" ] || continue
    log "setup $c"
    "$C_SETUP" >"$RUN/logs/setup-$c.log" 2>&1 \
        || { SKIP[$c]="setup failed: $(tail -1 "$RUN/logs/setup-$c.log")"; log "skip $c: ${SKIP[$c]}"; }
done

# ---- measuring -----------------------------------------------------------

SAMPLES=$RUN/samples.jsonl
: >"$SAMPLES"
declare -A REDIS_N=()   # redis-benchmark request count per case (≈ D seconds)
CLK_TCK=$(getconf CLK_TCK)

# run_case CASE SECONDS: one measurement; prints mall-load's JSON line
run_case() {
    local c=$1 secs=$2 n line
    case_reset; "case_$c"
    if [ "$C_KIND" = http ]; then
        taskset -c "$CORE_LOAD" "$LOAD" -a "$ADDR" -p "$PORT_EDGE" \
            --host-header "$c.bench" -c "$C_CONNS" -d "$secs" \
            --expect-status "$C_STATUS" --label "$c" "${C_REQ[@]}"
    else
        # redis-benchmark takes a request count: aim at `secs` seconds from
        # the previous run's rate.
        n=$(awk -v r="${REDIS_N[$c]:-100000}" -v s="$secs" 'BEGIN { printf "%d", r * s }')
        [ "$n" -lt 20000 ] && n=20000
        line=$(taskset -c "$CORE_LOAD" redis-benchmark -h "$ADDR" -p "$PORT_REDIS" \
                 -c "$CONNS" -n "$n" --csv "${C_REDIS[@]}" 2>/dev/null | tail -1)
        "$PY" - "$c" "$CONNS" "$line" <<'EOF'
import json, sys
c, conns, line = sys.argv[1], int(sys.argv[2]), sys.argv[3]
f = [x.strip('"') for x in line.split('","')]
try:
    rps = float(f[1])
    p50, p99 = float(f[4]) * 1000, float(f[6]) * 1000
except (IndexError, ValueError):
    print(json.dumps({"label": c, "rps": 0, "requests": 0, "error": line},
                     separators=(",", ":")))
    sys.exit(0)
print(json.dumps({"label": c, "conns": conns, "rps": rps, "requests": 0,
                  "unexpected": 0, "status": {}, "errors": {},
                  "latency_us": {"p50": p50, "p99": p99}},
                 separators=(",", ":")))
EOF
    fi
}

# record CASE PAIR ROUND JSON
record() {
    printf '{"case":"%s","pair":"%s","round":%s,"result":%s}\n' "$1" "$2" "$3" "$4" >>"$SAMPLES"
}

# cpu_ticks PID...: CPU time (utime + stime, and that of reaped children:
# Redis' AOF rewrite) of each pid and its children, in clock ticks.
cpu_ticks() {
    local t=0 pid p
    for pid in "$@"; do
        for p in $pid $(ps -o pid= --ppid "$pid" 2>/dev/null); do
            [ -r "/proc/$p/stat" ] || continue
            t=$((t + $(sed 's/^.*) //' "/proc/$p/stat" \
                       | awk '{print $12 + $13 + $14 + $15}')))
        done
    done
    printf '%s' "$t"
}

measure() {   # measure CASE PAIR ROUND
    local out rps n0 w0 r0
    n0=$(cpu_ticks $NGINX_PID) w0=$(cpu_ticks $WORKER_PID) r0=$(cpu_ticks $REDIS_PID)
    out=$(run_case "$1" "$DURATION") || true
    [ -n "$out" ] || out='{"rps":0,"requests":0,"error":"no output"}'
    # where the CPU went while it ran (server side; the load runs apart)
    out="${out%\}},\"cpu_ticks\":{\"nginx\":$(( $(cpu_ticks $NGINX_PID) - n0 )),\"workers\":$(( $(cpu_ticks $WORKER_PID) - w0 )),\"redis\":$(( $(cpu_ticks $REDIS_PID) - r0 ))},\"hz\":$CLK_TCK}"
    record "$1" "$2" "$3" "$out"
    rps=$(printf '%s' "$out" | sed -nE 's/.*"rps":([0-9.]+).*/\1/p')
    case_reset; "case_$1"
    [ "$C_KIND" = redis ] && REDIS_N[$1]=${rps%.*}
    printf '%s' "${rps:-0}"
}

# Warm-up: primes caches and token/nonce zones, and checks the case answers
# what it should before anything is measured.
warm() {   # warm CASE: 0 or 1 with SKIP[case] set
    local c=$1 out bad hdr
    case_reset; "case_$c"
    out=$(run_case "$c" "$WARMUP") || true
    if [ "$C_KIND" = redis ]; then
        REDIS_N[$c]=$(printf '%s' "$out" | sed -nE 's/.*"rps":([0-9]+).*/\1/p')
        [ "${REDIS_N[$c]:-0}" -gt 0 ] || REDIS_N[$c]=""
        [ -n "${REDIS_N[$c]}" ] || { SKIP[$c]="redis-benchmark failed: $out"; return 1; }
        return 0
    fi
    bad=$(printf '%s' "$out" | "$PY" -c '
import json, sys
want = sys.argv[1]
try:
    r = json.loads(sys.stdin.read())
except ValueError:
    print("no result from mall-load"); sys.exit()
if r["requests"] == 0:
    print("no response (errors %s)" % r.get("errors"))
elif r["unexpected"] > r["requests"] * 0.001:
    print("answers %s instead of %s" % (r["status"], want))' "$C_STATUS")
    [ -z "$bad" ] || { SKIP[$c]="warm-up: $bad"; return 1; }
    if [ -n "$C_CHECK" ]; then
        hdr=$(curl -s -o /dev/null -D - -H "Host: $c.bench" \
              "http://$ADDR:$PORT_EDGE$GET_PATH" | tr -d '\r' | grep -i "^${C_CHECK%%:*}:" || true)
        if [ "${hdr,,}" != "${C_CHECK,,}" ]; then
            SKIP[$c]="warm-up: expected '$C_CHECK', got '${hdr:-nothing}'"
            return 1
        fi
    fi
}

# Memory: peak RSS (VmHWM) of the nginx worker(s), mall-worker processes
# and Redis, and resident pages of every shared memory zone.
sample_memory() {
    local master=$1 kind=$2 pid
    [ -n "$master" ] || return 0
    for pid in $master $(ps -o pid= --ppid "$master" 2>/dev/null); do
        [ -r "/proc/$pid/status" ] || continue
        printf '{"kind":"%s","pid":%s,"cmd":"%s","vmhwm_kb":%s,"vmrss_kb":%s}\n' \
            "$kind" "$pid" "$(tr '\0' ' ' <"/proc/$pid/cmdline" | sed 's/ *$//; s/"/\\"/g')" \
            "$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")" \
            "$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")"
    done
}

# nginx maps each zone as a shared anonymous mapping of exactly its size; the
# worker's smaps shows how much of it is resident (touched), keyed by size.
sample_shm() {
    local pid
    [ -n "$NGINX_PID" ] || return 0
    for pid in $(ps -o pid= --ppid "$NGINX_PID" 2>/dev/null); do
        grep -q 'worker process' "/proc/$pid/cmdline" 2>/dev/null || continue
        local range perms off dev inode path size dev0=0
        while read -r range perms off dev inode path; do
            if [[ $range =~ ^([0-9a-f]+)-([0-9a-f]+)$ ]]; then
                size=$(( (16#${BASH_REMATCH[2]} - 16#${BASH_REMATCH[1]}) / 1024 ))
                [[ $path == /dev/zero* || $path == /SYSV* ]] && dev0=1 || dev0=0
            elif [ "$dev0" = 1 ] && [ "$range" = "Rss:" ]; then
                printf '{"pid":%s,"size_kb":%s,"rss_kb":%s}\n' "$pid" "$size" "$perms"
            fi
        done <"/proc/$pid/smaps"
        return 0
    done
}

echo "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$RUN/started"
log "rounds=$ROUNDS duration=${DURATION}s warmup=${WARMUP}s conns=$CONNS" \
    "nginx core $CORE_SERVER, load core $CORE_LOAD"

# Units: a pair (case + baseline), or a case measured alone when it is a
# reference that nothing selected pairs with.
declare -A DONE_WARM=()
declare -A PAIRED=()
for c in "${ACTIVE[@]}"; do
    case_reset; "case_$c"
    [ -n "$C_BASE" ] && PAIRED[$C_BASE]=1
done

for c in "${ACTIVE[@]}"; do
    [ -n "${SKIP[$c]:-}" ] && continue
    [[ " ${SELECTED[*]} " == *" $c "* ]] || continue      # pulled-in baseline
    case_reset; "case_$c"
    base=$C_BASE
    [ -z "$base" ] && [ -n "${PAIRED[$c]:-}" ] && continue  # measured in pairs
    for x in $c $base; do
        [ -n "${DONE_WARM[$x]:-}" ] && continue
        log "warm-up $x"
        warm "$x" || log "skip $x: ${SKIP[$x]}"
        DONE_WARM[$x]=1
    done
    if [ -n "${SKIP[$c]:-}" ] || { [ -n "$base" ] && [ -n "${SKIP[$base]:-}" ]; }; then
        [ -z "${SKIP[$c]:-}" ] && SKIP[$c]="baseline $base: ${SKIP[$base]}"
        continue
    fi
    for ((r = 1; r <= ROUNDS; r++)); do
        a=$(measure "$c" "$c" "$r")
        if [ -n "$base" ]; then
            b=$(measure "$base" "$c" "$r")
            log "$(printf '%-18s round %d/%d  %10.0f vs %-16s %10.0f req/s' "$c" "$r" "$ROUNDS" "$a" "$base" "$b")"
        else
            log "$(printf '%-18s round %d/%d  %10.0f req/s' "$c" "$r" "$ROUNDS" "$a")"
        fi
    done
done

# Orders: the stock the SKU lost must equal the orders made (no oversell,
# no leaked reservation), over warm-up and every measured round.
ORDER_CHECK=""
if [ -s "$RUN/order-state.json" ]; then
    ORDER_CHECK=$("$PY" "$HERE/order-setup.py" check "$PORT_REDIS" "$RUN/order-state.json") \
        || log "ORDER CHECK FAILED: $ORDER_CHECK"
fi

{
    sample_memory "$NGINX_PID" nginx
    sample_memory "$WORKER_PID" mall-worker
    sample_memory "$REDIS_PID" redis
} >"$RUN/memory.jsonl"
sample_shm >"$RUN/shm.jsonl" || true

# ---- report --------------------------------------------------------------

skips_json() {
    local c first=1
    printf '{'
    for c in "${!SKIP[@]}"; do
        [ $first = 1 ] || printf ','
        first=0
        printf '"%s":"%s"' "$c" "$(printf '%s' "${SKIP[$c]}" | sed 's/\\/\\\\/g; s/"/\\"/g')"
    done
    printf '}'
}

cases_json() {   # selected cases with baseline and target
    local c first=1
    printf '['
    for c in "${SELECTED[@]}"; do
        [ $first = 1 ] || printf ','
        first=0
        if is_defined "$c"; then
            case_reset; "case_$c"
        else
            case_reset
            IFS='|' read -r _ C_BASE C_TARGET C_DESC <<<"$(planned_line "$c")"
        fi
        printf '{"name":"%s","baseline":"%s","target":"%s","kind":"%s","desc":"%s","paired":%s}' \
            "$c" "$C_BASE" "$C_TARGET" "$C_KIND" "$C_DESC" \
            "$([ -n "${PAIRED[$c]:-}" ] && [ -z "$C_BASE" ] && echo true || echo false)"
    done
    printf ']'
}

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
printf '{"rounds":%s,"duration_s":%s,"warmup_s":%s,"conns":%s,"nginx_core":%s,"load_core":%s,"nproc":%s,"nginx":"%s","mall_module":%s,"skipped":%s,"cases":%s}\n' \
    "$ROUNDS" "$DURATION" "$WARMUP" "$CONNS" "$CORE_SERVER" "$CORE_LOAD" "$(nproc)" \
    "$("$NGINX" -v 2>&1 | sed 's/.*\///')" \
    "$([ -n "${NEED_ANY[module]:-}" ] && echo true || echo false)" \
    "$(skips_json)" "$(cases_json)" >"$RUN/meta.json"

"$PY" "$HERE/report.py" --meta "$RUN/meta.json" --samples "$SAMPLES" \
    --memory "$RUN/memory.jsonl" --shm "$RUN/shm.jsonl" --conf "$RUN/nginx.conf" \
    --json "$OUT/results-$STAMP.json"
cp "$OUT/results-$STAMP.json" "$OUT/latest.json"
[ -n "$ORDER_CHECK" ] && printf '\norder_create oversell check: %s\n' "$ORDER_CHECK"
log "results: $OUT/results-$STAMP.json (and latest.json)"
