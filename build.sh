#!/usr/bin/env bash
# Mall Edge: install dependencies, build, run the dev stack, run the tests.
#
#   ./build.sh            deps + build (module, workers, keys, certs, GeoIP db)
#   ./build.sh run        build, then start the whole dev stack in the foreground
#   ./build.sh test       build, then run every unit test, a short fuzz
#                         regression pass and the integration tests
#   ./build.sh test --sanitize
#                         the same with the integration suite run against
#                         ASan+UBSan builds of the module and the workers
#   ./build.sh fuzz [TARGET] [SECONDS]
#                         fuzz campaign: every target (or one), 600 s each
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
    libevent-dev libcurl4-openssl-dev libhyperscan-dev
    redis-server redis-tools testssl.sh
    libcmocka-dev python3-pytest python3-requests python3-cryptography
    build-essential pkg-config openssl ca-certificates
    prometheus
    logrotate
)
BENCH_PACKAGES=(wrk)
# libFuzzer and the sanitizer runtimes (tests/fuzz)
FUZZ_PACKAGES=(clang-14 libclang-rt-14-dev)

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

# build_module_tree SRC OUT [CONFIGURE OPTION...]: the module from a copy
# of nginx's source tree in build/SRC (configured once, with the options)
# into build/OUT/ngx_http_mall_module.so.
build_module_tree() {
    local src=$BUILD/$1 out=$BUILD/$2
    shift 2
    mkdir -p "$out"
    # lib/ newer: a file was added or removed (config globs lib/mall_waf*.c)
    if [ ! -f "$src/objs/Makefile" ] \
        || [ "$ROOT/ngx_mall_module/config" -nt "$src/objs/Makefile" ] \
        || [ "$ROOT/lib" -nt "$src/objs/Makefile" ]
    then
        log "configuring nginx $(nginx -v 2>&1 | sed 's/.*\///') module build" \
            "in ${src#"$ROOT"/}"
        rm -rf "$src"
        cp -a /usr/share/nginx/src "$src"
        (
            cd "$src"
            # shellcheck disable=SC1091
            source ./conf_flags
            ./configure "${NGX_CONF_FLAGS[@]}" "$@" \
                --add-dynamic-module="$ROOT/ngx_mall_module" \
                >configure.log 2>&1 || { tail -30 configure.log; exit 1; }
        )
    fi
    log "building ${out#"$ROOT"/}/ngx_http_mall_module.so"
    make -s -C "$src" -f objs/Makefile modules >/dev/null
    # Replace atomically: running nginx processes have the old file mapped,
    # and overwriting it in place crashes them.
    cp "$src/objs/ngx_http_mall_module.so" "$out/.mall.so.tmp"
    mv -f "$out/.mall.so.tmp" "$out/ngx_http_mall_module.so"
}

build_module() {
    build_module_tree nginx-src modules
}

build_workers() {
    log "building workers"
    make -s -C "$ROOT/workers" BUILD="$BUILD" >/dev/null
}

# WAF tools: build/bin/mall-waf-check (rule validation, mallctl
# check-rules) and build/bin/mall-waf-bench (engine micro-benchmark)
build_waf_tools() {
    log "building WAF tools (tests/waf)"
    make -s -C "$ROOT/tests/waf" BUILD="$BUILD" all >/dev/null
}

build_fuzz() {
    install_packages "${FUZZ_PACKAGES[@]}"
    log "building fuzz targets (tests/fuzz)"
    make -s -C "$ROOT/tests/fuzz" BUILD="$BUILD" all >/dev/null
}

# --- sanitizer builds -------------------------------------------------------
#
# The module with ASan+UBSan from a second nginx tree (build/nginx-src-san,
# output build/modules-san), the workers with make SANITIZE=1 (bin-san).
# build/san/ holds bin/ and modules/ (links) and nginx, a wrapper that
# preloads gcc's libasan (it must be loaded first) into the stock nginx;
# MALL_SAN_DIR=build/san makes mallctl (mall-env.sh) run those.

SAN_CFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
SAN_CFLAGS+=" -fno-omit-frame-pointer"

build_module_san() {
    build_module_tree nginx-src-san modules-san \
        --with-cc-opt="-g -O1 $SAN_CFLAGS" \
        --with-ld-opt="-fsanitize=address,undefined"
}

build_san() {
    build_module_san
    log "building workers with ASan+UBSan"
    make -s -C "$ROOT/workers" BUILD="$BUILD" SANITIZE=1 >/dev/null
    mkdir -p "$BUILD/san"
    ln -sfn ../bin-san "$BUILD/san/bin"
    ln -sfn ../modules-san "$BUILD/san/modules"
    # libstdc++ too: the module's libhs throws (and catches) C++
    # exceptions while compiling the WAF rules, and ASan's __cxa_throw
    # interceptor aborts ("real___cxa_throw != 0") when libstdc++ only
    # arrives later with the module's dlopen
    printf '#!/bin/sh\nLD_PRELOAD="%s %s" exec /usr/sbin/nginx "$@"\n' \
        "$(readlink -f "$(gcc -print-file-name=libasan.so)")" \
        "$(readlink -f "$(gcc -print-file-name=libstdc++.so.6)")" \
        >"$BUILD/san/nginx"
    chmod +x "$BUILD/san/nginx"
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

# ASN database ($mall_asn): ip-location-db's CSV from npm (CC BY 4.0:
# RouteViews, DB-IP, NRO), turned into a MaxMind DB by our own converter.
fetch_geoip_asn() {
    local db=$BUILD/geoip/asn.mmdb tool=$BUILD/bin/mall-mmdb-asn
    mkdir -p "$BUILD/bin" "$BUILD/geoip"
    if [ ! -x "$tool" ] || [ "$ROOT/tools/mall_mmdb_asn.c" -nt "$tool" ]; then
        cc -O2 -Wall -Wextra -o "$tool" "$ROOT/tools/mall_mmdb_asn.c"
    fi
    [ -s "$db" ] && return 0
    log "fetching the ASN database (npm @ip-location-db/asn)"
    local tmp
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent @ip-location-db/asn >/dev/null)
    tar -xzf "$tmp"/*.tgz -C "$tmp"
    "$tool" "$db.tmp" "$tmp/package/asn-ipv4.csv" "$tmp/package/asn-ipv6.csv" >/dev/null
    rm -rf "$tmp"
    mmdblookup --file "$db.tmp" --ip 8.8.8.8 autonomous_system_number \
        | grep -q '15169' || { log "ASN database does not open or resolve"; exit 1; }
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
    fetch_geoip_asn
    build_module
    build_workers
    build_waf_tools
}

# --- commands ---------------------------------------------------------------

run_pytest() {
    # pytest exits 5 when it collects nothing: that is a failure here too.
    (cd "$ROOT" && /usr/bin/python3 -m pytest -q -p no:cacheprovider \
        tests/integration tests/wechat_sim tests/carrier_sim)
}

# The integration suite with the stack (mallctl) and the module-only
# tests (edge_harness.py) on the sanitizer builds. Only nginx gets libasan
# preloaded (other programs, ps for one, hang under it). ASan reports go to
# files under build/san-logs. UBSan's cannot (with gcc's two runtimes its
# log_path is ignored): they go to each daemon's stderr, i.e. its log in
# the test's runtime dir, where the fixtures find them, fail the test and
# copy them to build/san-logs (tests/integration/san_reports.py). Any
# report fails the run. Leak checks stay with the unit tests and fuzzers:
# the daemons end by signal or _exit, and nginx's and OpenSSL's exit-time
# blocks are not ours.
run_pytest_san() {
    local logs=$BUILD/san-logs rc=0
    rm -rf "$logs"
    mkdir -p "$logs"
    (
        export MALL_SAN_DIR=$BUILD/san MALL_SAN_LOG_DIR=$logs
        export ASAN_OPTIONS="detect_leaks=0:log_path=$logs/asan"
        export UBSAN_OPTIONS="print_stacktrace=1"
        run_pytest
    ) || rc=1
    if grep -l -r -e 'ERROR: AddressSanitizer' -e 'runtime error:' \
        -e 'LeakSanitizer' "$logs" 2>/dev/null
    then
        log "sanitizer reports (above files); first lines:"
        grep -h -r -m 5 -e 'ERROR: AddressSanitizer' -e 'runtime error:' \
            -e 'LeakSanitizer' "$logs" >&2 || true
        rc=1
    else
        log "sanitizers: no report"
    fi
    return $rc
}

run_tests() {
    local rc=0 sanitize=${1:-} t0
    log "unit tests (cmocka)"
    make -s -C "$ROOT/tests/unit" BUILD="$BUILD" check || rc=1
    log "WAF regression cases (tests/waf)"
    make -s -C "$ROOT/tests/waf" BUILD="$BUILD" check || rc=1
    log "fuzz regression (tests/fuzz, 3 s a target)"
    t0=$SECONDS
    sh "$ROOT/tests/fuzz/run.sh" regress 3 || rc=1
    log "fuzz regression took $((SECONDS - t0)) s"
    t0=$SECONDS
    if [ "$sanitize" = --sanitize ]; then
        log "integration tests (pytest) against the ASan+UBSan builds"
        run_pytest_san || rc=1
    else
        log "integration tests (pytest)"
        run_pytest || rc=1
    fi
    log "integration tests took $((SECONDS - t0)) s"
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
        build_fuzz
        [ "${2:-}" = --sanitize ] && build_san
        run_tests "${2:-}"
        ;;
    fuzz)
        install_packages "${DEB_PACKAGES[@]}"
        mkdir -p "$BUILD"
        build_fuzz
        shift
        exec sh "$ROOT/tests/fuzz/run.sh" campaign "${1:-all}" "${2:-600}"
        ;;
    bench)
        build_all
        install_packages "${BENCH_PACKAGES[@]}"
        shift
        exec "$ROOT/tests/bench/run.sh" "$@"
        ;;
    *)
        sed -n '2,16p' "$0"
        exit 2
        ;;
esac
