#!/bin/sh
# Installs the Debian packages jempp needs: to build and run it (training and
# evaluation: `make train`), and with `--tests` also what the tests need (PyTorch,
# NumPy and SciPy under /usr/bin/python3 for the reference files and the converters'
# check, protobuf to decode the TensorBoard files, Open MPI for the data-parallel test: `make test`). Idempotent: does nothing when they are all present. Needs root
# for apt-get; otherwise prints the command to run as root.
#   sh scripts/install-deps.sh [--tests]
set -e
PKGS="build-essential cmake pkg-config libdnnl-dev libopenblas-dev liblapack-dev libmatio-dev zlib1g-dev libpng-dev dataset-fashion-mnist"
case "${1:-}" in
    --tests) PKGS="$PKGS python3-torch python3-numpy python3-scipy python3-protobuf libopenmpi-dev openmpi-bin" ;;
    "") ;;
    *) echo "install-deps.sh: unknown argument '$1' (--tests or nothing)" >&2; exit 2 ;;
esac
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "jempp: installing Debian packages:$missing"
if [ "$(id -u)" -ne 0 ]; then
    echo "jempp: not root; run as root:  apt-get update && apt-get install -y$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing
