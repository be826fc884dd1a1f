#!/bin/sh
# The paper's Table 4 on this machine: seconds per training iteration of PYLD-M-N for
# M = 5, 10, 20 and N = 5, 10, 20 against JEM's SGLD-K (K = 20), in one run, same model,
# batch and threads (default WRN-16-2, batch 64, 3x32x32, 2 threads).
#   bench/table4.sh [DEPTH WIDTH ITERS]
# Needs a Release build in build/. Prints each measurement, then the table with the
# speed of each PYLD setting relative to SGLD-20.
set -e
cd "$(dirname "$0")/.."
D=${1:-16}; W=${2:-2}; IT=${3:-3}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2), $OMP_NUM_THREADS threads"
out=$(mktemp)
build/bench_wrn --depth "$D" --width "$W" --iters "$IT" --sgld 20 | tail -1 | tee -a "$out"
for M in 5 10 20; do
  for N in 5 10 20; do
    build/bench_wrn --depth "$D" --width "$W" --iters "$IT" --jempp "$M" "$N" | tail -1 | tee -a "$out"
  done
done
awk '
  /JEM iteration/ { match($0, /: [0-9.]+ s\/iter/); k = substr($0, RSTART + 2, RLENGTH - 9); }
  /JEM\+\+ iteration/ {
    match($0, /PYLD-[0-9]+-[0-9]+/); name = substr($0, RSTART, RLENGTH);
    match($0, /: [0-9.]+ s\/iter/); s[name] = substr($0, RSTART + 2, RLENGTH - 9); order[++n] = name }
  END {
    printf "\n%-12s %10s %14s\n", "sampler", "s/iter", "speed vs SGLD-20";
    printf "%-12s %10.3f %14s\n", "SGLD-20", k, "1.00x";
    for (i = 1; i <= n; i++) printf "%-12s %10.3f %13.2fx\n", order[i], s[order[i]], k / s[order[i]] }' "$out"
rm -f "$out"
