#!/bin/sh
# The side-by-side measurement of docs/results.md (sessions 8 and 9): SGEMM peak,
# bench_winograd, then interleaved rounds of jempp with oneDNN's direct kernels
# (--winograd 0), jempp with Winograd (the default) and the PyTorch peer, for WRN-16-2
# forward+backward, the JEM++ iteration, the Fashion-MNIST sizes and WRN-28-10.
# About 11 minutes on 2 cores; run it with nothing else on the machine.
#   bench/rounds.sh        (needs a Release build in build/ and Debian's python3-torch)
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=2
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
PEER=${PEER:-../shared/bench/peer_torch.py}
echo "== $(date) sgemm"; build/bench_sgemm --n 2048 | tail -1
echo "== bench_winograd"; build/bench_winograd --batch 64 --iters 7
for r in 1 2 3; do
  echo "== round $r WRN-16-2 3x32x32"
  build/bench_wrn --depth 16 --width 2 --iters 7 --winograd 0 | tail -1
  build/bench_wrn --depth 16 --width 2 --iters 7 --winograd 1 | tail -1
  /usr/bin/python3 $PEER --mode fwdbwd --depth 16 --width 2 --iters 7 | tail -1
done
for r in 1 2; do
  echo "== round $r JEM++ WRN-16-2 PYLD-5-5"
  build/bench_wrn --depth 16 --width 2 --iters 7 --jempp 5 5 --winograd 0 | tail -1
  build/bench_wrn --depth 16 --width 2 --iters 7 --jempp 5 5 --winograd 1 | tail -1
  /usr/bin/python3 $PEER --mode jempp --depth 16 --width 2 --n_steps 5 --in_steps 5 --iters 7 | tail -1
done
echo "== Fashion WRN-10-2 1x28x28 PYLD-10-5 and WRN-16-2 1x28x28"
for w in 0 1; do build/bench_wrn --depth 10 --width 2 --size 28 --channels 1 --iters 5 --jempp 10 5 --winograd $w | tail -2; done
/usr/bin/python3 $PEER --mode jempp --depth 10 --width 2 --channels 1 --size 28 --n_steps 10 --in_steps 5 --iters 5 | tail -1
for w in 0 1; do build/bench_wrn --depth 16 --width 2 --size 28 --channels 1 --iters 7 --winograd $w | tail -1; done
/usr/bin/python3 $PEER --mode fwdbwd --depth 16 --width 2 --channels 1 --size 28 --iters 7 | tail -1
echo "== WRN-28-10 3x32x32"
build/bench_wrn --depth 28 --width 10 --iters 3 --winograd 0 | tail -1
build/bench_wrn --depth 28 --width 10 --iters 3 --winograd 1 | tail -1
/usr/bin/python3 $PEER --mode fwdbwd --depth 28 --width 10 --iters 3 | tail -1
echo "== layers WRN-16-2 winograd"; build/bench_wrn --depth 16 --width 2 --iters 5 --layers | head -17
echo "== $(date) done"
