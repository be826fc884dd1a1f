#!/bin/sh
# Data-parallel scaling on one machine: the JEM++ iteration of the main job's settings
# (PYLD-5-5, batch 64, informative init) with 1 process x T threads against R ranks x T/R
# threads each (mpirun), for a WRN-10-2 on Fashion-MNIST (the main job) and a WRN-16-2.
# Prints the mean seconds per training step of each run (result.json's seconds_per_iter:
# the steps alone, without evaluations and checkpoints) and, for the ranks, the part spent
# in the collective operations (comm_seconds_per_iter).
#   sh bench/mpi_scaling.sh [BUILD_DIR] [ITERS] [THREADS]
set -eu
BUILD=${1:-build}
ITERS=${2:-40}
T=${3:-2}
OUT=$(mktemp -d "${TMPDIR:-/tmp}/jempp-scaling.XXXXXX")
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
grep -m1 "model name" /proc/cpuinfo
echo "cores: $(nproc), threads in all: $T, iterations: $ITERS"
field() { sed -n "s/.*\"$2\": \([0-9.e+-]*\).*/\1/p" "$1/result.json"; }
for model in "10 2" "16 2"; do
    set -- $model
    args="--preset fashion --depth $1 --width $2 --max_iters $ITERS --n_valid 1000 --quiet --print_every 100000"
    OMP_NUM_THREADS=$T "$BUILD/jempp" train $args --save_dir "$OUT/one-$1" > /dev/null
    OMP_NUM_THREADS=$((T / 2)) mpirun --oversubscribe -np 2 "$BUILD/jempp" train $args --save_dir "$OUT/two-$1" > /dev/null
    one=$(field "$OUT/one-$1" seconds_per_iter)
    two=$(field "$OUT/two-$1" seconds_per_iter)
    comm=$(field "$OUT/two-$1" comm_seconds_per_iter)
    echo "WRN-$1-$2: 1 x $T threads $one s/step; 2 ranks x $((T / 2)) threads $two s/step, of it collectives $comm s"
done
rm -rf "$OUT"
