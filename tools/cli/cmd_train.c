/* jempp train: flags named as the reference's train script, presets, the run. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ebm/train_hooks.h"
#include "commands.h"
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
    int sampler = (int)c.sampler.kind, init = (int)c.init, norm = (int)c.norm, opt = (int)c.optimizer;
    int conv_impl = (int)c.kernels.conv, bn_impl = (int)c.kernels.bnact;
    int sched = (int)c.lr_schedule;
    int eval_sampling = !c.sampler.train_mode;
    jp_flag flags[] = {
        {"preset", FLAG_STR, preset_buf, sizeof preset_buf, NULL, NULL, "configuration to start from: jempp, jem, clf, fashion"},
        {"dataset", FLAG_STR, c.dataset, sizeof c.dataset, NULL, NULL, "fashionmnist, mnist, cifar10, cifar100, svhn or folder"},
        {"data_root", FLAG_STR, c.data_root, sizeof c.data_root, NULL, NULL, "folder of the data set files"},
        {"n_valid", FLAG_INT, &c.n_valid, 0, NULL, NULL, "validation images split off the training set"},
        {"labels_per_class", FLAG_INT, &c.labels_per_class, 0, NULL, NULL, "labelled images per class (-1: all; semi-supervised otherwise)"},
        {"flip", FLAG_INT, &c.flip, 0, NULL, NULL, "horizontal flips: -1 data-set default, 0 off, 1 on"},
        {"pad", FLAG_INT, &c.pad, 0, NULL, NULL, "reflect-pad by this many pixels, then crop randomly back (0: no crop)"},
        {"sigma", FLAG_FLOAT, &c.sigma, 0, NULL, NULL, "std of the Gaussian noise added to training images"},
        {"depth", FLAG_INT, &c.depth, 0, NULL, NULL, "Wide-ResNet depth (6n+4)"},
        {"width", FLAG_INT, &c.width, 0, NULL, NULL, "Wide-ResNet width factor k"},
        {"norm", FLAG_CHOICE, &norm, 0, NULL, "none|batch", "normalisation layers"},
        {"dropout_rate", FLAG_FLOAT, &c.dropout_rate, 0, NULL, NULL, "dropout between the convolutions of a block"},
        {"winograd", FLAG_BOOL, &c.winograd, 0, NULL, NULL, "the automatic choice may run Winograd F(4x4,3x3) for the 3x3 stride-1 convolutions (jempp's own; 1.2-1.7x the direct kernels' speed per iteration); --winograd 0: oneDNN's direct kernels"},
        {"conv_impl", FLAG_CHOICE, &conv_impl, 0, NULL, JP_CONV_IMPL_WORDS, "convolution implementation: auto (by layer shape, docs/design.md), or one forced for every layer it can run (onednn-direct the rest); `jempp train` prints what ran"},
        {"bn_impl", FLAG_CHOICE, &bn_impl, 0, NULL, JP_BNACT_IMPL_WORDS, "batch norm + LeakyReLU implementation: auto (jempp-fused where it runs), onednn or jempp-fused"},
        {"vector_width", FLAG_INT, &c.kernels.vector_width, 0, NULL, NULL, "channel block of the activations: 0 the CPU's (16 with AVX-512, else 8), 8 (nChw8c, AVX2 kernels) or 16 (nChw16c, AVX-512 kernels)"},
        {"p_x_weight", FLAG_FLOAT, &c.p_x_weight, 0, NULL, NULL, "weight of the p(x) term"},
        {"p_y_given_x_weight", FLAG_FLOAT, &c.p_y_given_x_weight, 0, NULL, NULL, "weight of the p(y|x) cross-entropy"},
        {"p_x_y_weight", FLAG_FLOAT, &c.p_x_y_weight, 0, NULL, NULL, "weight of the p(x|y) term"},
        {"uncond", FLAG_BOOL, &c.uncond, 0, NULL, NULL, "unconditional JEM: log p(x) is the energy head energy_output(f(x)), not LSE of the logits"},
        {"clf_only", FLAG_BOOL, &c.clf_only, 0, NULL, NULL, "the reference's: the optimiser updates only class_output (the loss keeps every term)"},
        {"softmax_only", FLAG_BOOL, &c.softmax_only, 0, NULL, NULL, "train a plain softmax classifier: cross-entropy only, no sampling (--preset clf)"},
        {"class_cond_p_x_sample", FLAG_BOOL, &c.class_cond_p_x_sample, 0, NULL, NULL, "sample p(x) chains class-conditionally"},
        {"sampler", FLAG_CHOICE, &sampler, 0, NULL, "pyld|sgld|proximal", "sampler for the p(x) term"},
        {"n_steps", FLAG_INT, &c.sampler.n_steps, 0, NULL, NULL, "PYLD M (outer steps) / SGLD K"},
        {"in_steps", FLAG_INT, &c.sampler.in_steps, 0, NULL, NULL, "PYLD N (inner steps)"},
        {"pyld_lr", FLAG_FLOAT, &c.sampler.pyld_lr, 0, NULL, NULL, "PYLD inner step size"},
        {"eps", FLAG_FLOAT, &c.sampler.eps, 0, NULL, NULL, "gradient clamp of PYLD and proximal SGLD"},
        {"sgld_lr", FLAG_FLOAT, &c.sampler.sgld_lr, 0, NULL, NULL, "SGLD step size; PYLD: when > 0, a clamped step of this size on the outer gradient before each inner loop (the authors' sample_q; 0: off)"},
        {"sgld_std", FLAG_FLOAT, &c.sampler.sgld_std, 0, NULL, NULL, "SGLD noise std; PYLD: noise added once per outer step after the inner loop, unclamped (the authors' sample_q; 0: off)"},
        {"eval_mode_sampling", FLAG_BOOL, &eval_sampling, 0, NULL, NULL, "sample with the model in eval mode (running BN statistics)"},
        {"init", FLAG_CHOICE, &init, 0, NULL, "uniform|informative", "initial distribution of the chains"},
        {"buffer_size", FLAG_INT, &c.buffer_size, 0, NULL, NULL, "replay buffer size"},
        {"reinit_freq", FLAG_FLOAT, &c.reinit_freq, 0, NULL, NULL, "probability of restarting a chain"},
        {"optimizer", FLAG_CHOICE, &opt, 0, NULL, "sgd|adam", "optimiser"},
        {"lr", FLAG_FLOAT, &c.lr, 0, NULL, NULL, "learning rate"},
        {"momentum", FLAG_FLOAT, &c.momentum, 0, NULL, NULL, "SGD momentum"},
        {"weight_decay", FLAG_FLOAT, &c.weight_decay, 0, NULL, NULL, "L2 weight decay"},
        {"warmup_iters", FLAG_INT, &c.warmup_iters, 0, NULL, NULL, "linear learning-rate warmup iterations"},
        {"decay_epochs", FLAG_INTLIST, c.decay_epochs, 16, &c.n_decay, NULL, "epochs at whose start lr *= decay_rate"},
        {"decay_rate", FLAG_FLOAT, &c.decay_rate, 0, NULL, NULL, "learning-rate decay factor"},
        {"lr_schedule", FLAG_CHOICE, &sched, 0, NULL, "step|cosine", "step: lr *= decay_rate at --decay_epochs (the reference); cosine: from lr down to --final_lr over --n_epochs or --cosine_iters (after the warmup; decay epochs ignored)"},
        {"final_lr", FLAG_FLOAT, &c.final_lr, 0, NULL, NULL, "cosine: learning rate at the end of the cosine"},
        {"cosine_iters", FLAG_I64, &c.cosine_iters, 0, NULL, NULL, "cosine: its length in iterations, reaching --final_lr there (0: --n_epochs epochs; -1: --max_iters)"},
        {"n_epochs", FLAG_INT, &c.n_epochs, 0, NULL, NULL, "epochs"},
        {"batch_size", FLAG_INT, &c.batch_size, 0, NULL, NULL, "batch size"},
        {"max_iters", FLAG_I64, &c.max_iters, 0, NULL, NULL, "stop after this many iterations (0: no limit)"},
        {"seed", FLAG_U64, &c.seed, 0, NULL, NULL, "random seed"},
        {"save_dir", FLAG_STR, c.save_dir, sizeof c.save_dir, NULL, NULL, "run directory"},
        {"load_path", FLAG_STR, c.load_path, sizeof c.load_path, NULL, NULL, "start from this checkpoint's model weights (and its replay buffer when it holds one of this run's shape), with a fresh optimizer and schedule: e.g. a converted reference checkpoint, or a run's weights under new settings"},
        {"resume", FLAG_STR, c.resume, sizeof c.resume, NULL, NULL, "continue the run in this directory exactly, with its config.json (flags given override it)"},
        {"ckpt_every", FLAG_INT, &c.ckpt_every, 0, NULL, NULL, "epochs between numbered checkpoints (0: none)"},
        {"save_every", FLAG_INT, &c.save_every, 0, NULL, NULL, "iterations between rewrites of last.safetensors within an epoch (0: epoch ends only)"},
        {"eval_every", FLAG_INT, &c.eval_every, 0, NULL, NULL, "epochs between evaluations"},
        {"print_every", FLAG_INT, &c.print_every, 0, NULL, NULL, "iterations between progress lines and sample grids"},
        {"diverge_loss", FLAG_FLOAT, &c.diverge_loss, 0, NULL, NULL, "|loss| above this counts as divergence"},
        {"diverge_energy", FLAG_FLOAT, &c.diverge_energy, 0, NULL, NULL, "|mean LSE| of data or samples above this counts as divergence (energies running away)"},
        {"diverge_gap", FLAG_FLOAT, &c.diverge_gap, 0, NULL, NULL, "a running mean (~20 iterations) of |LSE(data) - LSE(samples)| above this counts as divergence: the sampler lost the data (0: off)"},
        {"diverge_range", FLAG_FLOAT, &c.diverge_range, 0, NULL, NULL, "a sample value |x| above this counts as divergence (samples leaving the valid range)"},
        {"max_recoveries", FLAG_INT, &c.max_recoveries, 0, NULL, NULL, "automatic rollbacks before giving up"},
        {"gap_max_steps", FLAG_INT, &c.gap_max_steps, 0, NULL, NULL, "after the gap detector fires the run rolls back and doubles the sampler's outer steps (--n_steps), up to this many; beyond it (and with 0) it halves the lr instead"},
        {"inject_nan_iter", FLAG_I64, &hooks.nan_iter, 0, NULL, NULL, "testing aid: make the loss NaN once at this iteration"},
        {"inject_gap_iter", FLAG_I64, &hooks.gap_iter, 0, NULL, NULL, "testing aid: make the gap detector fire once at this iteration"},
        {"quiet", FLAG_BOOL, &c.quiet, 0, NULL, NULL, "no progress output"},
    };
    int nf = (int)(sizeof flags / sizeof *flags);
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
    c.sampler.kind = (jp_sampler_kind)sampler;
    c.init = (jp_init_kind)init;
    c.norm = (jp_norm)norm;
    c.kernels.conv = (jp_conv_impl_id)conv_impl;
    c.kernels.bnact = (jp_bnact_impl_id)bn_impl;
    c.optimizer = (jp_optim_kind)opt;
    c.lr_schedule = (jp_lr_kind)sched;
    c.sampler.train_mode = !eval_sampling;
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
    jp_status st = jp_train_run_hooked(&c, &hooks, &r, &err);
    if (st) {
        fprintf(stderr, "jempp train: %s\n", err.msg);
        return st == JP_ERR_INTERRUPTED ? 130 : 1;
    }
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
