#!/bin/sh
# Builds every fuzz/fuzz_*.c harness with clang (libFuzzer + AddressSanitizer, the whole
# library instrumented for coverage) in build-fuzz/, then runs each for SECONDS (default
# 20) over its corpus build-fuzz/corpus-<name>. The corpus is seeded from
# fuzz/seeds/<name>/ when that folder exists, and from the harness itself when it
# supports JEMPP_FUZZ_SEEDS=<folder> (it then writes valid inputs there and exits); else
# it starts empty. A libFuzzer dictionary fuzz/<name>.dict is used when present. The
# corpus persists, so later runs start where earlier ones stopped.
# Crashes are saved as build-fuzz/crash-<name>-*; the script exits non-zero if any
# harness failed.
#
#   scripts/fuzz-smoke.sh [SECONDS] [NAME...]     e.g. scripts/fuzz-smoke.sh 60 fuzz_safetensors
set -eu

secs=${1:-20}
[ $# -gt 0 ] && shift
root=$(cd "$(dirname "$0")/.." && pwd)
build=${JEMPP_FUZZ_BUILD:-$root/build-fuzz}

if ! command -v clang >/dev/null 2>&1; then
    echo "fuzz-smoke: clang not found (Debian: apt-get install -y clang libclang-rt-14-dev)" >&2
    exit 1
fi

if [ $# -gt 0 ]; then
    names="$*"
else
    names=""
    for src in "$root"/fuzz/fuzz_*.c; do
        [ -e "$src" ] || continue
        names="$names $(basename "$src" .c)"
    done
fi
if [ -z "$names" ]; then
    echo "fuzz-smoke: no fuzz/fuzz_*.c harnesses" >&2
    exit 0
fi

mkdir -p "$build"
cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DJEMPP_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" \
    >"$build/cmake.log" 2>&1 || { cat "$build/cmake.log" >&2; exit 1; }
jobs=$(nproc 2>/dev/null || echo 2)

failed=""
for name in $names; do
    echo "== $name: build"
    if ! cmake --build "$build" --target "$name" -j "$jobs" >"$build/$name.build.log" 2>&1; then
        tail -n 30 "$build/$name.build.log" >&2
        failed="$failed $name(build)"
        continue
    fi
    corpus="$build/corpus-$name"
    mkdir -p "$corpus"
    if [ -d "$root/fuzz/seeds/$name" ]; then
        cp -R "$root/fuzz/seeds/$name/." "$corpus/"
    fi
    JEMPP_FUZZ_SEEDS="$corpus" "$build/$name" -runs=0 >/dev/null 2>&1 || true
    dict=""
    [ -f "$root/fuzz/$name.dict" ] && dict="-dict=$root/fuzz/$name.dict"
    echo "== $name: fuzzing for ${secs}s over $(ls "$corpus" | wc -l) corpus files"
    # shellcheck disable=SC2086
    if "$build/$name" -max_total_time="$secs" -print_final_stats=1 $dict \
        -artifact_prefix="$build/crash-$name-" "$corpus" >"$build/$name.fuzz.log" 2>&1; then
        grep -E "^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)|^Done" \
            "$build/$name.fuzz.log" || true
    else
        tail -n 40 "$build/$name.fuzz.log" >&2
        failed="$failed $name"
    fi
done

if [ -n "$failed" ]; then
    echo "fuzz-smoke: FAILED:$failed (logs in $build/*.fuzz.log)" >&2
    exit 1
fi
echo "fuzz-smoke: all harnesses ran ${secs}s without findings"
