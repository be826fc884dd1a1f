/* See runtime_env.h. */
#include "core/runtime_env.h"

#include <stdlib.h>
#include <unistd.h>

#include "core/sgemm.h"

void jp_runtime_env_restart(char **argv)
{
    int again = 0;
    const char *better = jp_blas_better_core();
    if (better && !getenv("OPENBLAS_CORETYPE")) again |= setenv("OPENBLAS_CORETYPE", better, 1) == 0;
    if (!getenv("OMP_WAIT_POLICY") && !getenv("GOMP_SPINCOUNT"))
        again |= setenv("OMP_WAIT_POLICY", "passive", 1) == 0;
    if (again) execv("/proc/self/exe", argv);
}
