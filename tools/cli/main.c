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
};

static void usage(FILE *out)
{
    fprintf(out, "usage: jempp COMMAND [flags]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].help);
}

/* OpenBLAS reads OPENBLAS_CORETYPE once, when it loads: when it picked kernels older
 * than this CPU (its table predates Intel's AVX-512 Xeons: "Prescott", SGEMM 2048^3 at
 * 31-65 GFLOP/s instead of 152) and the user set no core, start again with the right
 * one. If the new start fails, go on as it is (the trainer then prints the note). */
static void fix_blas_core(char **argv)
{
    const char *better = jp_blas_better_core();
    if (!better || getenv("OPENBLAS_CORETYPE")) return;
    if (setenv("OPENBLAS_CORETYPE", better, 1) == 0) execv("/proc/self/exe", argv);
}

int main(int argc, char **argv)
{
    fix_blas_core(argv);
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
