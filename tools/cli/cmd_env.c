/* jempp env: what this machine gives jempp and the settings it runs with: the vector
 * kernels the CPU runs, the activation layout, whether `--bf16 1` runs bfloat16
 * convolutions here, OpenBLAS's kernel set, whether it was
 * built with MPI (mpirun -np R jempp train), and the runtime
 * variables jempp sets at its start when the user set none (main.c). One KEY=value
 * per line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "device_cli.h"
#include "dist_cli.h"
#include "core/sgemm.h"
#include "ops/backend.h"
#include "ops/cpu_isa.h"

char *openblas_get_corename(void); /* OpenBLAS's own extension */

/* bf16=yes when onednn-bf16 plans a 3x3 stride-2 convolution on ctx, else no and why. */
static void print_bf16(jp_ctx *ctx)
{
    jp_conv_shape s;
    jp_conv_plan p = {0};
    jp_error err = {0};
    jp_conv_opts o = {.need_backward = 1, .impl = JP_CONV_ONEDNN_BF16};
    jp_status st = jp_conv_shape_init(&s, 2, 16, 8, 8, 16, 3, 3, 2, 2, 1, 1, &err);
    if (!st) st = jp_conv_plan_init(&p, ctx, &s, &o, &err);
    if (!st && p.impl->id != JP_CONV_ONEDNN_BF16)
        st = jp_fail(&err, JP_ERR_SHAPE, "activations in nChw%dc, bfloat16 runs on nChw16c", ctx->act_block);
    printf("bf16=%s%s\n", st ? "no: " : "yes", st ? err.msg : "");
    if (p.impl) jp_conv_plan_free(&p);
}

static void print_var(const char *name)
{
    const char *v = getenv(name);
    printf("%s=%s\n", name, v ? v : "unset");
}

int jp_cmd_env(int argc, char **argv)
{
    if (argc > 1) {
        fprintf(stderr, "%s: takes no arguments (got '%s')\n", argv[0], argv[1]);
        return 2;
    }
    jp_ctx cpu;
    jp_error err;
    if (jp_ctx_init(&cpu, 0, &err)) {
        fprintf(stderr, "jempp env: %s\n", err.msg);
        return 1;
    }
    printf("kernels_avx2=%s\nkernels_avx512=%s\nactivations=nChw%dc\n", jp_cpu_has_width(8) ? "yes" : "no",
           jp_cpu_has_width(16) ? "yes" : "no", cpu.act_block);
    print_bf16(&cpu);
    jp_ctx_free(&cpu);
    printf("openblas_core=%s\n", openblas_get_corename());
    printf("mpi=%s\n", jp_cli_dist_built() ? "yes" : "no");
    char gpu[300];
    jp_cli_device_probe(gpu, sizeof gpu);
    printf("cuda=%s\n", gpu);
    jp_cli_nccl_probe(gpu, sizeof gpu);
    printf("nccl=%s\n", gpu);
    print_var("OPENBLAS_CORETYPE");
    print_var("OMP_WAIT_POLICY");
    print_var("GOMP_SPINCOUNT");
    return 0;
}
