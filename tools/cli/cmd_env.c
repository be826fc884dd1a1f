/* jempp env: what this machine gives jempp and the settings it runs with: the vector
 * kernels the CPU runs, the activation layout, OpenBLAS's kernel set, whether it was
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
