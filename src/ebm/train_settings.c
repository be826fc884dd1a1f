/* The training settings, once: each field of jp_train_config that a user sets, with the
 * name it has as a flag of `jempp train` (--name) and as a key of config.json, its type,
 * its default (the reference's JEM++, as text), its range, its help text, and whether it
 * is part of a run's identity (written to config.json). The defaults, the presets, the
 * range checks, the command line (tools/cli/cmd_train.c) and config.json
 * (train_config_json.c) all come from this table. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jempp/train.h"

#define INF HUGE_VAL
#define JP_SETTING_MAX_LIST 64 /* the longest list setting (decay_epochs holds 16) */
#define AT(member) offsetof(jp_train_config, member)
#define SIZE(member) sizeof(((jp_train_config *)0)->member)
/* a number or a flag: lo..hi (lo excluded when lo_open) */
#define SET(n, t, member, json, def, lo, hi, lo_open, help) \
    {n, JP_SET_##t, AT(member), 0, NULL, 0, json, def, lo, hi, lo_open, help}
#define STR(n, member, json, def, help) {n, JP_SET_STR, AT(member), SIZE(member), NULL, 0, json, def, 0, 0, 0, help}
#define CHOICE(n, member, words, def, help) {n, JP_SET_CHOICE, AT(member), 0, words, 0, 1, def, 0, 0, 0, help}
#define LIST(n, member, count, def, help) \
    {n, JP_SET_INTLIST, AT(member), SIZE(member) / sizeof(int), NULL, AT(count), 1, def, 0, 0, 0, help}

/* In the order `jempp train --help` lists them. save_dir, resume and quiet are not part
 * of a run's identity (config.json holds save_dir for information only). */
static const jp_train_setting settings[] = {
    STR("dataset", dataset, 1, "fashionmnist",
        "fashionmnist, mnist, cifar10, cifar100, svhn or folder"),
    STR("data_root", data_root, 1, "",
        "folder of the data set files"),
    SET("n_valid", INT, n_valid, 1, "5000", 0, INF, 0,
        "validation images split off the training set"),
    SET("labels_per_class", INT, labels_per_class, 1, "-1", -INF, INF, 0,
        "labelled images per class (-1: all; semi-supervised otherwise)"),
    SET("flip", INT, flip, 1, "-1", -1, 1, 0,
        "horizontal flips: -1 data-set default, 0 off, 1 on"),
    SET("pad", INT, pad, 1, "4", 0, INF, 0,
        "reflect-pad by this many pixels, then crop randomly back (0: no crop)"),
    SET("sigma", FLOAT, sigma, 1, "0.03", 0, INF, 0,
        "std of the Gaussian noise added to training images"),
    SET("depth", INT, depth, 1, "28", -INF, INF, 0,
        "Wide-ResNet depth (6n+4)"),
    SET("width", INT, width, 1, "10", 1, 64, 0,
        "Wide-ResNet width factor k"),
    CHOICE("norm", norm, "none|batch", "batch",
        "normalisation layers"),
    SET("dropout_rate", FLOAT, dropout_rate, 1, "0", 0, 0.99, 0,
        "dropout between the convolutions of a block"),
    SET("winograd", BOOL, winograd, 1, "1", -INF, INF, 0,
        "the automatic choice may run Winograd F(4x4,3x3) for the 3x3 stride-1 convolutions (jempp's own; 1.2-1.7x the direct kernels' speed per iteration); --winograd 0: oneDNN's direct kernels"),
    CHOICE("conv_impl", kernels.conv, JP_CONV_IMPL_WORDS, "auto",
        "convolution implementation: auto (by layer shape, docs/design.md), or one forced for every layer it can run (onednn-direct the rest); `jempp train` prints what ran"),
    CHOICE("bn_impl", kernels.bnact, JP_BNACT_IMPL_WORDS, "auto",
        "batch norm + LeakyReLU implementation: auto (jempp-fused where it runs), onednn or jempp-fused"),
    STR("device", device, 0, "cpu",
        "where to train: cpu, cuda (GPU 0), cuda:N, or auto (the first GPU when this jempp has the CUDA backend and finds one, else the CPU); a run resumes on any device (cpu-copies: a testing aid, the CPU's kernels on separate device copies)"),
    STR("comm", comm, 0, "auto",
        "several ranks' collectives: mpi (host memory; a GPU run goes through host copies), nccl (on the GPUs' memory; also one process alone, without mpirun) or auto (nccl for GPU ranks when NCCL loads, else mpi)"),
    SET("tf32", BOOL, tf32, 0, "1", -INF, INF, 0,
        "on a GPU: TF32 tensor cores in the convolutions, as PyTorch by default (--tf32 0: full float32)"),
    SET("deterministic", BOOL, deterministic, 0, "0", -INF, INF, 0,
        "on a GPU: only deterministic cuDNN algorithms, so that a run and its resume give the same bits (CPU runs always are)"),
    SET("bf16", BOOL, kernels.bf16, 1, "0", -INF, INF, 0,
        "the automatic choice runs the 3x3 stride-2 convolutions with bfloat16 products on CPUs with AVX-512 BF16 (oneDNN's kernels: forward and backward-data at about twice the float32 rate; inputs rounded to 8 significant bits, sums and weight gradients in float32); elsewhere, and with 0, float32"),
    SET("vector_width", INT, kernels.vector_width, 1, "0", 0, 16, 0,
        "channel block of the activations: 0 the CPU's (16 with AVX-512, else 8), 8 (nChw8c, AVX2 kernels) or 16 (nChw16c, AVX-512 kernels)"),
    SET("p_x_weight", FLOAT, p_x_weight, 1, "1", -INF, INF, 0,
        "weight of the p(x) term"),
    SET("p_y_given_x_weight", FLOAT, p_y_given_x_weight, 1, "1", -INF, INF, 0,
        "weight of the p(y|x) cross-entropy"),
    SET("p_x_y_weight", FLOAT, p_x_y_weight, 1, "0", -INF, INF, 0,
        "weight of the p(x|y) term"),
    SET("uncond", BOOL, uncond, 1, "0", -INF, INF, 0,
        "unconditional JEM: log p(x) is the energy head energy_output(f(x)), not LSE of the logits"),
    SET("clf_only", BOOL, clf_only, 1, "0", -INF, INF, 0,
        "the reference's: the optimiser updates only class_output (the loss keeps every term)"),
    SET("softmax_only", BOOL, softmax_only, 1, "0", -INF, INF, 0,
        "train a plain softmax classifier: cross-entropy only, no sampling (--preset clf)"),
    SET("class_cond_p_x_sample", BOOL, class_cond_p_x_sample, 1, "0", -INF, INF, 0,
        "sample p(x) chains class-conditionally"),
    CHOICE("sampler", sampler.kind, "pyld|sgld|proximal", "pyld",
        "sampler for the p(x) term"),
    SET("n_steps", INT, sampler.n_steps, 1, "10", 0, 100000, 0,
        "PYLD M (outer steps) / SGLD K"),
    SET("in_steps", INT, sampler.in_steps, 1, "5", 1, 100000, 0,
        "PYLD N (inner steps)"),
    SET("pyld_lr", FLOAT, sampler.pyld_lr, 1, "0.2", -INF, INF, 0,
        "PYLD inner step size"),
    SET("eps", FLOAT, sampler.eps, 1, "1", 0, INF, 1,
        "gradient clamp of PYLD and proximal SGLD"),
    SET("sgld_lr", FLOAT, sampler.sgld_lr, 1, "0", -INF, INF, 0,
        "SGLD step size; PYLD: when > 0, a clamped step of this size on the outer gradient before each inner loop (the authors' sample_q; 0: off)"),
    SET("sgld_std", FLOAT, sampler.sgld_std, 1, "0", 0, INF, 0,
        "SGLD noise std; PYLD: noise added once per outer step after the inner loop, unclamped (the authors' sample_q; 0: off)"),
    SET("eval_mode_sampling", BOOL_NOT, sampler.train_mode, 1, "0", -INF, INF, 0,
        "sample with the model in eval mode (running BN statistics)"),
    SET("sample_clamp", BOOL, sampler.clamp, 1, "1", -INF, INF, 0,
        "keep the chains in [-1, 1] (SGLD, proximal SGLD; PYLD always clamps)"),
    CHOICE("init", init, "uniform|informative", "informative",
        "initial distribution of the chains"),
    SET("buffer_size", INT, buffer_size, 1, "10000", 1, INF, 0,
        "replay buffer size"),
    SET("reinit_freq", FLOAT, reinit_freq, 1, "0.05", 0, 1, 0,
        "probability of restarting a chain"),
    CHOICE("optimizer", optimizer, "sgd|adam", "sgd",
        "optimiser"),
    SET("lr", FLOAT, lr, 1, "0.1", 0, INF, 1,
        "learning rate"),
    SET("momentum", FLOAT, momentum, 1, "0.9", 0, INF, 0,
        "SGD momentum"),
    SET("weight_decay", FLOAT, weight_decay, 1, "0.0004", 0, INF, 0,
        "L2 weight decay"),
    SET("warmup_iters", INT, warmup_iters, 1, "1000", 0, INF, 0,
        "linear learning-rate warmup iterations"),
    LIST("decay_epochs", decay_epochs, n_decay, "50,100,125",
        "epochs at whose start lr *= decay_rate"),
    SET("decay_rate", FLOAT, decay_rate, 1, "0.2", 0, INF, 0,
        "learning-rate decay factor"),
    CHOICE("lr_schedule", lr_schedule, "step|cosine", "step",
        "step: lr *= decay_rate at --decay_epochs (the reference); cosine: from lr down to --final_lr over --n_epochs or --cosine_iters (after the warmup; decay epochs ignored)"),
    SET("final_lr", FLOAT, final_lr, 1, "0", 0, INF, 0,
        "cosine: learning rate at the end of the cosine"),
    SET("cosine_iters", I64, cosine_iters, 1, "0", -1, INF, 0,
        "cosine: its length in iterations, reaching --final_lr there (0: --n_epochs epochs; -1: --max_iters)"),
    SET("n_epochs", INT, n_epochs, 1, "150", 1, 100000, 0,
        "epochs"),
    SET("batch_size", INT, batch_size, 1, "64", 2, 4096, 0,
        "batch size"),
    SET("sync_bn", BOOL, sync_bn, 1, "0", -INF, INF, 0,
        "with mpirun: batch-norm statistics over the whole global batch (PyTorch's SyncBatchNorm; jempp's fused batch norm), not each rank's share"),
    SET("max_iters", I64, max_iters, 1, "0", 0, INF, 0,
        "stop after this many iterations (0: no limit)"),
    SET("seed", U64, seed, 1, "1", -INF, INF, 0,
        "random seed"),
    STR("save_dir", save_dir, 0, "runs/jempp",
        "run directory"),
    STR("load_path", load_path, 1, "",
        "start from this checkpoint's model weights (and its replay buffer when it holds one of this run's shape), with a fresh optimizer and schedule: e.g. a converted reference checkpoint, or a run's weights under new settings"),
    STR("resume", resume, 0, "",
        "continue the run in this directory exactly, with its config.json (flags given override it)"),
    SET("ckpt_every", INT, ckpt_every, 1, "0", 0, INF, 0,
        "epochs between numbered checkpoints (0: none)"),
    SET("max_file_mb", INT, max_file_mb, 0, "0", 0, 1048576, 0,
        "no checkpoint file larger than this many MiB (0: one file each): a larger checkpoint is written as NAME.safetensors with its tensors in parts beside it (NAME.ID.part-K-of-N.safetensors), which jempp reads back as one; for file systems or transfers with a size limit"),
    SET("save_every", INT, save_every, 1, "500", 0, INF, 0,
        "iterations between rewrites of last.safetensors within an epoch (0: epoch ends only)"),
    SET("eval_every", INT, eval_every, 1, "1", 1, INF, 0,
        "epochs between evaluations"),
    SET("print_every", INT, print_every, 1, "100", 1, INF, 0,
        "iterations between progress lines and sample grids"),
    SET("n_sample_grid", INT, n_sample_grid, 1, "100", 1, 10000, 0,
        "images in a sample grid (samples_*.png)"),
    SET("diverge_loss", FLOAT, diverge_loss, 1, "1e+08", 0, INF, 1,
        "|loss| above this counts as divergence"),
    SET("diverge_energy", FLOAT, diverge_energy, 1, "10000", 0, INF, 1,
        "|mean LSE| of data or samples above this counts as divergence (energies running away)"),
    SET("diverge_gap", FLOAT, diverge_gap, 1, "10", 0, INF, 0,
        "a running mean (~20 iterations) of |LSE(data) - LSE(samples)| above this counts as divergence: the sampler lost the data (0: off)"),
    SET("diverge_range", FLOAT, diverge_range, 1, "100", 0, INF, 1,
        "a sample value |x| above this counts as divergence (samples leaving the valid range)"),
    SET("max_recoveries", INT, max_recoveries, 1, "5", 0, INF, 0,
        "automatic rollbacks before giving up"),
    SET("gap_max_steps", INT, gap_max_steps, 1, "0", 0, 100000, 0,
        "after the gap detector fires the run rolls back and doubles the sampler's outer steps (--n_steps), up to this many; beyond it (and with 0) it halves the lr instead"),
    SET("quiet", BOOL, quiet, 0, "0", -INF, INF, 0,
        "no progress output"),
};

/* The presets: settings that differ from the defaults (the reference's JEM++), as
 * name=value words. */
static const struct {
    const char *name, *settings;
} presets[] = {
    {"jempp", ""},
    {"jem", "sampler=sgld n_steps=20 in_steps=1 sgld_lr=1 sgld_std=0.01 eval_mode_sampling=1 sample_clamp=0 "
            "init=uniform norm=none optimizer=adam lr=1e-4 weight_decay=0 decay_epochs=160,180 decay_rate=0.3 "
            "n_epochs=200 save_dir=runs/jem"},
    {"clf", "softmax_only=1 p_x_weight=0 depth=16 width=4 n_epochs=10 warmup_iters=200 decay_epochs=5,8 "
            "save_dir=runs/clf"},
    /* The README's main job: JEM++ on Fashion-MNIST with a small WRN, a few minutes on 2
     * cores (docs/results.md): 550 iterations, a cosine down to 0 at the last one, so the
     * short run ends settled. */
    {"fashion", "depth=10 width=2 n_steps=5 in_steps=5 n_epochs=1 max_iters=550 warmup_iters=100 decay_epochs= "
                "lr_schedule=cosine cosine_iters=-1 final_lr=0 save_dir=runs/fashion-jempp"},
};

const jp_train_setting *jp_train_settings(int *n)
{
    *n = (int)(sizeof settings / sizeof *settings);
    return settings;
}

const jp_train_setting *jp_train_setting_find(const char *name)
{
    for (size_t i = 0; i < sizeof settings / sizeof *settings; i++)
        if (!strcmp(settings[i].name, name)) return &settings[i];
    return NULL;
}

/* The index of word in "a|b|c", or -1. */
static int choice_index(const char *words, const char *word)
{
    size_t len = strlen(word);
    int k = 0;
    for (const char *p = words; p; k++) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n == len && !strncmp(p, word, n)) return k;
        p = bar ? bar + 1 : NULL;
    }
    return -1;
}

jp_status jp_train_setting_parse(jp_train_config *c, const jp_train_setting *s, const char *text, jp_error *err)
{
    char *p = (char *)c + s->offset, *end = NULL;
    errno = 0;
    switch (s->type) {
    case JP_SET_INT:
    case JP_SET_I64: {
        long long v = strtoll(text, &end, 10);
        if (!*text || *end || errno || (s->type == JP_SET_INT && (v < INT32_MIN || v > INT32_MAX)))
            return jp_fail(err, JP_ERR_ARG, "--%s '%s': expected an integer", s->name, text);
        if (s->type == JP_SET_INT) *(int *)p = (int)v;
        else *(int64_t *)p = v;
        return JP_OK;
    }
    case JP_SET_U64: {
        unsigned long long v = strtoull(text, &end, 10);
        if (!*text || *end || errno || text[0] == '-')
            return jp_fail(err, JP_ERR_ARG, "--%s '%s': expected a non-negative integer", s->name, text);
        *(uint64_t *)p = v;
        return JP_OK;
    }
    case JP_SET_FLOAT: {
        double v = strtod(text, &end);
        if (!*text || *end || !isfinite(v) || fabs(v) > 3.4e38)
            return jp_fail(err, JP_ERR_ARG, "--%s '%s': expected a finite number", s->name, text);
        *(float *)p = (float)v;
        return JP_OK;
    }
    case JP_SET_BOOL:
    case JP_SET_BOOL_NOT: {
        int on = !strcmp(text, "1") || !strcasecmp(text, "true") || !strcasecmp(text, "on");
        if (!on && strcmp(text, "0") && strcasecmp(text, "false") && strcasecmp(text, "off"))
            return jp_fail(err, JP_ERR_ARG, "--%s '%s': expected 0, 1, true or false", s->name, text);
        *(int *)p = s->type == JP_SET_BOOL ? on : !on;
        return JP_OK;
    }
    case JP_SET_STR:
        if (strlen(text) >= s->size)
            return jp_fail(err, JP_ERR_ARG, "--%s: longer than %zu characters", s->name, s->size - 1);
        memcpy(p, text, strlen(text) + 1);
        return JP_OK;
    case JP_SET_CHOICE: {
        int k = choice_index(s->choices, text);
        if (k < 0) return jp_fail(err, JP_ERR_ARG, "--%s '%s': expected one of %s", s->name, text, s->choices);
        *(int *)p = k;
        return JP_OK;
    }
    case JP_SET_INTLIST: { /* comma- or space-separated; "" is the empty list */
        int list[JP_SETTING_MAX_LIST], n = 0;
        JP_CHECK(s->size <= JP_SETTING_MAX_LIST);
        for (const char *q = text; *q;) {
            if (*q == ',' || *q == ' ') {
                q++;
                continue;
            }
            long v = strtol(q, &end, 10);
            if (end == q || v < 0 || v > INT32_MAX || (*end && *end != ',' && *end != ' '))
                return jp_fail(err, JP_ERR_ARG, "--%s '%s': expected non-negative integers", s->name, text);
            if ((size_t)n >= s->size) return jp_fail(err, JP_ERR_ARG, "--%s: at most %zu values", s->name, s->size);
            list[n++] = (int)v;
            q = end;
        }
        memcpy(p, list, (size_t)n * sizeof(int)); /* only now: a bad text changes nothing */
        *(int *)((char *)c + s->count_offset) = n;
        return JP_OK;
    }
    }
    return JP_OK;
}

/* name=value words onto c. */
static jp_status apply_words(jp_train_config *c, const char *words, jp_error *err)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", words);
    for (char *save = NULL, *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(w, '=');
        JP_CHECK(eq != NULL);
        *eq = '\0';
        const jp_train_setting *s = jp_train_setting_find(w);
        JP_CHECK(s != NULL);
        jp_status st = jp_train_setting_parse(c, s, eq + 1, err);
        if (st) return st;
    }
    return JP_OK;
}

void jp_train_config_defaults(jp_train_config *c)
{
    memset(c, 0, sizeof *c);
    jp_error err;
    for (size_t i = 0; i < sizeof settings / sizeof *settings; i++)
        JP_CHECK(jp_train_setting_parse(c, &settings[i], settings[i].def, &err) == JP_OK);
}

jp_status jp_train_preset(jp_train_config *c, const char *name, jp_error *err)
{
    for (size_t i = 0; i < sizeof presets / sizeof *presets; i++)
        if (!strcmp(presets[i].name, name)) {
            jp_train_config_defaults(c);
            jp_status st = apply_words(c, presets[i].settings, err);
            JP_CHECK(st == JP_OK); /* the table's own words */
            return JP_OK;
        }
    return jp_fail(err, JP_ERR_ARG, "--preset '%s': unknown (known: jempp, jem, clf, fashion)", name);
}

jp_status jp_train_settings_check(const jp_train_config *c, jp_error *err)
{
    for (size_t i = 0; i < sizeof settings / sizeof *settings; i++) {
        const jp_train_setting *s = &settings[i];
        const char *p = (const char *)c + s->offset;
        double v;
        if (s->type == JP_SET_CHOICE) { /* an enum set by a program: one of the words */
            int k = *(const int *)p, words = 1;
            for (const char *q = s->choices; (q = strchr(q, '|')); q++) words++;
            if (k < 0 || k >= words)
                return jp_fail(err, JP_ERR_ARG, "%s %d: must be one of %s (0..%d)", s->name, k, s->choices, words - 1);
            continue;
        }
        if (s->type == JP_SET_INT) v = *(const int *)p;
        else if (s->type == JP_SET_I64) v = (double)*(const int64_t *)p;
        else if (s->type == JP_SET_FLOAT) v = *(const float *)p;
        else continue;
        if (!isfinite(v)) return jp_fail(err, JP_ERR_ARG, "--%s %g: must be a finite number", s->name, v);
        if (v < s->lo || (s->lo_open && v == s->lo) || v > s->hi) {
            if (s->hi == INF)
                return jp_fail(err, JP_ERR_ARG, "--%s %g: must be %s %g", s->name, v, s->lo_open ? ">" : ">=", s->lo);
            return jp_fail(err, JP_ERR_ARG, "--%s %g: must be between %g and %g", s->name, v, s->lo, s->hi);
        }
    }
    return JP_OK;
}
