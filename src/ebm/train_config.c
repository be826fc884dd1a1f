/* Training configuration: the reference's defaults, presets, validation. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "jempp/train.h"

void jp_train_config_defaults(jp_train_config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->dataset, sizeof c->dataset, "fashionmnist");
    c->n_valid = 5000;
    c->labels_per_class = -1;
    c->flip = -1;
    c->pad = 4;
    c->sigma = 0.03f;
    c->depth = 28;
    c->width = 10;
    c->norm = JP_NORM_BATCH;
    c->winograd = 1;
    c->p_x_weight = 1.0f;
    c->p_y_given_x_weight = 1.0f;
    jp_sampler_config_pyld(&c->sampler);
    c->init = JP_INIT_INFORMATIVE;
    c->buffer_size = 10000;
    c->reinit_freq = 0.05f;
    c->optimizer = JP_OPTIM_SGD;
    c->lr = 0.1f;
    c->momentum = 0.9f;
    c->weight_decay = 4e-4f;
    c->warmup_iters = 1000;
    c->n_decay = 3;
    c->decay_epochs[0] = 50;
    c->decay_epochs[1] = 100;
    c->decay_epochs[2] = 125;
    c->decay_rate = 0.2f;
    c->n_epochs = 150;
    c->batch_size = 64;
    c->seed = 1;
    snprintf(c->save_dir, sizeof c->save_dir, "runs/jempp");
    c->eval_every = 1;
    c->print_every = 100;
    c->save_every = 500;
    c->n_sample_grid = 100;
    c->diverge_loss = 1e8f;
    c->diverge_energy = 1e4f;
    c->diverge_range = 100.0f;
    c->diverge_gap = 10.0f;
    c->max_recoveries = 5;
}

jp_status jp_train_preset(jp_train_config *c, const char *name, jp_error *err)
{
    if (!strcmp(name, "jempp")) {
        jp_train_config_defaults(c);
    } else if (!strcmp(name, "jem")) {
        jp_train_config_defaults(c);
        jp_sampler_config_sgld(&c->sampler);
        c->init = JP_INIT_UNIFORM;
        c->norm = JP_NORM_NONE;
        c->optimizer = JP_OPTIM_ADAM;
        c->lr = 1e-4f;
        c->weight_decay = 0.0f;
        c->n_decay = 2;
        c->decay_epochs[0] = 160;
        c->decay_epochs[1] = 180;
        c->decay_rate = 0.3f;
        c->n_epochs = 200;
        snprintf(c->save_dir, sizeof c->save_dir, "runs/jem");
    } else if (!strcmp(name, "clf")) {
        jp_train_config_defaults(c);
        c->softmax_only = 1;
        c->p_x_weight = 0.0f;
        c->depth = 16;
        c->width = 4;
        c->n_epochs = 10;
        c->warmup_iters = 200;
        c->n_decay = 2;
        c->decay_epochs[0] = 5;
        c->decay_epochs[1] = 8;
        snprintf(c->save_dir, sizeof c->save_dir, "runs/clf");
    } else if (!strcmp(name, "fashion")) {
        /* The README's main job: JEM++ on Fashion-MNIST with a small WRN, about 15
         * minutes on 2 cores (see docs/results.md for what it reaches). */
        jp_train_config_defaults(c);
        c->depth = 10;
        c->width = 2;
        c->sampler.n_steps = 5;
        c->sampler.in_steps = 5;
        c->n_epochs = 1;
        c->max_iters = 550; /* ~1.5 s each on 2 AVX2 cores (3 training + 5 sampling passes): ~14 min */
        c->warmup_iters = 100;
        c->n_decay = 0;
        c->lr_schedule = JP_LR_COSINE; /* down to 0 at the last iteration: the short run ends settled */
        c->cosine_iters = -1; /* follows --max_iters */
        c->final_lr = 0.0f;
        c->buffer_size = 10000;
        c->print_every = 100;
        snprintf(c->save_dir, sizeof c->save_dir, "runs/fashion-jempp");
    } else {
        return jp_fail(err, JP_ERR_ARG, "--preset '%s': unknown (known: jempp, jem, clf, fashion)", name);
    }
    return JP_OK;
}

jp_status jp_train_config_check(const jp_train_config *c, jp_error *err)
{
    if (c->batch_size < 2 || c->batch_size > 4096)
        return jp_fail(err, JP_ERR_ARG, "--batch_size %d: must be between 2 and 4096", c->batch_size);
    if (c->n_epochs < 1 || c->n_epochs > 100000)
        return jp_fail(err, JP_ERR_ARG, "--n_epochs %d: must be between 1 and 100000", c->n_epochs);
    if (!(c->lr > 0) || !isfinite(c->lr))
        return jp_fail(err, JP_ERR_ARG, "--lr %g: must be a positive number", (double)c->lr);
    if (!(c->weight_decay >= 0) || !isfinite(c->weight_decay))
        return jp_fail(err, JP_ERR_ARG, "--weight_decay %g: must be >= 0", (double)c->weight_decay);
    if (!(c->reinit_freq >= 0 && c->reinit_freq <= 1))
        return jp_fail(err, JP_ERR_ARG, "--reinit_freq %g: must be in [0, 1]", (double)c->reinit_freq);
    if (!(c->sigma >= 0) || !isfinite(c->sigma))
        return jp_fail(err, JP_ERR_ARG, "--sigma %g: must be >= 0", (double)c->sigma);
    if (!isfinite(c->p_x_weight) || !isfinite(c->p_y_given_x_weight) || !isfinite(c->p_x_y_weight))
        return jp_fail(err, JP_ERR_ARG, "loss weights must be finite");
    if (c->print_every < 1) return jp_fail(err, JP_ERR_ARG, "--print_every %d: must be >= 1", c->print_every);
    if (c->eval_every < 1) return jp_fail(err, JP_ERR_ARG, "--eval_every %d: must be >= 1", c->eval_every);
    if (c->ckpt_every < 0) return jp_fail(err, JP_ERR_ARG, "--ckpt_every %d: must be >= 0", c->ckpt_every);
    if (c->uncond && (c->class_cond_p_x_sample || c->p_x_y_weight != 0.0f))
        return jp_fail(err, JP_ERR_ARG, "--uncond: the energy head has no classes, so --class_cond_p_x_sample and "
                                        "--p_x_y_weight need the class-conditional model (drop --uncond)");
    if (!(c->diverge_loss > 0) || !(c->diverge_energy > 0) || !(c->diverge_range > 0))
        return jp_fail(err, JP_ERR_ARG, "--diverge_loss, --diverge_energy and --diverge_range must be positive");
    if (!(c->diverge_gap >= 0) || !isfinite(c->diverge_gap))
        return jp_fail(err, JP_ERR_ARG, "--diverge_gap %g: must be >= 0 (0: off)", (double)c->diverge_gap);
    if (c->save_every < 0) return jp_fail(err, JP_ERR_ARG, "--save_every %d: must be >= 0", c->save_every);
    if (c->pad < 0) return jp_fail(err, JP_ERR_ARG, "--pad %d: must be >= 0", c->pad);
    if (c->lr_schedule != JP_LR_STEP && c->lr_schedule != JP_LR_COSINE)
        return jp_fail(err, JP_ERR_ARG, "lr_schedule %d: must be step or cosine", (int)c->lr_schedule);
    if (!(c->final_lr >= 0) || !isfinite(c->final_lr))
        return jp_fail(err, JP_ERR_ARG, "--final_lr %g: must be >= 0", (double)c->final_lr);
    if (c->cosine_iters < -1)
        return jp_fail(err, JP_ERR_ARG, "--cosine_iters %lld: must be >= 0 (0: --n_epochs epochs) or -1 (--max_iters)",
                       (long long)c->cosine_iters);
    if (c->warmup_iters < 0) return jp_fail(err, JP_ERR_ARG, "--warmup_iters %d: must be >= 0", c->warmup_iters);
    if (c->buffer_size < 1) return jp_fail(err, JP_ERR_ARG, "--buffer_size %d: must be >= 1", c->buffer_size);
    if (!(c->diverge_loss > 0)) return jp_fail(err, JP_ERR_ARG, "--diverge_loss must be positive");
    if (c->max_recoveries < 0) return jp_fail(err, JP_ERR_ARG, "--max_recoveries must be >= 0");
    if (c->gap_max_steps < 0 || c->gap_max_steps > 100000)
        return jp_fail(err, JP_ERR_ARG, "--gap_max_steps %d: must be between 0 (off) and 100000",
                       c->gap_max_steps);
    if (c->save_dir[0] == '\0') return jp_fail(err, JP_ERR_ARG, "--save_dir must not be empty");
    return jp_sampler_config_check(&c->sampler, err);
}
