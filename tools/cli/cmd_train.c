/* jempp train: flags named as the reference's train script, presets, the run. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ebm/train_hooks.h"
#include "commands.h"
#include "device_cli.h"
#include "dist_cli.h"
#include "flags.h"
#include "jempp/train.h"

/* Ctrl-C or SIGTERM: the run stops after the iteration in progress and saves
 * last.safetensors; a second one kills at once (the default action is restored). A
 * signal handler can only reach file-scope state: this flag is the one such variable. */
static volatile sig_atomic_t stop_flag;

static void on_stop_signal(int sig)
{
    static const char msg[] = "\njempp train: stopping after this iteration and saving last.safetensors "
                              "(again to kill at once)\n";
    stop_flag = 1;
    signal(sig, SIG_DFL);
    ssize_t ignored = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)ignored;
}

/* Room for every setting's flag and the command's own. */
#define JP_MAX_TRAIN_FLAGS 96

/* The flag of a setting of jp_train_config (its table entry), pointing into c. */
static jp_flag setting_flag(const jp_train_setting *s, jp_train_config *c)
{
    static const jp_flag_type types[] = {
        [JP_SET_INT] = FLAG_INT,   [JP_SET_FLOAT] = FLAG_FLOAT,       [JP_SET_I64] = FLAG_I64,
        [JP_SET_U64] = FLAG_U64,   [JP_SET_STR] = FLAG_STR,           [JP_SET_BOOL] = FLAG_BOOL,
        [JP_SET_BOOL_NOT] = FLAG_BOOL_NOT, [JP_SET_CHOICE] = FLAG_CHOICE, [JP_SET_INTLIST] = FLAG_INTLIST};
    char *base = (char *)c;
    return (jp_flag){s->name, types[s->type], base + s->offset, s->size,
                     s->type == JP_SET_INTLIST ? (int *)(base + s->count_offset) : NULL, s->choices, s->help};
}

int jp_cmd_train(int argc, char **argv)
{
    jp_train_config c;
    jp_train_hooks hooks = {.nan_iter = 0};
    jp_error err = {0};
    const char *preset = jp_flags_peek(argc, argv, "preset");
    char preset_buf[32];
    snprintf(preset_buf, sizeof preset_buf, "%s", preset ? preset : "jempp");
    if (jp_train_preset(&c, preset_buf, &err)) {
        fprintf(stderr, "jempp train: %s\n", err.msg);
        return 2;
    }
    /* --resume DIR continues with the run's own configuration (DIR/config.json) and in DIR
     * itself; flags given now override it (e.g. --n_epochs to extend a run). */
    const char *resume = jp_flags_peek(argc, argv, "resume");
    if (resume && !jp_flags_want_help(argc, argv)) {
        char path[1100];
        snprintf(path, sizeof path, "%s/config.json", resume);
        if (jp_train_config_read_json(&c, path, &err)) {
            fprintf(stderr, "jempp train: --resume %s: %s\n", resume, err.msg);
            return 2;
        }
        if (snprintf(c.save_dir, sizeof c.save_dir, "%s", resume) >= (int)sizeof c.save_dir) {
            fprintf(stderr, "jempp train: --resume %s: path too long\n", resume);
            return 2;
        }
    }
    /* the settings' flags, from the library's table (config.json's too), after --preset;
     * then the testing aids of ebm/train_hooks.h */
    int n_set;
    const jp_train_setting *set = jp_train_settings(&n_set);
    jp_flag flags[JP_MAX_TRAIN_FLAGS];
    int nf = 0;
    flags[nf++] = (jp_flag){"preset", FLAG_STR, preset_buf, sizeof preset_buf, NULL, NULL,
                            "configuration to start from: jempp, jem, clf, fashion"};
    JP_CHECK(n_set + 3 <= JP_MAX_TRAIN_FLAGS);
    for (int i = 0; i < n_set; i++) flags[nf++] = setting_flag(&set[i], &c);
    flags[nf++] = (jp_flag){"inject_nan_iter", FLAG_I64, &hooks.nan_iter, 0, NULL, NULL,
                            "testing aid: make the loss NaN once at this iteration"};
    flags[nf++] = (jp_flag){"inject_gap_iter", FLAG_I64, &hooks.gap_iter, 0, NULL, NULL,
                            "testing aid: make the gap detector fire once at this iteration"};
    if (jp_flags_want_help(argc, argv)) {
        printf("usage: jempp train [--preset NAME] [flags]\n\nTrains a JEM++ model (or JEM, or a plain classifier) "
               "and writes a run directory.\nDefaults shown are those of --preset %s.\n\n", preset_buf);
        jp_flags_help(flags, nf, stdout);
        return 0;
    }
    if (jp_flags_parse(flags, nf, argc, argv, 1, &err)) {
        fprintf(stderr, "jempp train: %s\n", err.msg);
        return 2;
    }
    if (c.softmax_only) c.p_x_weight = 0.0f;
    if (jp_train_config_check(&c, &err)) {
        fprintf(stderr, "jempp train: %s\n", err.msg);
        return 2;
    }
    jp_train_result r;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    c.stop = &stop_flag;
    /* under mpirun: one rank of a data-parallel run (dist_mpi.c) */
    jp_dist dist;
    int ranks = 0;
    if (jp_cli_dist_start(&dist, &ranks, &err)) {
        fprintf(stderr, "jempp train: %s\n", err.msg);
        return 2;
    }
    jp_cli_device dev;
    if (jp_cli_device_open(&dev, c.device, c.tf32, c.deterministic, &err)) {
        fprintf(stderr, "jempp train: %s\n", err.msg);
        jp_cli_dist_end(ranks);
        return 2;
    }
    c.kernels.device = dev.dev;
    if (dev.dev) snprintf(c.device, sizeof c.device, "%s", dev.name);
    jp_cli_comm comm;
    if (jp_cli_comm_open(&comm, c.comm, ranks ? &dist : NULL, &dev, &err)) {
        fprintf(stderr, "jempp train%s: %s\n", ranks ? " (every rank)" : "", err.msg);
        jp_cli_device_close(&dev);
        jp_cli_dist_end(ranks);
        return 2;
    }
    c.dist = comm.dist;
    if (!c.quiet && (!ranks || dist.rank == 0)) {
        printf("device: %s\n", dev.describe);
        if (comm.dist) printf("collectives: %s\n", comm.describe);
    }
    jp_status st = jp_train_run_hooked(&c, &hooks, &r, &err);
    if (st && ranks && st != JP_ERR_INTERRUPTED) { /* the other ranks would wait for this one */
        fprintf(stderr, "jempp train (rank %d of %d): %s; stopping the job\n", dist.rank, dist.size, err.msg);
        comm.dist->abort(comm.dist->ctx, 1);
    }
    jp_cli_comm_close(&comm);
    jp_cli_device_close(&dev);
    jp_cli_dist_end(ranks);
    if (st) {
        fprintf(stderr, "jempp train: %s\n", err.msg);
        return st == JP_ERR_INTERRUPTED ? 130 : 1;
    }
    if (ranks && dist.rank > 0) return 0; /* rank 0 reports */
    char best[160];
    if (r.best_iter >= 0)
        snprintf(best, sizeof best, "best.safetensors: epoch %lld, iteration %lld, valid %.4f, test %.4f",
                 (long long)r.best_epoch, (long long)r.best_iter, r.best_valid_acc, r.best_test_acc);
    else
        snprintf(best, sizeof best, "no best.safetensors: %s", r.n_valid > 0 ? "no epoch-end evaluation yet"
                                                                             : "no validation split");
    printf("final model (last.safetensors, iteration %lld): test accuracy %.4f; %s; %.1f s (%.3f s per training "
           "step; the rest: evaluation, samples, checkpoints), %d recoveries; results in %s\n",
           (long long)r.iters, r.test_acc, best, r.seconds, r.seconds_per_iter, r.recoveries, c.save_dir);
    return 0;
}
