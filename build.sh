#!/usr/bin/env bash
# Mall Edge: install dependencies, build, run the dev stack, run the tests.
#
#   ./build.sh            deps + build (module, workers, keys, certs, GeoIP db)
#   ./build.sh run        build, then start the whole dev stack in the foreground
#   ./build.sh test       build, then run every unit and integration test
#   ./build.sh bench      build, then run the benchmark harness (tests/bench)
#   ./build.sh module     rebuild the nginx module only (fast, after an edit)
#
# Safe to re-run: every step skips what is already done.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")" && pwd)
BUILD=${MALL_BUILD_DIR:-$ROOT/build}
export MALL_ROOT=$ROOT MALL_BUILD_DIR=$BUILD

DEB_PACKAGES=(
    nginx-core nginx-dev libpcre2-dev libssl-dev zlib1g-dev
    libhiredis-dev libcjson-dev libmaxminddb-dev mmdb-bin
    libevent-dev libcurl4-openssl-dev
    redis-server redis-tools
    libcmocka-dev python3-pytest python3-requests python3-cryptography
    build-essential pkg-config openssl ca-certificates
)
BENCH_PACKAGES=(wrk)

log() { printf '\033[1m[build]\033[0m %s\n' "$*" >&2; }

# --- dependencies -----------------------------------------------------------

install_packages() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' \
            || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
        --no-install-recommends "${missing[@]}" >/dev/null
}

# Debian's nginx-core enables and starts a system nginx on port 80; we run our
# own instances, so keep the system one stopped (it would not conflict on
# ports, but nothing of ours needs it).
quiet_system_services() {
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
        systemctl stop nginx redis-server >/dev/null 2>&1 || true
    fi
}

# --- build steps ------------------------------------------------------------

build_module() {
    local src=$BUILD/nginx-src
    mkdir -p "$BUILD/modules"
    if [ ! -f "$src/objs/Makefile" ] \
        || [ "$ROOT/ngx_mall_module/config" -nt "$src/objs/Makefile" ]
    then
        log "configuring nginx $(nginx -v 2>&1 | sed 's/.*\///') module build"
        rm -rf "$src"
        cp -a /usr/share/nginx/src "$src"
        (
            cd "$src"
            # shellcheck disable=SC1091
            source ./conf_flags
            ./configure "${NGX_CONF_FLAGS[@]}" \
                --add-dynamic-module="$ROOT/ngx_mall_module" >configure.log 2>&1 \
                || { tail -30 configure.log; exit 1; }
        )
    fi
    log "building ngx_http_mall_module.so"
    make -s -C "$src" -f objs/Makefile modules >/dev/null
    # Replace atomically: running nginx processes have the old file mapped,
    # and overwriting it in place crashes them.
    cp "$src/objs/ngx_http_mall_module.so" "$BUILD/modules/.mall.so.tmp"
    mv -f "$BUILD/modules/.mall.so.tmp" "$BUILD/modules/ngx_http_mall_module.so"
}

build_workers() {
    log "building workers"
    make -s -C "$ROOT/workers" BUILD="$BUILD" >/dev/null
}

gen_keys() {
    [ -s "$BUILD/keys/jwt-k1.pem" ] \
        || log "generating dev keys in build/keys (dev only, never commit)"
    sh "$ROOT/lua-free-scripts/mall-keys.sh" "$BUILD/keys"
}

# GeoIP country database from npm (CC0). Only the npm registry is reachable.
fetch_geoip() {
    local db=$BUILD/geoip/geo-whois-asn-country.mmdb
    [ -s "$db" ] && return 0
    log "fetching GeoIP database (npm @ip-location-db/geo-whois-asn-country-mmdb)"
    local tmp
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent @ip-location-db/geo-whois-asn-country-mmdb >/dev/null)
    mkdir -p "$BUILD/geoip"
    tar -xzf "$tmp"/*.tgz -C "$tmp"
    cp "$tmp/package/geo-whois-asn-country.mmdb" "$db.tmp"
    rm -rf "$tmp"
    # Must open with libmaxminddb and resolve a known address.
    mmdblookup --file "$db.tmp" --ip 8.8.8.8 country_code | grep -q '"US"' \
        || { log "GeoIP database does not open or resolve"; exit 1; }
    mv "$db.tmp" "$db"
}

build_all() {
    install_packages "${DEB_PACKAGES[@]}"
    # npm fetches the GeoIP database. Use the machine's own when it has one
    # (Debian's npm package conflicts with a Node.js installed otherwise).
    command -v npm >/dev/null 2>&1 || install_packages npm
    quiet_system_services
    mkdir -p "$BUILD"
    gen_keys
    fetch_geoip
    build_module
    build_workers
}

# --- commands ---------------------------------------------------------------

run_tests() {
    local rc=0
    log "unit tests (cmocka)"
    make -s -C "$ROOT/tests/unit" BUILD="$BUILD" check || rc=1
    log "integration tests (pytest)"
    # pytest exits 5 when it collects nothing: that is a failure here too.
    (cd "$ROOT" && /usr/bin/python3 -m pytest -q -p no:cacheprovider \
        tests/integration tests/wechat_sim) || rc=1
    return $rc
}

cmd=${1:-build}
case $cmd in
    build)  build_all ;;
    module) build_module ;;
    run)
        build_all
        exec "$ROOT/lua-free-scripts/mallctl" run
        ;;
    test)
        build_all
        run_tests
        ;;
    bench)
        build_all
        install_packages "${BENCH_PACKAGES[@]}"
        shift
        exec "$ROOT/tests/bench/run.sh" "$@"
        ;;
    *)
        sed -n '2,10p' "$0"
        exit 2
        ;;
esac
