#!/bin/sh
# Runs the libFuzzer targets built by tests/fuzz/Makefile (in $BUILD/fuzz).
#
#   run.sh regress [SECONDS]           every target for SECONDS (5) from its
#                                      seed corpus: a crash, leak, UB report
#                                      or hang fails the run
#   run.sh campaign [TARGET] [SECONDS] one target or all of them, SECONDS
#                                      (600) each, one at a time
#
# The repo's corpus (tests/fuzz/corpus/<target>/) is only read: new inputs
# go to a work dir under $BUILD (fuzz-regress/ or fuzz-work/<target>/),
# crash files to its crashes/. Each target prints one line: executions,
# coverage (cov: edges, ft: features, from libFuzzer's last status line)
# and any crash file. Targets run one after another, never two at once.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${MALL_BUILD_DIR:-$ROOT/build}
BIN=$BUILD/fuzz

mode=${1:-regress}
[ $# -gt 0 ] && shift

case $mode in
    regress)
        secs=${1:-5}
        targets=$(make -s -C "$HERE" BUILD="$BUILD" list)
        work_root=$BUILD/fuzz-regress
        ;;
    campaign)
        targets=${1:-all}
        secs=${2:-600}
        [ "$targets" = all ] \
            && targets=$(make -s -C "$HERE" BUILD="$BUILD" list)
        work_root=$BUILD/fuzz-work
        ;;
    *)
        sed -n '2,16p' "$0"
        exit 2
        ;;
esac

# stat of a libFuzzer log: the last value of "name: N" on a status line
last_stat() {   # last_stat LOG NAME
    grep -o "$2: [0-9]*" "$1" | tail -1 | sed 's/.*: //'
}

passed=0
failed=0
for t in $targets; do
    exe=$BIN/$t
    if [ ! -x "$exe" ]; then
        echo "fuzz: $t: not built ($exe)"
        failed=$((failed + 1))
        continue
    fi
    corpus=$HERE/corpus/$t
    work=$work_root/$t
    # a regression run starts clean; a campaign keeps the inputs it found
    # (crash files are this run's only)
    [ "$mode" = regress ] && rm -rf "$work"
    rm -rf "$work/crashes"
    mkdir -p "$work/new" "$work/crashes" "$corpus"
    log=$work/fuzz.log
    dict=
    [ -f "$HERE/$t.dict" ] && dict=-dict=$HERE/$t.dict

    rc=0
    # leaks are checked per input; -timeout makes a hang a finding
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
        "$exe" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$work/crashes/" $dict \
        "$work/new" "$corpus" >"$log" 2>&1 || rc=$?

    if grep -q -e 'ERROR: AddressSanitizer' -e 'runtime error:' \
        -e 'ERROR: LeakSanitizer' -e 'ERROR: libFuzzer' "$log"
    then
        [ $rc -eq 0 ] && rc=1
    fi

    execs=$(grep -o 'number_of_executed_units: [0-9]*' "$log" \
            | sed 's/.*: //')
    cov=$(last_stat "$log" cov)
    ft=$(last_stat "$log" ft)
    crash=$(ls "$work/crashes" 2>/dev/null | head -1)
    line="fuzz: $t: ${execs:-?} executions, cov: ${cov:-?} ft: ${ft:-?}"
    if [ $rc -eq 0 ] && [ -z "$crash" ]; then
        passed=$((passed + 1))
        echo "$line, ok"
    else
        failed=$((failed + 1))
        echo "$line, FAILED (exit $rc)${crash:+, crash $work/crashes/$crash}"
        grep -m 3 -e 'ERROR:' -e 'runtime error:' -e 'oracle failed' \
            "$log" | sed 's/^/    /'
        echo "    log: $log"
    fi
done

echo "fuzz: $passed targets passed, $failed failed"
[ $failed -eq 0 ]
