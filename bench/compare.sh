#!/bin/sh
# Side-by-side speed of jempp and the PyTorch peer (../shared/bench/peer_torch.py) on the
# same machine in the same run: WRN forward+backward images/s and one JEM++ iteration.
#   bench/compare.sh [DEPTH WIDTH M N ITERS]     (defaults: 16 2 5 5 7)
# Needs a Release build in build/ and Debian's python3-torch. Unsets OPENBLAS_CORETYPE
# for its own commands only (it halves OpenBLAS's speed on AVX-512 machines).
set -e
cd "$(dirname "$0")/.."
D=${1:-16}; W=${2:-2}; M=${3:-5}; N=${4:-5}; IT=${5:-7}
PEER=${PEER:-../shared/bench/peer_torch.py}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
ours=$(build/bench_wrn --depth "$D" --width "$W" --iters "$IT" --jempp "$M" "$N")
echo "$ours"
peer_fb=$(/usr/bin/python3 "$PEER" --mode fwdbwd --depth "$D" --width "$W" --iters "$IT" | tail -1)
echo "$peer_fb"
peer_it=$(/usr/bin/python3 "$PEER" --mode jempp --depth "$D" --width "$W" --n_steps "$M" --in_steps "$N" --iters "$IT" | tail -1)
echo "$peer_it"
our_ips=$(echo "$ours" | sed -n 's/.* \([0-9.]*\) images\/s.*/\1/p')
peer_ips=$(echo "$peer_fb" | sed -n 's/.* \([0-9.]*\) img\/s.*/\1/p')
our_s=$(echo "$ours" | sed -n 's/.*: \([0-9.]*\) s\/iter.*/\1/p')
peer_s=$(echo "$peer_it" | sed -n 's/.*median \([0-9.]*\) s\/iter.*/\1/p')
awk -v a="$our_ips" -v b="$peer_ips" -v c="$our_s" -v d="$peer_s" 'BEGIN {
  printf "ratio fwd+bwd images/s jempp/peer: %.2fx (%s vs %s)\n", a / b, a, b;
  printf "ratio JEM++ iteration speed jempp/peer: %.2fx (%s s vs %s s)\n", d / c, c, d }'
