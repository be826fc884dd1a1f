#!/bin/sh
# Data-parallel training over MPI (mpirun --oversubscribe on this machine, one thread per
# rank), on Fashion-MNIST with a WRN-10-1:
#  1. one rank under mpirun is the run without mpirun, bit for bit (last.safetensors);
#  2. two ranks x 8 images and four ranks x 4 equal one process x 16 (a softmax classifier
#     without batch norm: the averaged gradient is the full batch's) up to float summation
#     order, and so do two ranks with batch norm and --sync_bn (statistics over the global
#     batch);
#  3. a two-rank JEM++ run stopped and resumed (--resume, two ranks) is the uninterrupted
#     run, bit for bit, and its checkpoint holds both ranks' chains and generators; the
#     same two ranks on a device whose arrays are copies (--device cpu-copies, the path of
#     GPU ranks: the collectives through host copies) give the same bits;
#  4. a rank killed with kill -9 ends the whole job (no hang), and --resume continues;
#  5. ranks that disagree on a setting stop at start naming it; a batch that does not
#     split evenly is refused.
# Usage: test_mpi.sh BUILD_DIR. Exit 77 (ctest's skip) when mpirun or an MPI build of
# jempp is missing, or Fashion-MNIST is not installed; with JEMPP_REQUIRE_ALL=1 that is a
# failure.
set -u
BUILD=${1:?usage: test_mpi.sh BUILD_DIR}
JEMPP="$BUILD/jempp"
FASHION=${JEMPP_TEST_FASHION:-/usr/share/datasets/fashion-mnist}
PY=/usr/bin/python3
SRC=$(cd "$(dirname "$0")/.." && pwd)

skip() {
    if [ "${JEMPP_REQUIRE_ALL:-0}" = 1 ]; then
        echo "FAILED (JEMPP_REQUIRE_ALL=1: nothing may be skipped for want of an install): $1"
        exit 1
    fi
    echo "SKIPPED: $1"
    exit 77
}
command -v mpirun >/dev/null 2>&1 || skip "mpirun not found (Debian: openmpi-bin libopenmpi-dev)"
[ -x "$JEMPP" ] || skip "$JEMPP is not built"
"$JEMPP" env | grep -q '^mpi=yes$' || skip "$JEMPP was built without MPI (libopenmpi-dev missing when it was configured)"
[ -f "$FASHION/t10k-labels-idx1-ubyte.gz" ] || skip "Fashion-MNIST is not installed in $FASHION (dataset-fashion-mnist)"
[ -x "$PY" ] || skip "$PY (with numpy) is needed to compare checkpoints"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/jempp-mpi.XXXXXX")
export XDG_CACHE_HOME="$TMP/cache" OMP_NUM_THREADS=1
# the test starts mpirun as whoever runs it, root included (never set by the user's shell)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
MPIRUN="mpirun --oversubscribe"
# A sanitizer build: Open MPI's own components (dlopen'ed, unloaded at exit) leave
# allocations LeakSanitizer reports as leaks of unknown modules; jempp's own leaks are
# checked by the single-process tests of that build.
if ldd "$JEMPP" 2>/dev/null | grep -q libasan; then
    MPIRUN="$MPIRUN -x ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
fi
# JEMPP_TEST_TRAIN_CONV (CMakeLists.txt; set for a sanitizer build): the convolutions' implementation
CONV=${JEMPP_TEST_TRAIN_CONV:+--conv_impl $JEMPP_TEST_TRAIN_CONV}
# The training files through links, the test files cut to their first 500 images: every
# run evaluates the test set once at its end, and all 10000 would take most of its time.
DATA="$TMP/fashion"
mkdir -p "$DATA"
ln -s "$FASHION/train-images-idx3-ubyte.gz" "$FASHION/train-labels-idx1-ubyte.gz" "$DATA/"
"$PY" -c "
import gzip, struct
n = 500
for name, head, item in (('t10k-images-idx3-ubyte.gz', 16, 784), ('t10k-labels-idx1-ubyte.gz', 8, 1)):
    d = gzip.open('$FASHION/' + name).read()
    with gzip.open('$DATA/' + name, 'wb') as f:
        f.write(d[:4] + struct.pack('>I', n) + d[8:head] + d[head:head + n * item])
" || { echo "FAILED: could not write the cut test set into $DATA"; exit 1; }
COMMON="--data_root $DATA $CONV"
FAILED=0
PASSED=0
check() { # check CONDITION-STATUS MESSAGE
    if [ "$1" = 0 ]; then
        echo "  ok   $2"
        PASSED=$((PASSED + 1))
    else
        echo "  FAIL $2"
        FAILED=$((FAILED + 1))
    fi
}
# Small, quick runs: WRN-10-1, PYLD-2-2, 1000 validation images.
BASE="--preset fashion --depth 10 --width 1 --n_steps 2 --in_steps 2 --n_valid 1000 --buffer_size 200 --quiet $COMMON"

# "max|a - b| largest|b - c|" over the model weights of checkpoints a, b and c
relative_diff() {
    "$PY" -c "
import sys
sys.path.insert(0, '$SRC/tools')
import numpy as np, safetensors_io as s
a, _ = s.load('$1'); b, _ = s.load('$2'); c, _ = s.load('$3')
names = [k for k in c if k.startswith(('f.', 'class_output.')) and c[k].dtype == np.float32 and c[k].size]
d = max(float(np.abs(a[k] - b[k]).max()) for k in names)
move = max(float(np.abs(b[k] - c[k]).max()) for k in names)
print('%.3g %.3g' % (d, move))
"
}

echo "-- 1. one rank under mpirun = no mpirun"
"$JEMPP" train $BASE --max_iters 3 --save_dir "$TMP/plain" > "$TMP/plain.log" 2>&1
check $? "one process, 3 iterations"
$MPIRUN -np 1 "$JEMPP" train $BASE --max_iters 3 --save_dir "$TMP/one" > "$TMP/one.log" 2>&1
check $? "mpirun -np 1, 3 iterations"
cmp -s "$TMP/plain/last.safetensors" "$TMP/one/last.safetensors"
check $? "last.safetensors identical, bit for bit"

echo "-- 2. two ranks x 8 = one process x 16 (softmax classifier, no batch norm)"
CLF="--preset clf --depth 10 --width 1 --norm none --n_valid 1000 --batch_size 16 --warmup_iters 0 --lr 0.05 --quiet $COMMON"
"$JEMPP" train $CLF --max_iters 1 --lr 1e-30 --save_dir "$TMP/start" > /dev/null 2>&1 # ~ the initial weights
"$JEMPP" train $CLF --max_iters 3 --save_dir "$TMP/single" > "$TMP/single.log" 2>&1
check $? "one process, batch 16, 3 steps"
# R ranks of 16 / R images each, 3 steps of $CLF into $TMP/NAME, against the one process of
# 16: the weights agree to 1e-5 of the largest change (float summation order)
ranks_match_single() { # R NAME
  $MPIRUN -np $1 "$JEMPP" train $CLF --max_iters 3 --save_dir "$TMP/$2" > "$TMP/$2.log" 2>&1
  check $? "$1 ranks, $((16 / $1)) images each, 3 steps"
  set -- $(relative_diff "$TMP/$2/last.safetensors" "$TMP/single/last.safetensors" "$TMP/start/last.safetensors") $1
  echo "        max|$3 ranks - one process| $1, largest change of a weight $2"
  "$PY" -c "import sys; sys.exit(0 if float('$1') <= 1e-5 * max(float('$2'), 1e-3) + 1e-7 and float('$2') > 0 else 1)"
  check $? "the weights of $3 ranks agree to 1e-5 of the largest change (float summation order)"
}
ranks_match_single 2 two

echo "-- 2c. four ranks x 4 = one process x 16 (the same softmax classifier)"
ranks_match_single 4 four

echo "-- 2b. with batch norm and --sync_bn: two ranks x 8 = one process x 16"
CLFBN="--preset clf --depth 10 --width 1 --norm batch --n_valid 1000 --batch_size 16 --warmup_iters 0 --lr 0.05 --quiet $COMMON"
"$JEMPP" train $CLFBN --max_iters 1 --lr 1e-30 --save_dir "$TMP/startbn" > /dev/null 2>&1
"$JEMPP" train $CLFBN --max_iters 3 --save_dir "$TMP/singlebn" > "$TMP/singlebn.log" 2>&1
check $? "one process, batch 16, batch norm, 3 steps"
$MPIRUN -np 2 "$JEMPP" train $CLFBN --sync_bn --max_iters 3 --save_dir "$TMP/twobn" > "$TMP/twobn.log" 2>&1
check $? "two ranks, 8 images each, --sync_bn, 3 steps"
set -- $(relative_diff "$TMP/twobn/last.safetensors" "$TMP/singlebn/last.safetensors" "$TMP/startbn/last.safetensors")
echo "        max|two ranks - one process| $1, largest change of a weight $2"
"$PY" -c "import sys; sys.exit(0 if float('$1') <= 1e-3 * float('$2') and float('$2') > 0 else 1)"
check $? "weights and BN statistics agree to 1e-3 of the largest change (measured 2.4e-4: float statistics, other convolution batch sizes)"
$MPIRUN -np 2 "$JEMPP" train $CLFBN --max_iters 3 --save_dir "$TMP/twobn_local" > /dev/null 2>&1
set -- $(relative_diff "$TMP/twobn_local/last.safetensors" "$TMP/singlebn/last.safetensors" "$TMP/startbn/last.safetensors")
echo "        without --sync_bn (each rank's statistics): max|diff| $1"
"$PY" -c "import sys; sys.exit(0 if float('$1') > 1e-2 * float('$2') else 1)"
check $? "without --sync_bn the runs differ by more than 1e-2 of it (each rank normalises its own 8 images)"

echo "-- 3. two ranks: stop and --resume = uninterrupted"
$MPIRUN -np 2 "$JEMPP" train $BASE --max_iters 4 --save_dir "$TMP/full" > "$TMP/full.log" 2>&1
check $? "two ranks, 4 iterations"
$MPIRUN -np 2 "$JEMPP" train $BASE --max_iters 2 --save_dir "$TMP/half" > "$TMP/half.log" 2>&1
check $? "two ranks, 2 iterations"
$MPIRUN -np 2 "$JEMPP" train --resume "$TMP/half" --max_iters 4 --quiet > "$TMP/resumed.log" 2>&1
check $? "resumed on two ranks to 4 iterations"
cmp -s "$TMP/full/last.safetensors" "$TMP/half/last.safetensors"
check $? "last.safetensors of the resumed run identical to the uninterrupted one, bit for bit"
"$PY" -c "
import sys
sys.path.insert(0, '$SRC/tools')
import safetensors_io as s
t, _ = s.load('$TMP/full/last.safetensors')
ok = t['replay_buffer'].shape[0] == 200 and t['train.rng_ranks'].shape == (2, 12) and (t['train.rng_ranks'][0] != t['train.rng_ranks'][1]).any()
sys.exit(0 if ok else 1)"
check $? "the checkpoint holds the whole buffer (200 chains) and both ranks' generators"
$MPIRUN -np 1 "$JEMPP" train --resume "$TMP/half" --max_iters 5 --quiet > "$TMP/wrong.log" 2>&1
rc=$?
[ $rc -ne 0 ] && grep -q "mpirun -np 2" "$TMP/wrong.log"
check $? "a two-rank checkpoint resumed on one rank is refused, naming -np 2 (exit $rc)"

echo "-- 3b. two ranks on a device (--device cpu-copies: the CPU's kernels on device copies, the host copies a GPU"
echo "       run's collectives go through) = two ranks on the CPU"
$MPIRUN -np 2 "$JEMPP" train $BASE --max_iters 4 --device cpu-copies --save_dir "$TMP/fulldev" > "$TMP/fulldev.log" 2>&1
check $? "two ranks on cpu-copies, 4 iterations"
cmp -s "$TMP/full/last.safetensors" "$TMP/fulldev/last.safetensors"
check $? "last.safetensors identical to the two CPU ranks', bit for bit"

echo "-- 4. kill -9 of a rank stops the job; --resume continues"
$MPIRUN -np 2 "$JEMPP" train $BASE --max_iters 100000 --save_every 2 --save_dir "$TMP/killed" > "$TMP/killed.log" 2>&1 &
MPIPID=$!
victim=""
for i in $(seq 1 200); do
    [ -f "$TMP/killed/last.safetensors" ] && victim=$(pgrep -f "^$JEMPP train .*$TMP/killed" | tail -1) && [ -n "$victim" ] && break
    sleep 0.1
done
[ -n "$victim" ] && kill -9 "$victim"
ended=1
for i in $(seq 1 300); do
    if ! kill -0 $MPIPID 2>/dev/null; then ended=0; break; fi
    sleep 0.1
done
[ $ended = 0 ] || kill -9 $MPIPID 2>/dev/null
wait $MPIPID
rc=$?
[ -n "$victim" ] && [ $ended = 0 ] && [ $rc -ne 0 ]
check $? "a rank killed (pid ${victim:-none}): mpirun ended within 30 s with exit $rc"
pgrep -f "^$JEMPP train .*$TMP/killed" > /dev/null
[ $? -ne 0 ]
check $? "no rank left running"
$MPIRUN -np 2 "$JEMPP" train --resume "$TMP/killed" --max_iters 8 --quiet > "$TMP/killed2.log" 2>&1
check $? "--resume on two ranks continues from the last checkpoint to iteration 8"

echo "-- 5. bad starts"
$MPIRUN -np 1 "$JEMPP" train $BASE --max_iters 1 --lr 0.1 --save_dir "$TMP/disagree" : \
    -np 1 "$JEMPP" train $BASE --max_iters 1 --lr 0.2 --save_dir "$TMP/disagree" > "$TMP/disagree.log" 2>&1
rc=$?
[ $rc -ne 0 ] && grep -q "lr=0.2" "$TMP/disagree.log" && grep -q "lr=0.1" "$TMP/disagree.log"
check $? "ranks with different --lr stop at start, naming lr (exit $rc)"
$MPIRUN -np 2 "$JEMPP" train $BASE --max_iters 1 --batch_size 15 --save_dir "$TMP/odd" > "$TMP/odd.log" 2>&1
rc=$?
[ $rc -ne 0 ] && grep -q "batch_size 15" "$TMP/odd.log"
check $? "--batch_size 15 over 2 ranks refused, naming it (exit $rc)"

echo "test_mpi: $PASSED passed, $FAILED failed"
if [ $FAILED -eq 0 ]; then rm -rf "$TMP"; else echo "logs in $TMP"; fi
[ $FAILED -eq 0 ]
