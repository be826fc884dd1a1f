#!/bin/sh
# The JEM++ iteration on a busy machine: WRN-10-2 1x28x28 PYLD-5-5 (the main job), 2
# threads, with a fixed background load on the same cores (a PyTorch JEM++ training
# loop of 2 threads, ../shared/bench/peer_torch.py), under OpenMP's wait policies:
# libgomp's default (spin up to GOMP_SPINCOUNT=300000 before sleeping), a short spin
# (GOMP_SPINCOUNT=10000), and OMP_WAIT_POLICY=passive (what jempp's command-line program
# sets when the user sets no wait policy); then the same quiet, and the peer in both states.
#   bench/busy.sh [rounds]     (needs a Release build in build/ and Debian's python3-torch)
cd "$(dirname "$0")/.."
ROUNDS=${1:-2}
PEER=${PEER:-../shared/bench/peer_torch.py}
export OMP_NUM_THREADS=2
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE OMP_WAIT_POLICY GOMP_SPINCOUNT
ARGS="--depth 10 --width 2 --size 28 --channels 1 --iters 5 --jempp 5 5"
run_all() {
  for r in $(seq "$ROUNDS"); do
    echo "-- round $r"
    printf 'default          '; build/bench_wrn $ARGS | tail -1
    printf 'spincount 10000  '; GOMP_SPINCOUNT=10000 build/bench_wrn $ARGS | tail -1
    printf 'passive          '; OMP_WAIT_POLICY=passive build/bench_wrn $ARGS | tail -1
    printf 'peer             '; /usr/bin/python3 $PEER --mode jempp --depth 10 --width 2 --channels 1 --size 28 \
      --n_steps 5 --in_steps 5 --iters 5 | tail -1 | sed 's/.*median/median/'
  done
}
echo "== $(date) quiet"; run_all
/usr/bin/python3 $PEER --mode jempp --depth 16 --width 2 --threads 2 --iters 100000 >/dev/null 2>&1 &
LOAD=$!
trap 'kill $LOAD 2>/dev/null' EXIT INT TERM
sleep 10
echo "== $(date) beside a 2-thread PyTorch JEM++ training loop (pid $LOAD)"; run_all
kill $LOAD 2>/dev/null
echo "== $(date) done"
