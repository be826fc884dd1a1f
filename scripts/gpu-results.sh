#!/bin/sh
# The GPU results as one command on a GPU machine, from what `scripts/gpu-prepare.sh
# --full` put into .gpu/: Fashion-MNIST JEM++ (the fashion preset: batch norm, informative
# initialisation, PYLD-5-5, replay buffer, SGD; here a cosine schedule to 0 after 1000
# warmup iterations) and its softmax twin (the same WRN, data, augmentation and
# schedule, --softmax_only), checkpoints in files of at most 15 MiB, then
# scripts/compare-eval.sh with the evaluations on the GPU.
# The runs live in .gpu-runs/ (ignored by git, so a machine kept warm between calls keeps
# it): a run stopped by the time limit (SIGINT, which saves) or by the end of a call
# continues with the same command (--resume); the comparison runs once both have ended.
# What comes back in $OUT (at most 8 files; without OUT: .gpu-runs/out): gpu-results.log,
# summary.md, jempp-result.json, softmax-result.json, the JEM++ run's
# samples_conditional.png and buffer.png, and results.tar.gz (both runs' config, metrics
# and curves, and the evaluations' JSON).
#
#   sh scripts/gpu-results.sh [FOLDER]      (FOLDER: default .gpu)
#   DEPTH=16 WIDTH=4 EPOCHS=10     the WRN and the schedule's length
#   MINUTES=4                      each run's wall-clock share of this call (both runs
#                                  and the comparison must fit a device call's 10 minutes)
#   DEVICE=cuda                    where to train and evaluate
#   ITERS=0                        N > 0: N iterations each and small evaluations, any data
#                                  (a check of this script: DEVICE=cpu ITERS=20)
set -u
G=${1:-.gpu}
cd "$(dirname "$0")/.."
R=.gpu-runs
O=${OUT:-$R/out}
mkdir -p $R "$O"
LOG=$O/gpu-results.log
. scripts/gpu-env.sh
DEPTH=${DEPTH:-16} WIDTH=${WIDTH:-4} EPOCHS=${EPOCHS:-10} MINUTES=${MINUTES:-4} DEVICE=${DEVICE:-cuda}
ITERS=${ITERS:-0}
J=$G/bin/jempp
n=$(python3 -c "import gzip, struct, sys; print(struct.unpack('>I', gzip.open(sys.argv[1]).read(8)[4:])[0])" \
    "$G/fashion/train-images-idx3-ubyte.gz")
if [ "$ITERS" -eq 0 ] && [ "$n" != 60000 ]; then
    say "gpu-results: $G/fashion holds $n training images, not Fashion-MNIST's 60000: run scripts/gpu-prepare.sh --full"
    exit 2
fi
run "$J" env
# train NAME FLAGS...: a new run into $R/NAME, or the one there continued; 0 once it has ended
train() {
    name=$1; shift
    if [ -f $R/$name/config.json ]; then
        set -- --resume $R/$name --device "$DEVICE"
    else
        set -- --preset fashion --device "$DEVICE" --data_root "$G/fashion" --depth "$DEPTH" --width "$WIDTH" \
            --n_epochs "$EPOCHS" --max_iters "$ITERS" --lr_schedule cosine --final_lr 0 --warmup_iters 1000 \
            --print_every 200 --save_every 500 --max_file_mb 15 --save_dir $R/$name "$@"
    fi
    run timeout -s INT "${MINUTES}m" "$J" train "$@"
    rc=$?
    [ $rc -eq 0 ] && return 0
    say "gpu-results: the $name run stopped (exit $rc); the same command continues it"
    return 1
}
done=0
train jempp && done=$((done + 1))
train softmax --softmax_only && done=$((done + 1))
if [ $done -eq 2 ]; then
    small=""
    [ "$ITERS" -gt 0 ] && small="100 20 200 100 200"
    # shellcheck disable=SC2086 # small: the five counts, or none
    JEMPP=$J EVAL_ARGS="--device $DEVICE" run sh scripts/compare-eval.sh $R/jempp/last.safetensors \
        $R/softmax/last.safetensors $R/compare $small || done=0
fi
cp $R/jempp/result.json "$O/jempp-result.json" 2>/dev/null
cp $R/softmax/result.json "$O/softmax-result.json" 2>/dev/null
cp $R/jempp/samples_conditional.png $R/jempp/buffer.png $R/compare/summary.md "$O/" 2>/dev/null
# shellcheck disable=SC2046 # the files that exist, one word each
tar czf "$O/results.tar.gz" $(ls -d $R/*/config.json $R/*/metrics.csv $R/*/epochs.csv $R/*/curves_*.png \
    $R/compare/*/*/*.json 2>/dev/null)
say "gpu-results: $([ $done -eq 2 ] && echo "both runs ended and compared" || echo "not finished: call again")"
[ $done -eq 2 ]
