#!/bin/sh
# Prepares what scripts/gpu-check.sh needs on a GPU machine that has CUDA, cuDNN and
# PyTorch but not jempp's CPU libraries: the GPU test and benchmark programs of a build
# with the CUDA backend, the Debian packages of oneDNN, OpenBLAS and their runtime
# libraries (unpacked there, not installed), and the PyTorch peer. Writes them into
# .gpu/ (ignored by git; carried to the machine: about 20 MB).
#
#   sh scripts/gpu-prepare.sh [BUILD]      (BUILD: a configured build folder, default build)
set -eu
B=${1:-build}
cd "$(dirname "$0")/.."
cmake --build "$B" -j 2 --target test_device test_conformance test_wrn_device bench_wrn >/dev/null
if [ ! -f "$B/libjempp_cuda.a" ]; then
    echo "gpu-prepare: $B has no CUDA backend (nvcc and cuDNN were not found when it was configured)" >&2
    exit 1
fi
rm -rf .gpu && mkdir -p .gpu/bin .gpu/debs
cp "$B/test_device" "$B/test_conformance" "$B/test_wrn_device" "$B/bench_wrn" .gpu/bin/
(cd .gpu/debs && apt-get download libdnnl2 libopenblas0-pthread libopenblas0 libgfortran5 libgomp1 >/dev/null 2>&1)
cp ../shared/bench/peer_torch.py .gpu/
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
du -sh .gpu
