/* jempp: the command-line program. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/runtime_env.h"

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


int main(int argc, char **argv)
{
    jp_runtime_env_restart(argv); /* passive OpenMP waiting, OpenBLAS's kernels: core/runtime_env.h */
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
