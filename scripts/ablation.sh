#!/bin/sh
# The ablation of the paper's Table 5 on Fashion-MNIST (issue 4, item 9): six runs that
# differ from JEM++ in one component each, the same data, model, sampler, seed and
# iteration budget, then one table of accuracy and stability.
#
#   scripts/ablation.sh [ITERS] [extra jempp train flags...]
#   (defaults: 600 iterations of the fashion preset; e.g. scripts/ablation.sh 859 --width 1)
#
# Runs go to runs/ablation/<name>; a run that is already complete is not redone (delete
# its folder to redo it). The table goes to runs/ablation/table.md. Stability: the
# number of automatic rollbacks (each one a divergence: non-finite or |loss| > 1e8, or
# samples leaving the valid range) and whether the run had to give up.
#
#   jempp          BN, informative init, proximal clamp eps 1, SGD lr 0.1 (the fashion preset)
#   no_proximity   the same without the clamp (eps 1e30)
#   adam           Adam lr 1e-4 instead of SGD (JEM's optimiser)
#   uniform_bn     uniform(-1, 1) init with BN
#   uniform_nobn   uniform init without BN (JEM's set-up; Adam lr 1e-4, as the paper: without
#                  BN only Adam with lr <= 1e-4 trains)
#   informative_nobn  informative init without BN (Adam lr 1e-4)
set -e
cd "$(dirname "$0")/.."
ITERS=${1:-600}
[ $# -gt 0 ] && shift
J=${JEMPP:-build/jempp}
OUT=${ABLATION_DIR:-runs/ablation}
mkdir -p "$OUT"
ADAM="--optimizer adam --lr 0.0001 --weight_decay 0"
run() {
  name=$1; shift
  dir="$OUT/$name"
  if [ -f "$dir/result.json" ] && grep -q "\"iters\": *$ITERS[,}]" "$dir/result.json"; then
    echo "== $name: done before ($dir/result.json)"; return 0
  fi
  rm -rf "$dir"
  echo "== $name: $*"
  if ! "$J" train --preset fashion --max_iters "$ITERS" --save_dir "$dir" --print_every 100 "$@" \
       > "$OUT/$name.log" 2>&1; then
    echo "   $name stopped: $(tail -1 "$OUT/$name.log")"
  fi
  tail -1 "$OUT/$name.log"
}
run jempp "$@"
run no_proximity --eps 1e30 "$@"
run adam $ADAM "$@"
run uniform_bn --init uniform "$@"
run uniform_nobn --init uniform --norm none $ADAM "$@"
run informative_nobn --norm none $ADAM "$@"

# the table: from result.json (finished runs) or the log (runs that gave up)
{
  echo "| run | test acc | valid acc | rollbacks | outcome | s/iter |"
  echo "|---|---|---|---|---|---|"
  for name in jempp no_proximity adam uniform_bn uniform_nobn informative_nobn; do
    r="$OUT/$name/result.json"
    ev=$(grep -c '"event":"recovered"' "$OUT/$name/metrics.jsonl" 2>/dev/null || true)
    if [ -f "$r" ]; then
      sed 's/[{}"]//g' "$r" | tr ',' '\n' | awk -F: -v n="$name" -v ev="$ev" '
        { gsub(/ /, "", $1); v[$1] = $2 }
        END { printf "| %s | %.2f%% | %.2f%% | %d | finished %d iterations | %.2f |\n", n, 100 * v["test_acc"],
              100 * v["valid_acc"], ev, v["iters"], v["seconds_per_iter"] }'
    else
      echo "| $name | - | - | ${ev:-0} | gave up: $(tail -1 "$OUT/$name.log" | cut -c1-120) | - |"
    fi
  done
} > "$OUT/table.md"
echo
cat "$OUT/table.md"
