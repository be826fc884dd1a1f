#!/bin/sh
# The pair of docs/results.md ("Cosine schedule: the pair's commands"): WRN-10-2 on
# Fashion-MNIST, 6 epochs, cosine lr after 1000 warmup iterations, flips and sigma 0.03;
# random crop after a reflect-pad of PAD pixels (0 by default: no crop).
#   [PAD=4] sh scripts/fashion-pair.sh jempp|clf [--resume runs/fashion-cos[-pad4]-KIND]
# writes runs/fashion-cos-KIND (PAD=4: runs/fashion-cos-pad4-KIND); both at once on 2
# cores: OMP_NUM_THREADS=1 for each.
cd "$(dirname "$0")/.."
kind=$1; shift
case "$kind" in jempp|clf) ;; *) echo "usage: $0 jempp|clf [--resume runs/fashion-cos-KIND]" >&2; exit 2;; esac
extra=""; [ "$kind" = clf ] && extra="--softmax_only"
exec env OMP_WAIT_POLICY=passive build/jempp train --preset fashion $extra \
  --max_iters 0 --n_epochs 6 --lr_schedule cosine --final_lr 0 --pad ${PAD:-0} --warmup_iters 1000 \
  --print_every 200 --save_every 200 --save_dir runs/fashion-cos${PAD:+-pad$PAD}-$kind "$@"
