#!/bin/sh
# Prepares what scripts/gpu-check.sh and scripts/gpu-results.sh need on a GPU machine that
# has CUDA, cuDNN and PyTorch but not jempp's CPU libraries: a build with the CUDA backend
# and without MPI (build-gpu/), its GPU test and benchmark programs and `jempp`, the
# Debian packages of every library they load that is not part of glibc, libstdc++ or CUDA
# (unpacked there, not installed), Fashion-MNIST in the official IDX format and the
# PyTorch peer. Writes them into .gpu/ (ignored by git; carried to the machine): 24 MB with
# the subset of the first 12000 training and 2000 test images, for gpu-check.sh; with
# --full the whole data set and `jempp` alone, for gpu-results.sh, 45 MB (61 MiB with
# the checkout's 17 MB of tracked files, under the 64 MiB a call carries).
#
#   sh scripts/gpu-prepare.sh [--full]
set -eu
cd "$(dirname "$0")/.."
FULL=0
case "${1:-}" in --full) FULL=1 ;; "") ;; *) echo "usage: $0 [--full]" >&2; exit 2 ;; esac
B=build-gpu
cmake -S . -B $B -DCMAKE_BUILD_TYPE=Release -DJEMPP_WERROR=ON -DJEMPP_MPI=OFF >/dev/null
cmake --build $B -j 2 --target jempp_cli test_device test_conformance test_wrn_device bench_wrn >/dev/null
if [ ! -f $B/libjempp_cuda.a ]; then
    echo "gpu-prepare: no CUDA backend in $B (CMake found no nvcc and cuDNN)" >&2
    exit 1
fi
rm -rf .gpu && mkdir -p .gpu/bin .gpu/debs .gpu/fashion
progs="jempp test_device test_conformance test_wrn_device bench_wrn"
[ $FULL = 1 ] && progs=jempp
for p in $progs; do cp $B/$p .gpu/bin/; done
# the Debian packages of the libraries the programs load, but glibc's, gcc's and CUDA's
libs=$(for p in .gpu/bin/*; do ldd "$p"; done | awk '$3 ~ /^\// {print $3}' | sort -u |
       grep -v -E '/(libc|libm|libdl|libpthread|librt|libstdc\+\+|libgcc_s|libresolv)\.so|/usr/local/cuda' || true)
pkgs=$(for l in $libs; do dpkg -S "$(readlink -f "$l")" 2>/dev/null || dpkg -S "$l" 2>/dev/null; done |
       cut -d: -f1 | sort -u)
(cd .gpu/debs && for p in $pkgs; do apt-get download "$p" >/dev/null 2>&1 || echo "gpu-prepare: no package $p" >&2; done)
# Fashion-MNIST: the official files, or the first 12000 training and 2000 test images
if [ $FULL = 1 ]; then
    cp /usr/share/datasets/fashion-mnist/*-ubyte.gz .gpu/fashion/
else
/usr/bin/python3 - <<'PY'
import gzip, struct
src = "/usr/share/datasets/fashion-mnist/"
for name, keep in (("train", 12000), ("t10k", 2000)):
    for kind, hdr in (("images-idx3-ubyte", 16), ("labels-idx1-ubyte", 8)):
        raw = gzip.open(f"{src}{name}-{kind}.gz").read()
        per = 28 * 28 if hdr == 16 else 1
        head = bytearray(raw[:hdr])
        struct.pack_into(">I", head, 4, keep)
        with gzip.open(f".gpu/fashion/{name}-{kind}.gz", "wb") as f:
            f.write(bytes(head) + raw[hdr:hdr + keep * per])
PY
fi
[ $FULL = 1 ] || cp ../shared/bench/peer_torch.py .gpu/
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
echo "gpu-prepare: $(echo $pkgs | wc -w) packages; $(du -sh .gpu | cut -f1) in .gpu/"
