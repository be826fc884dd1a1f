#!/bin/sh
# The evaluation of issue 5, item 9: a JEM++ model against a softmax-only WRN of the same
# size, with the same data and the same evaluation settings: accuracy, calibration (ECE,
# NLL), OOD detection (AUROC of px, py, pxgrad against the built-in shifted sets),
# robust accuracy under PGD (L-inf and L2), and a classifier-feature FID of samples.
#
#   scripts/compare-eval.sh JEMPP_CKPT SOFTMAX_CKPT OUT_DIR [MAX_N_OOD [MAX_N_ATTACK [MAX_N_CLF [N_FID [REF_N]]]]]
#   (defaults: all 10000 test images for accuracy/calibration, 2000 for OOD, 500 for PGD,
#   2000 chains from scratch for the softmax model's FID samples, 10000 reference images
#   (the test split) for the FID statistics)
#
# Each model gets OUT_DIR/<jempp|softmax>/<mode>/ with the JSON and pictures of `jempp
# eval`, and `jempp report` can show them (--eval). The FID features are those of the
# softmax model (--feature_ckpt SOFTMAX_CKPT) for both models' samples: a
# classifier-feature FID, NOT comparable to Inception FID. JEM++ samples: its replay
# buffer (the reference's FID source); the softmax model has none, so its samples are
# PYLD chains from scratch on its own LSE (what JEM says any classifier defines).
# The summary table goes to OUT_DIR/summary.md, made by `jempp compare` (SUMMARY_ONLY=1
# rewrites it without evaluating again; ONLY=jempp or ONLY=softmax evaluates one model,
# the other column stays empty where it has no results). JEMPP= names the program
# (build/jempp), EVAL_ARGS= flags for every evaluation (e.g. --device cuda).
set -e
cd "$(dirname "$0")/.."
[ $# -ge 3 ] || { echo "usage: $0 JEMPP_CKPT SOFTMAX_CKPT OUT_DIR [MAX_N_OOD [MAX_N_ATTACK]]" >&2; exit 2; }
JCK=$1; SCK=$2; OUT=$3; NOOD=${4:-2000}; NATT=${5:-500}; NCLF=${6:-0}; NFID=${7:-2000}; NREF=${8:-10000}
J=${JEMPP:-build/jempp}
for f in "$JCK" "$SCK"; do [ -f "$f" ] || { echo "$0: checkpoint $f not found" >&2; exit 2; }; done
mkdir -p "$OUT/jempp" "$OUT/softmax" # both columns exist even when ONLY= evaluated one model
ev() { # tag ckpt mode extra...
  tag=$1; ck=$2; mode=$3; shift 3
  echo "== $tag $mode"
  # shellcheck disable=SC2086 # EVAL_ARGS: flags for every evaluation, e.g. --device cuda
  "$J" eval --ckpt "$ck" --mode "$mode" --out "$OUT/$tag/$mode" --quiet ${EVAL_ARGS:-} "$@"
}
for tag in ${ONLY:-jempp softmax}; do
  [ -z "$SUMMARY_ONLY" ] || break # SUMMARY_ONLY=1: only the table, from evaluations already made
  if [ $tag = jempp ]; then ck=$JCK; src="--fid_source auto"; else ck=$SCK; src="--fid_source scratch --n_fid $NFID --n_sample_steps 40"; fi
  ev $tag "$ck" test_clf --max_n "$NCLF"
  ev $tag "$ck" cali --max_n "$NCLF"
  ev $tag "$ck" ood --max_n "$NOOD"
  ev $tag "$ck" attack --norm both --max_n "$NATT" --eps_linf 0,1/255,2/255,4/255,8/255 --eps_l2 0,0.25,0.5,1
  ev $tag "$ck" fid --feature_ckpt "$SCK" --ref_split test --ref_max_n "$NREF" $src
done

# the table: jempp compare reads the JSON of both folders (a missing mode is an empty cell)
"$J" compare "$OUT/jempp" "$OUT/softmax" --names "JEM++,softmax WRN" --out "$OUT/summary.md" && cat "$OUT/summary.md"
