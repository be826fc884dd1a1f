/* jempp: the command-line program. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/sgemm.h"

#include "commands.h"

static const struct {
    const char *name;
    int (*run)(int, char **);
    const char *help;
} commands[] = {
    {"train", jp_cmd_train, "train a JEM++ / JEM model or a classifier (jempp train --help)"},
    {"eval", jp_cmd_eval, "evaluate a checkpoint: accuracy, calibration, OOD, samples, attacks, FID"},
    {"data", jp_cmd_data, "describe a data set and write example and class-mean grids"},
    {"toy", jp_cmd_toy, "train an MLP energy model on a 2-D toy density"},
    {"report", jp_cmd_report, "one self-contained HTML page of a run and its evaluations"},
    {"compare", jp_cmd_compare, "a Markdown table comparing evaluation folders side by side"},
    {"env", jp_cmd_env, "the CPU's kernels, OpenBLAS's kernel set and the runtime settings jempp runs with"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: jempp COMMAND [flags]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].help);
}

/* Settings that the runtimes read once, when they load, so that a program can only
 * change them by starting again (execv keeps the process id, arguments and files):
 *  - OpenBLAS's kernels: where it picked kernels older than this CPU (its table predates
 *    Intel's AVX-512 Xeons: "Prescott", SGEMM 2048^3 at 31-65 GFLOP/s instead of 152)
 *    and the user set no OPENBLAS_CORETYPE, the right one;
 *  - OpenMP's waiting: where the user set neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT,
 *    passive. libgomp's default spins up to 300000 times at every barrier, and beside
 *    another job on the same cores a spinning thread burns the slice its descheduled
 *    partner needs: the JEM++ iteration of the main job took 1.2-1.8 s instead of 0.68
 *    beside a 2-thread PyTorch training loop, and the same quiet (bench/busy.sh,
 *    docs/results.md).
 * If the new start fails, go on as it is. */
static void fix_runtime_env(char **argv)
{
    int again = 0;
    const char *better = jp_blas_better_core();
    if (better && !getenv("OPENBLAS_CORETYPE")) again |= setenv("OPENBLAS_CORETYPE", better, 1) == 0;
    if (!getenv("OMP_WAIT_POLICY") && !getenv("GOMP_SPINCOUNT"))
        again |= setenv("OMP_WAIT_POLICY", "passive", 1) == 0;
    if (again) execv("/proc/self/exe", argv);
}

int main(int argc, char **argv)
{
    fix_runtime_env(argv);
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "jempp: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
