# Sourced by scripts/gpu-check.sh and scripts/gpu-results.sh on the GPU machine, after
# G (the folder scripts/gpu-prepare.sh made) and LOG are set: say and run (a command
# into the log, returning its exit status), the Debian libraries of G/debs unpacked into
# /tmp/jempp-libs (not installed), cuDNN, cuBLAS and NCCL from the toolkit or else from
# PyTorch's wheels on LD_LIBRARY_PATH, and OMP_NUM_THREADS (4 unless set).
: > "$LOG"
say() { echo "$*" | tee -a "$LOG"; }
run() {
    say "\$ $*"
    { "$@" 2>&1; echo $? > /tmp/jempp-gpu.rc; } | tee -a "$LOG"
    return "$(cat /tmp/jempp-gpu.rc)"
}
LIBS=/tmp/jempp-libs
mkdir -p $LIBS
for f in "$G"/debs/*.deb; do dpkg -x "$f" $LIBS; done
NV=$(python3 -c 'import os, nvidia; print(os.path.dirname(list(nvidia.__path__)[0]) + "/nvidia")' 2>/dev/null || true)
EXTRA=""
for d in "$NV"/cudnn/lib "$NV"/cublas/lib "$NV"/nccl/lib "$NV"/cu13/lib "$NV"/cuda_runtime/lib; do [ -d "$d" ] && EXTRA="$EXTRA:$d"; done
export LD_LIBRARY_PATH="$LIBS/usr/lib/x86_64-linux-gnu:$LIBS/lib/x86_64-linux-gnu:$LIBS/usr/lib/x86_64-linux-gnu/openblas-pthread:/usr/local/cuda/lib64$EXTRA:${LD_LIBRARY_PATH:-}"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-4}
say "$(basename "$0"): $(date -u +%FT%TZ), $(nvidia-smi -L 2>/dev/null | head -1)"
say "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
