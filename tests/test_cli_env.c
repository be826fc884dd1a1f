/* The settings `jempp` gives itself at its start (tools/cli/main.c), read back with
 * `jempp env` from a child started with a chosen environment:
 *  - no OMP_WAIT_POLICY and no GOMP_SPINCOUNT: it runs with OMP_WAIT_POLICY=passive;
 *    the user's OMP_WAIT_POLICY, or a GOMP_SPINCOUNT, is kept as given;
 *  - OpenBLAS on kernels older than the CPU (a preloaded library makes it answer
 *    "Prescott": tests/shim_openblas_prescott.c), no OPENBLAS_CORETYPE: it runs with the
 *    core jp_blas_better_core names (SkylakeX with AVX-512, Haswell with AVX2); the
 *    user's OPENBLAS_CORETYPE is kept;
 *  - whether `--bf16 1` runs bfloat16 convolutions: never with oneDNN limited to AVX2. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

/* Runs `jempp env` with exactly the variables of envp; its stdout into out. */
static int run_env(const char *bin, char *const envp[], char *out, size_t len)
{
    char *argv[] = {(char *)bin, "env", NULL};
    return tu_run_capture(argv, envp, 0, out, len);
}

int main(void)
{
    tu_ctx t;
    tu_begin(&t, "test_cli_env");
    const char *bdir = getenv("JEMPP_BIN");
    char bin[1024], shim[1100], pre[1200], out[2048];
    snprintf(bin, sizeof bin, "%s/jempp", bdir ? bdir : "build");
    snprintf(shim, sizeof shim, "%s/libshim_openblas_prescott.so", bdir ? bdir : "build");
    snprintf(pre, sizeof pre, "LD_PRELOAD=%s", shim);
    if (access(bin, X_OK) || access(shim, R_OK)) {
        tu_check(&t, 0, "%s and %s built", bin, shim);
        return tu_finish(&t);
    }
    char *plain[] = {"OMP_NUM_THREADS=2", NULL};
    int rc = run_env(bin, plain, out, sizeof out);
    printf("%s", out);
    tu_check(&t, rc == 0 && strstr(out, "OMP_WAIT_POLICY=passive\n"), "no wait policy set: jempp runs passive");
    tu_check(&t, strstr(out, "activations=nChw") != NULL && strstr(out, "openblas_core=") != NULL,
             "it names the layout and OpenBLAS's kernels");
    tu_check(&t, strstr(out, "\nbf16=yes\n") || strstr(out, "\nbf16=no: "), "it says whether --bf16 1 runs bfloat16");
    char *avx2[] = {"OMP_NUM_THREADS=2", "DNNL_MAX_CPU_ISA=AVX2", NULL};
    rc = run_env(bin, avx2, out, sizeof out);
    tu_check(&t, rc == 0 && strstr(out, "activations=nChw8c\n") && strstr(out, "\nbf16=no: "),
             "oneDNN limited to AVX2: nChw8c and no bfloat16");

    char *active[] = {"OMP_WAIT_POLICY=active", NULL};
    rc = run_env(bin, active, out, sizeof out);
    tu_check(&t, rc == 0 && strstr(out, "OMP_WAIT_POLICY=active\n"), "the user's OMP_WAIT_POLICY is kept");
    char *spin[] = {"GOMP_SPINCOUNT=1000", NULL};
    rc = run_env(bin, spin, out, sizeof out);
    tu_check(&t, rc == 0 && strstr(out, "OMP_WAIT_POLICY=unset\n") && strstr(out, "GOMP_SPINCOUNT=1000\n"),
             "a GOMP_SPINCOUNT of the user's: no wait policy added");

    /* a sanitizer build passes its ASan settings on (CMakeLists.txt: a preloaded library
     * comes before ASan's runtime) */
    const char *ao = getenv("ASAN_OPTIONS");
    char asan[600];
    snprintf(asan, sizeof asan, "ASAN_OPTIONS=%s", ao ? ao : "");
    char *old[] = {pre, ao ? asan : NULL, NULL};
    rc = run_env(bin, old, out, sizeof out);
    printf("%s", out);
    const char *want = !__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma") ? "unset"
                       : __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") ? "SkylakeX"
                                                                                                  : "Haswell";
    char line[64];
    snprintf(line, sizeof line, "OPENBLAS_CORETYPE=%s\n", want);
    tu_check(&t, rc == 0 && strstr(out, "openblas_core=Prescott\n") && strstr(out, line),
             "OpenBLAS on Prescott kernels, none asked: jempp runs with %s", line);
    char *mine[] = {pre, "OPENBLAS_CORETYPE=Prescott", ao ? asan : NULL, NULL};
    rc = run_env(bin, mine, out, sizeof out);
    tu_check(&t, rc == 0 && strstr(out, "OPENBLAS_CORETYPE=Prescott\n"), "the user's OPENBLAS_CORETYPE is kept");
    return tu_finish(&t);
}
