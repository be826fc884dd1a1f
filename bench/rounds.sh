#!/bin/sh
# The side-by-side measurement of docs/results.md: the CPU, SGEMM peak, bench_winograd,
# then interleaved rounds of jempp with oneDNN's direct kernels (--winograd 0), jempp as
# it runs by default (the automatic implementations) and the PyTorch peer, for WRN-16-2
# forward+backward, the JEM++ iteration (WRN-16-2 3x32x32 and WRN-10-2 1x28x28, the main
# job's model, both PYLD-5-5) and WRN-28-10. With OLD= set, 3.5 minutes on 2 cores of an
# AMD EPYC with AVX-512 and 5.5 with DNNL_MAX_CPU_ISA=AVX2; run it with nothing else on
# the machine. OLD=dir runs a second jempp build (its build/) beside
# the current one in every round. DNNL_MAX_CPU_ISA=AVX2 in the environment limits oneDNN
# (jempp's and the peer's) to AVX2, so jempp runs its nChw8c path as on an AVX2 CPU.
# On a CPU with AVX-512 BF16 (and no DNNL_MAX_CPU_ISA) the JEM++ and WRN-28-10 rounds add
# a line for --bf16 1 (the 3x3 stride-2 layers' products in bfloat16).
#   bench/rounds.sh        (needs a Release build in build/ and Debian's python3-torch)
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=2
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE OMP_WAIT_POLICY GOMP_SPINCOUNT
PEER=${PEER:-../shared/bench/peer_torch.py}
j() { # jempp, then the OLD build, with the same arguments: the last line of each
  printf 'jempp      '; build/bench_wrn "$@" | tail -1
  [ -n "$OLD" ] && { printf 'old        '; "$OLD"/build/bench_wrn "$@" | tail -1; }
}
BF16=$(grep -q -w avx512_bf16 /proc/cpuinfo && [ -z "$DNNL_MAX_CPU_ISA" ] && echo 1)
jb() { # with --bf16 1 (the stride-2 layers' products in bfloat16) on a CPU with AVX-512 BF16
  [ -n "$BF16" ] && { printf 'jempp bf16 '; build/bench_wrn "$@" --bf16 1 | tail -1; }
}
echo "== $(date) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2) |$(grep -o -w -E 'avx2|avx512f' /proc/cpuinfo | sort -u | tr '\n' ' ')| DNNL_MAX_CPU_ISA=${DNNL_MAX_CPU_ISA:-unset}"
build/bench_wrn --depth 16 --width 2 --iters 1 | head -1
echo "== sgemm"; build/bench_sgemm --n 2048 | tail -2
echo "== bench_winograd"; build/bench_winograd --batch 64 --iters 5
for r in 1 2 3; do
  echo "== round $r WRN-16-2 3x32x32"
  printf 'direct     '; build/bench_wrn --depth 16 --width 2 --iters 7 --winograd 0 | tail -1
  j --depth 16 --width 2 --iters 7
  printf 'peer       '; /usr/bin/python3 $PEER --mode fwdbwd --depth 16 --width 2 --iters 7 | tail -1
done
for r in 1 2; do
  echo "== round $r JEM++ WRN-16-2 3x32x32 PYLD-5-5"
  j --depth 16 --width 2 --iters 5 --jempp 5 5
  jb --depth 16 --width 2 --iters 5 --jempp 5 5
  printf 'peer       '; /usr/bin/python3 $PEER --mode jempp --depth 16 --width 2 --n_steps 5 --in_steps 5 --iters 5 | tail -1
  echo "== round $r JEM++ WRN-10-2 1x28x28 PYLD-5-5 (the main job)"
  j --depth 10 --width 2 --size 28 --channels 1 --iters 5 --jempp 5 5
  jb --depth 10 --width 2 --size 28 --channels 1 --iters 5 --jempp 5 5
  printf 'peer       '; /usr/bin/python3 $PEER --mode jempp --depth 10 --width 2 --channels 1 --size 28 --n_steps 5 --in_steps 5 --iters 5 | tail -1
done
echo "== WRN-28-10 3x32x32"
j --depth 28 --width 10 --iters 3
jb --depth 28 --width 10 --iters 3
printf 'peer       '; /usr/bin/python3 $PEER --mode fwdbwd --depth 28 --width 10 --iters 3 | tail -1
echo "== layers WRN-16-2"; build/bench_wrn --depth 16 --width 2 --iters 5 --layers | head -17
echo "== $(date) done"
