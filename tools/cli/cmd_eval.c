/* jempp eval: evaluates a checkpoint (accuracy, predictions, calibration, OOD detection,
 * samples, adversarial robustness, FID/KID/IS). The flags, the checkpoint and the data
 * set; the modes are library functions (include/jempp/evaluate.h, run by
 * cmd_eval_modes.c), each writing <mode>.json and its pictures into --out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_eval.h"
#include "device_cli.h"
#include "commands.h"
#include "flags.h"
#include "jempp/checkpoint.h"
#include "jempp/safetensors.h"

/* What jp_cmd_eval opens: the flags, the model and its replay buffer, the data set. */
typedef struct {
    ev_opts o;
    jp_cli_device dev;
    jp_wrn *m;
    float *buffer; /* the checkpoint's replay buffer (buffer_n, C, H, W), or NULL */
    int buffer_n;
    jp_data data;
    int data_open;
} ev_cli;

/* cfg->image_size for the evaluation: --image_size (flag > 0) when given, else the
 * checkpoint's (metadata or replay buffer, jp_ckpt_config), else the data set's; nothing
 * is assumed. `why` says where it came from, for the note. */
static jp_status eval_image_size(const ev_opts *o_, int flag, const jp_ckpt_origin *o, jp_wrn_config *cfg, char *why,
                                 size_t len, jp_error *err)
{
    if (flag < 0) return jp_fail(err, JP_ERR_ARG, "--image_size %d: must be > 0 (0: the checkpoint's)", flag);
    if (flag > 0) {
        if (cfg->image_size > 0 && cfg->image_size != flag)
            snprintf(why, len, "--image_size; the checkpoint's %s says %d", o->size_from, cfg->image_size);
        else
            snprintf(why, len, "--image_size");
        cfg->image_size = flag;
        return JP_OK;
    }
    if (cfg->image_size > 0) {
        snprintf(why, len, "the checkpoint's %s", o->size_from);
        return JP_OK;
    }
    cfg->image_size = jp_data_image_size(o_->dataset);
    if (cfg->image_size == 0)
        return jp_fail(err, JP_ERR_ARG, "%s does not give the model's image size (no metadata 'image_size', no "
                       "replay_buffer) and data set '%s' has none built in: give it with --image_size N", o_->ckpt,
                       o_->dataset);
    snprintf(why, len, "%s's: the checkpoint does not give it; --image_size N overrides", o_->dataset);
    return JP_OK;
}

/* The model (for batches of --batch_size; its images image_size x image_size when
 * image_size > 0, see eval_image_size) and the replay buffer when the file has one. */
static jp_status load_checkpoint(ev_cli *c, int image_size, jp_error *err)
{
    jp_st_file f;
    jp_status st = jp_st_read(&f, c->o.ckpt, err);
    if (st) return st;
    jp_wrn_config cfg;
    jp_ckpt_origin origin;
    char why[160] = "";
    st = jp_ckpt_config(&f, &cfg, &origin, err);
    if (!st && !c->o.dataset[0]) {
        const char *ds = jp_st_meta(&f, "dataset");
        snprintf(c->o.dataset, sizeof c->o.dataset, "%s", ds && strlen(ds) < sizeof c->o.dataset ? ds : "fashionmnist");
    }
    if (!st) st = eval_image_size(&c->o, image_size, &origin, &cfg, why, sizeof why, err);
    cfg.kernels.device = c->dev.dev;
    if (!st) st = jp_wrn_create(&c->m, &cfg, c->o.batch_size, err);
    if (!st) st = jp_ckpt_load_model(&f, c->m, err);
    /* what the file did not say is told, --quiet or not: it decides what is evaluated */
    if (!st && origin.inferred)
        fprintf(stderr, "note: model inferred from the tensors (no jempp metadata): %s; image size %d (%s)\n",
                origin.arch, cfg.image_size, why);
    else if (!st && (image_size > 0 || !origin.size_from || strcmp(origin.size_from, "metadata")))
        fprintf(stderr, "note: image size %d (%s)\n", cfg.image_size, why);
    int C = cfg.in_channels, H = cfg.image_size, dim = C * H * H;
    const jp_st_entry *e = st ? NULL : jp_st_find(&f, "replay_buffer");
    if (e && image_size > 0 && e->ndim == 4 && e->shape[2] != image_size) {
        /* a fully convolutional model run at another size: its chains are of no use */
        fprintf(stderr, "note: replay_buffer of %lldx%lld images not used (--image_size %d)\n",
                (long long)e->shape[2], (long long)e->shape[3], image_size);
        e = NULL;
    }
    if (e) {
        int ok = e->dtype == JP_F32 && e->ndim == 4 && e->shape[1] == C && e->shape[2] == H &&
                 e->shape[3] == H && e->shape[0] > 0 && e->shape[0] < (1 << 30);
        if (!ok) {
            st = jp_fail(err, JP_ERR_SHAPE, "%s: replay_buffer is not an F32 tensor (N, %d, %d, %d) of the model's "
                         "images", c->o.ckpt, C, H, H);
        } else {
            c->buffer_n = (int)e->shape[0];
            c->buffer = jp_alloc((size_t)c->buffer_n * dim * sizeof(float));
            if (!c->buffer) st = jp_fail(err, JP_ERR_NOMEM, "replay buffer of %d images", c->buffer_n);
            else memcpy(c->buffer, jp_st_data(&f, e), (size_t)c->buffer_n * dim * sizeof(float));
        }
    }
    jp_st_close(&f);
    return st;
}


int ev_needs_data(const ev_opts *o, int has_buffer, int *need_train)
{
    *need_train = 0;
    switch ((ev_mode)o->mode) {
    case EV_SAMPLES: *need_train = o->init == 1; return *need_train;
    case EV_FID:
        if (o->fid_source == JP_FID_DATA) return 1;
        if (o->fid_source == JP_FID_BUFFER || (o->fid_source == JP_FID_AUTO && has_buffer)) return 0;
        *need_train = o->init == 1;
        return *need_train;
    default: return 1;
    }
}

/* Opens --dataset (its split --split) when the mode reads it. The validation images are
 * split off the training set (--n_valid, as in training) when the split is valid or
 * train, or the mode needs the training images; otherwise the test split reads only the
 * data set's test files, so that a machine holding only those can evaluate it. */
static jp_status open_data(ev_cli *c, jp_eval_target *t, jp_error *err)
{
    int need_train;
    if (!ev_needs_data(&c->o, c->buffer != NULL, &need_train)) return JP_OK;
    if (c->o.split == 1 && c->o.n_valid < 1)
        return jp_fail(err, JP_ERR_ARG, "--split valid needs --n_valid > 0 (it is %d)", c->o.n_valid);
    jp_data_config dc = jp_data_config_defaults();
    dc.dataset = c->o.dataset;
    dc.data_root = c->o.data_root[0] ? c->o.data_root : NULL;
    dc.test_only = c->o.split == 0 && !need_train;
    dc.n_valid = dc.test_only ? 0 : c->o.n_valid;
    jp_status st = jp_data_open(&c->data, &dc, err);
    if (st) return st;
    c->data_open = 1;
    t->data = &c->data;
    t->split = c->o.split == 0 ? &c->data.test : c->o.split == 1 ? &c->data.valid : &c->data.train;
    return JP_OK;
}

static void usage_head(void)
{
    printf("usage: jempp eval --ckpt FILE --mode MODE --out DIR [flags]\n\n"
           "Evaluates a jempp checkpoint (or one converted from the PyTorch reference, or a PyTorch\n"
           "state_dict saved as safetensors: its model is inferred from the tensors). Modes:\n"
           "  test_clf  accuracy, loss, per-class accuracy, confusion matrix (test_clf.json, confusion.png)\n"
           "  predict   per-image label, prediction, energy, log p(y|x), logits (predict.csv)\n"
           "  cali      expected calibration error, NLL, reliability diagram (cali.json, reliability.png)\n"
           "  ood       AUROC/AUPR/FPR95 of px, py, pxgrad vs shifted and other data sets (ood.json, ood_hist_*.png)\n"
           "  samples   grids from scratch and from the replay buffer, energy trace, animation frames\n"
           "  attack    PGD L-inf/L2 robust accuracy vs epsilon, optional JEM defence (attack.json, robust_*.png)\n"
           "  fid       FID/KID/IS of samples vs a reference set (Inception-v3), or a classifier-feature FID\n"
           "See docs/evaluation.md. Epsilons are in pixel units [0, 1] (8/255 is accepted).\n\n");
}

int jp_cmd_eval(int argc, char **argv)
{
    ev_cli c;
    memset(&c, 0, sizeof c);
    ev_opts *o = &c.o;
    jp_error err = {0};
    o->n_valid = 5000;
    o->batch_size = 100;
    o->seed = 1;
    snprintf(o->device, sizeof o->device, "cpu");
    o->tf32 = 1;
    jp_input_opts_defaults(&o->input);
    o->bins = 20;
    snprintf(o->ood_sets, sizeof o->ood_sets, "noise,constant,interp,invert");
    o->hist_bins = 100;
    o->n_sample_steps = 100;
    o->in_steps = 5;
    o->init = 1;
    o->n_samples = 100;
    o->per_class = 10;
    o->frames = 20;
    o->pyld_lr = 0.2f;
    o->sampler_eps = 1.0f;
    o->sample_sgld_lr = -1.0f;  /* the sampler's own default */
    o->sample_sgld_std = -1.0f;
    o->n_iter = 40;
    o->restarts = 1;
    o->n_copies = 5;
    o->refine_steps = 10;
    o->refine_sigma = 0.03f;
    snprintf(o->eps_linf, sizeof o->eps_linf, "0,1/255,2/255,4/255,8/255,16/255");
    snprintf(o->eps_l2, sizeof o->eps_l2, "0,0.125,0.25,0.5,1");
    o->ref_split = 3;
    o->n_fid = 10000;
    o->kid_subsets = 100;
    o->kid_subset_size = 1000;
    o->is_splits = 10;
    o->inception_batch = 50;
    int image_size = 0; /* --image_size: 0 = the checkpoint's, else the data set's */
    jp_flag flags[] = {
        {"ckpt", FLAG_STR, o->ckpt, sizeof o->ckpt, NULL, NULL, "checkpoint to evaluate (required)"},
        {"mode", FLAG_CHOICE, &o->mode, 0, NULL, EV_MODE_CHOICES, "what to evaluate"},
        {"out", FLAG_STR, o->out, sizeof o->out, NULL, NULL, "output folder (required; created)"},
        {"dataset", FLAG_STR, o->dataset, sizeof o->dataset, NULL, NULL, "data set (default: the checkpoint's, else fashionmnist)"},
        {"data_root", FLAG_STR, o->data_root, sizeof o->data_root, NULL, NULL, "folder of the data set files"},
        {"split", FLAG_CHOICE, &o->split, 0, NULL, EV_SPLIT_CHOICES, "split to evaluate"},
        {"n_valid", FLAG_INT, &o->n_valid, 0, NULL, NULL, "validation images split off the training set (as in training)"},
        {"max_n", FLAG_INT, &o->max_n, 0, NULL, NULL, "evaluate only the first N images of the split (0: all)"},
        {"batch_size", FLAG_INT, &o->batch_size, 0, NULL, NULL, "images per model pass"},
        {"image_size", FLAG_INT, &image_size, 0, NULL, NULL, "the model's image size (0: the checkpoint's, from its metadata or replay buffer, else the data set's; set: overrides the checkpoint's)"},
        {"seed", FLAG_U64, &o->seed, 0, NULL, NULL, "seed of every random draw (noise, shifted sets, chains, attacks)"},
        {"quiet", FLAG_BOOL, &o->quiet, 0, NULL, NULL, "no progress output"},
        {"device", FLAG_STR, o->device, sizeof o->device, NULL, NULL, "where the model runs: cpu, cuda (GPU 0), cuda:N or auto (the first GPU when there is one); Inception (fid) runs on the CPU"},
        {"tf32", FLAG_BOOL, &o->tf32, 0, NULL, NULL, "on a GPU: TF32 tensor cores in the convolutions (PyTorch's default)"},
        {"deterministic", FLAG_BOOL, &o->deterministic, 0, NULL, NULL, "on a GPU: deterministic cuDNN algorithms only"},
        {"sigma", FLAG_FLOAT, &o->input.sigma, 0, NULL, NULL, "Gaussian noise std added to inputs (test_clf/predict/cali/ood; the reference's eval uses 0.03)"},
        {"n_steps", FLAG_INT, &o->input.n_steps, 0, NULL, NULL, "SGLD refinement steps of the inputs before classifying (test_clf/predict/cali)"},
        {"sgld_lr", FLAG_FLOAT, &o->input.sgld_lr, 0, NULL, NULL, "SGLD step of the input refinement and of the attack defence"},
        {"sgld_std", FLAG_FLOAT, &o->input.sgld_std, 0, NULL, NULL, "SGLD noise of the input refinement and of the attack defence"},
        {"bins", FLAG_INT, &o->bins, 0, NULL, NULL, "cali: confidence bins of the ECE"},
        {"ood_sets", FLAG_STR, o->ood_sets, sizeof o->ood_sets, NULL, NULL, "ood: built-in shifted sets, comma-separated (noise,constant,interp,invert; 'none')"},
        {"ood_dataset", FLAG_STR, o->ood_dataset, sizeof o->ood_dataset, NULL, NULL, "ood: another data set to detect (its test split by default)"},
        {"ood_data_root", FLAG_STR, o->ood_data_root, sizeof o->ood_data_root, NULL, NULL, "ood: folder of that data set"},
        {"ood_split", FLAG_CHOICE, &o->ood_split, 0, NULL, EV_SPLIT_CHOICES, "ood: its split"},
        {"hist_bins", FLAG_INT, &o->hist_bins, 0, NULL, NULL, "ood: bins of the score histograms"},
        {"sampler", FLAG_CHOICE, &o->sampler, 0, NULL, "pyld|sgld|proximal", "samples/fid: sampler of the chains from scratch"},
        {"n_sample_steps", FLAG_INT, &o->n_sample_steps, 0, NULL, NULL, "samples/fid: sampler steps (PYLD outer steps) from scratch"},
        {"in_steps", FLAG_INT, &o->in_steps, 0, NULL, NULL, "samples/fid: PYLD inner steps"},
        {"pyld_lr", FLAG_FLOAT, &o->pyld_lr, 0, NULL, NULL, "samples/fid: PYLD inner step size"},
        {"eps", FLAG_FLOAT, &o->sampler_eps, 0, NULL, NULL, "samples/fid: gradient clamp of PYLD / proximal SGLD"},
        {"sample_sgld_lr", FLAG_FLOAT, &o->sample_sgld_lr, 0, NULL, NULL, "samples/fid: SGLD / proximal step size; PYLD: the extra step before each inner loop (-1: the sampler's default: SGLD 1, PYLD 0 = none)"},
        {"sample_sgld_std", FLAG_FLOAT, &o->sample_sgld_std, 0, NULL, NULL, "samples/fid: noise std (-1: the sampler's default: SGLD 0.01, PYLD 0; PYLD adds it once per outer step)"},
        {"init", FLAG_CHOICE, &o->init, 0, NULL, "uniform|informative", "samples/fid: initial distribution of the chains"},
        {"train_mode_sampling", FLAG_BOOL, &o->train_mode_sampling, 0, NULL, NULL, "samples/fid: sample with batch statistics (as the reference's PYLD training)"},
        {"n_samples", FLAG_INT, &o->n_samples, 0, NULL, NULL, "samples: unconditional chains from scratch"},
        {"per_class", FLAG_INT, &o->per_class, 0, NULL, NULL, "samples: conditional chains per class (one grid row per class)"},
        {"frames", FLAG_INT, &o->frames, 0, NULL, NULL, "samples: animation frames written to <out>/animation (0: none)"},
        {"norm", FLAG_CHOICE, &o->norm, 0, NULL, "linf|l2|both", "attack: threat model"},
        {"eps_linf", FLAG_STR, o->eps_linf, sizeof o->eps_linf, NULL, NULL, "attack: L-inf radii, pixel units, comma-separated (a/b allowed)"},
        {"eps_l2", FLAG_STR, o->eps_l2, sizeof o->eps_l2, NULL, NULL, "attack: L2 radii, pixel units, comma-separated"},
        {"n_iter", FLAG_INT, &o->n_iter, 0, NULL, NULL, "attack: PGD iterations"},
        {"step", FLAG_FLOAT, &o->step, 0, NULL, NULL, "attack: PGD step, pixel units (0: eps/4)"},
        {"restarts", FLAG_INT, &o->restarts, 0, NULL, NULL, "attack: random restarts (the reference uses 20)"},
        {"defence", FLAG_BOOL, &o->defence, 0, NULL, NULL, "attack: JEM's defence (noisy copies refined by SGLD, attacked with BPDA)"},
        {"n_copies", FLAG_INT, &o->n_copies, 0, NULL, NULL, "attack: noisy copies of the defence"},
        {"refine_steps", FLAG_INT, &o->refine_steps, 0, NULL, NULL, "attack: SGLD steps per copy of the defence"},
        {"refine_sigma", FLAG_FLOAT, &o->refine_sigma, 0, NULL, NULL, "attack: noise std of the defence's copies"},
        {"ref_dataset", FLAG_STR, o->ref_dataset, sizeof o->ref_dataset, NULL, NULL, "fid: reference data set (default: --dataset)"},
        {"ref_data_root", FLAG_STR, o->ref_data_root, sizeof o->ref_data_root, NULL, NULL, "fid: folder of the reference data set"},
        {"ref_split", FLAG_CHOICE, &o->ref_split, 0, NULL, "test|valid|train|all", "fid: reference images (all = train + valid + test, as the reference)"},
        {"ref_max_n", FLAG_INT, &o->ref_max_n, 0, NULL, NULL, "fid: at most this many reference images (0: all)"},
        {"fid_source", FLAG_CHOICE, &o->fid_source, 0, NULL, "auto|buffer|scratch|data", "fid: samples from the replay buffer or chains from scratch (auto: buffer if present); data: --n_fid real images of --split, the floor to read a model's FID against"},
        {"n_fid", FLAG_INT, &o->n_fid, 0, NULL, NULL, "fid: chains from scratch"},
        {"select", FLAG_FLOAT, &o->select, 0, NULL, NULL, "fid: keep the most confident per predicted class: <1 a fraction, >=1 a count (0: all)"},
        {"inception_weights", FLAG_STR, o->inception_weights, sizeof o->inception_weights, NULL, NULL, "fid: Inception-v3 FID weights (safetensors; docs/evaluation.md)"},
        {"inception_batch", FLAG_INT, &o->inception_batch, 0, NULL, NULL, "fid: images per Inception pass"},
        {"feature_ckpt", FLAG_STR, o->feature_ckpt, sizeof o->feature_ckpt, NULL, NULL, "fid: also a FID over this classifier's features (NOT comparable to Inception FID)"},
        {"kid_subsets", FLAG_INT, &o->kid_subsets, 0, NULL, NULL, "fid: KID subsets"},
        {"kid_subset_size", FLAG_INT, &o->kid_subset_size, 0, NULL, NULL, "fid: KID subset size"},
        {"is_splits", FLAG_INT, &o->is_splits, 0, NULL, NULL, "fid: Inception Score splits"},
    };
    int nf = (int)(sizeof flags / sizeof *flags);
    if (jp_flags_want_help(argc, argv)) {
        usage_head();
        jp_flags_help(flags, nf, stdout);
        return 0;
    }
    if (jp_flags_parse(flags, nf, argc, argv, 1, &err)) {
        fprintf(stderr, "jempp eval: %s\n", err.msg);
        return 2;
    }
    const char *bad = !o->ckpt[0] ? "--ckpt FILE is required" : !o->out[0] ? "--out DIR is required" :
                      o->batch_size < 1 || o->batch_size > 100000 ? "--batch_size must be between 1 and 100000" :
                      o->max_n < 0 ? "--max_n must be >= 0" : NULL;
    if (bad) {
        fprintf(stderr, "jempp eval: %s (see --help)\n", bad);
        return 2;
    }
    static const char *splits[] = {"test", "valid", "train"};
    if (jp_cli_device_open(&c.dev, o->device, o->tf32, o->deterministic, &err)) {
        fprintf(stderr, "jempp eval: %s\n", err.msg);
        return 2;
    }
    if (!o->quiet) fprintf(stderr, "device: %s\n", c.dev.describe);
    jp_status st = load_checkpoint(&c, image_size, &err);
    jp_eval_target t = jp_eval_target_init(c.m);
    t.ckpt = o->ckpt;
    t.split_name = splits[o->split];
    t.dataset = o->dataset;
    t.data_root = o->data_root;
    t.n_valid = o->n_valid;
    t.max_n = o->max_n;
    t.buffer = c.buffer;
    t.buffer_n = c.buffer_n;
    t.seed = o->seed;
    t.quiet = o->quiet;
    t.out = o->out;
    if (!st) st = jp_mkdirs(o->out, &err);
    if (!st) {
        double t0 = jp_now();
        st = open_data(&c, &t, &err);
        if (!st) st = ev_run_mode(o, &t, &err);
        if (!st && !o->quiet) fprintf(stderr, "done in %.1f s; results in %s\n", jp_now() - t0, o->out);
    }
    if (st) fprintf(stderr, "jempp eval: %s\n", err.msg);
    if (c.data_open) jp_data_close(&c.data);
    jp_free(c.buffer);
    jp_wrn_free(c.m);
    jp_cli_device_close(&c.dev);
    return st ? 1 : 0;
}
