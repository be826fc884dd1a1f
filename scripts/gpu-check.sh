#!/bin/sh
# The GPU checks as one command, on a machine with an NVIDIA GPU (CUDA 13, cuDNN 9 and
# PyTorch with CUDA installed), from what scripts/gpu-prepare.sh put into .gpu/:
#   1. test_device cuda       every operation of the CUDA device against its definition
#   2. test_conformance cuda  the cuDNN convolution and batch-norm plans against the
#                             reference kernels, TF32 off and on
#   3. test_wrn_device        WRN-10-2 (BN, no norm) and WRN-16-2 on the GPU against the
#                             CPU: logits, statistics, gradients, PYLD samples, 5 SGD steps
#   4. JEM++ training on a Fashion-MNIST subset, --deterministic: 50 iterations against
#      25 + --resume to 50 and against 50 with the collectives through NCCL (one rank),
#      each bit-identical, and the model evaluated on the CPU and the GPU
#   5. bench_wrn --device cuda against peer_torch.py --device cuda, in turn, twice each:
#      WRN-28-10 forward+backward and a JEM++ iteration (PYLD-10-5), batch 64, 3x32x32
# The log goes to standard output and, when OUT is set, to $OUT/gpu-check.log.
#
#   sh scripts/gpu-check.sh [FOLDER]      (FOLDER: default .gpu)
set -u
G=${1:-.gpu}
cd "$(dirname "$0")/.."
LOG=${OUT:-/tmp}/gpu-check.log
. scripts/gpu-env.sh
run "$G"/bin/jempp env
fail=0
for t in "test_device cuda" "test_conformance cuda" "test_wrn_device"; do
    run "$G"/bin/$t
    rc=$?
    [ $rc -eq 0 ] || { say "gpu-check: $t exited with $rc"; fail=1; }
done
# JEM++ training on the GPU (Fashion-MNIST subset, --deterministic): 50 iterations in one
# go, and 25 + resume to 50, must end bit-identical; the GPU-trained model evaluated on
# the CPU must give the accuracy the GPU run reported
T=/tmp/jempp-gpu-train
rm -rf $T
TRAIN="$G/bin/jempp train --preset fashion --device cuda --deterministic --data_root $G/fashion --n_valid 1000 --print_every 25"
run $TRAIN --max_iters 50 --save_dir $T/a || fail=1
run $TRAIN --max_iters 25 --save_dir $T/b || fail=1
run "$G"/bin/jempp train --resume $T/b --device cuda --deterministic --max_iters 50 || fail=1
# the collectives through NCCL with one rank (no mpirun): the same run bit for bit
run $TRAIN --max_iters 50 --comm nccl --save_dir $T/n || fail=1
cat > /tmp/same-ckpt.py <<'PY'
import sys
from safetensors.numpy import load_file
a, b = load_file(sys.argv[2]), load_file(sys.argv[3])
bad = [k for k in a if k not in b or a[k].tobytes() != b[k].tobytes()] + [k for k in b if k not in a]
print(f"{sys.argv[1]}: {len(a)} tensors, {len(bad)} differ" + (": " + ", ".join(bad[:8]) if bad else " (bit-identical)"))
sys.exit(1 if bad else 0)
PY
run python3 /tmp/same-ckpt.py "resume on the GPU" $T/a/last.safetensors $T/b/last.safetensors || fail=1
run python3 /tmp/same-ckpt.py "one rank through NCCL" $T/a/last.safetensors $T/n/last.safetensors || fail=1
for d in cpu cuda; do
    run "$G"/bin/jempp eval --device $d --ckpt $T/a/last.safetensors --mode test_clf --data_root $G/fashion \
        --n_valid 1000 --out $T/eval-$d || fail=1
done
run python3 - $T/a/result.json $T/eval-cpu/test_clf.json $T/eval-cuda/test_clf.json <<'PY' || fail=1
import json, sys
train = json.load(open(sys.argv[1]))["test_acc"]
cpu, gpu = (json.load(open(p))["accuracy"] for p in sys.argv[2:4])
print(f"test accuracy of the GPU-trained model: training run {train:.4f}, jempp eval on the CPU {cpu:.4f}, on the GPU {gpu:.4f}")
sys.exit(0 if abs(train - cpu) <= 0.002 and abs(gpu - cpu) <= 0.002 else 1)
PY
for round in 1 2; do
    say "--- round $round"
    run "$G"/bin/bench_wrn --device cuda --depth 28 --width 10 --batch 64 --iters 7
    run python3 "$G"/peer_torch.py --device cuda --mode fwdbwd --depth 28 --width 10 --batch 64 --iters 7
    run "$G"/bin/bench_wrn --device cuda --depth 28 --width 10 --batch 64 --iters 5 --jempp 10 5
    run python3 "$G"/peer_torch.py --device cuda --depth 28 --width 10 --batch 64 --n_steps 10 --in_steps 5 --iters 5
done
say "gpu-check: tests $( [ $fail -eq 0 ] && echo passed || echo FAILED )"
exit $fail
