#!/bin/sh
# ctest install_package: `cmake --install` into a temporary prefix, then the examples
# built against it with pkg-config and with CMake's find_package: train_custom (3
# iterations of a JEM++ loop written with the library's pieces) writes a checkpoint,
# eval_checkpoint evaluates it and one trained by the installed `jempp` (2 iterations). Checks the shared
# library's versioned SONAME and that the public headers name no file outside the
# installation. Exit 77 (ctest's skip code) after the build checks when Fashion-MNIST
# is not installed, as the examples cannot run without it.
#   sh tests/test_install.sh BUILD_DIR
set -eu
BUILD=$(cd "$1" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/jempp-install.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
ok() { echo "  ok   $*"; }

cmake --install "$BUILD" --prefix "$TMP/prefix" >/dev/null
LIBDIR=$(find "$TMP/prefix" -name 'libjempp.so.*.*.*' -exec dirname {} \; | head -n 1)
[ -n "$LIBDIR" ] || fail "no versioned libjempp.so under $TMP/prefix"
[ -f "$LIBDIR/libjempp.a" ] || fail "no libjempp.a in $LIBDIR"
SONAME=$(objdump -p "$LIBDIR/libjempp.so" | awk '/SONAME/ {print $2}')
[ "$SONAME" = "libjempp.so.0" ] || fail "SONAME '$SONAME', want libjempp.so.0"
ok "libjempp.so ($SONAME) and libjempp.a in $LIBDIR"
[ -x "$TMP/prefix/bin/jempp" ] || fail "no bin/jempp"
[ -f "$TMP/prefix/include/jempp/wrn.h" ] || fail "no include/jempp/wrn.h"
if grep -n '\.\./shared\|#include "ops/\|#include "core/\|oneapi/dnnl\|cblas\|jp_ref_\|inject_' "$TMP/prefix/include/jempp/"*.h; then
  fail "public headers name files outside the installation or test-only kernels (above)"
fi
ok "bin/jempp and the public headers (no file outside the installation, no test-only kernel)"

# pkg-config, against the shared library
export PKG_CONFIG_PATH="$LIBDIR/pkgconfig"
[ "$(pkg-config --modversion jempp)" = "0.1.0" ] || fail "pkg-config --modversion jempp: $(pkg-config --modversion jempp)"
mkdir "$TMP/pc"
for ex in train_custom eval_checkpoint; do
  cc -O2 -Wall -Wextra -Werror "$SRC/examples/$ex.c" $(pkg-config --cflags --libs jempp) -Wl,-rpath,"$LIBDIR" \
    -o "$TMP/pc/$ex" || fail "examples/$ex.c does not build with pkg-config"
  objdump -p "$TMP/pc/$ex" | grep -q 'NEEDED *libjempp.so.0' || fail "$ex does not link libjempp.so.0"
done
ok "examples/ built with pkg-config (linking libjempp.so.0)"

# CMake's find_package
cmake -S "$SRC/examples" -B "$TMP/ex" -DCMAKE_PREFIX_PATH="$TMP/prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null ||
  fail "find_package(jempp) failed"
cmake --build "$TMP/ex" >/dev/null || fail "the examples do not build with find_package"
ok "examples/ built with find_package(jempp) and jempp::jempp"

if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  echo "SKIPPED: running the examples needs Fashion-MNIST (apt-get install dataset-fashion-mnist)"
  exit 77
fi
# JEMPP_TEST_TRAIN_CONV (CMakeLists.txt; set for a sanitizer build): the convolutions' implementation
CONV=${JEMPP_TEST_TRAIN_CONV:+--conv_impl $JEMPP_TEST_TRAIN_CONV}
"$TMP/prefix/bin/jempp" train --preset fashion --max_iters 2 --batch_size 16 --buffer_size 64 --n_valid 100 \
  $CONV --save_dir "$TMP/run" >"$TMP/train.log" 2>&1 || { cat "$TMP/train.log"; fail "installed jempp train"; }
for dir in "$TMP/pc" "$TMP/ex"; do
  out=$("$dir/train_custom" "$dir/custom.safetensors" 3) || fail "$dir/train_custom failed: $out"
  echo "$out" | grep -q "^iter 3  loss [-0-9.]*  ce [0-9.]*" || fail "$dir/train_custom printed: $out"
  ok "$dir/train_custom: $(echo "$out" | head -n 1)"
  for ckpt in "$dir/custom.safetensors" "$TMP/run/last.safetensors"; do
    out=$("$dir/eval_checkpoint" "$ckpt" 200) || fail "$dir/eval_checkpoint failed: $out"
    echo "$out" | grep -q "accuracy 0\.[0-9]*, ECE 0\.[0-9]*, NLL [0-9.]*, OOD AUROC log p(x) vs inverted [01]\.[0-9]*" ||
      fail "$dir/eval_checkpoint printed: $out"
    ok "$dir/eval_checkpoint: $out"
  done
done
echo "install_package: passed"
