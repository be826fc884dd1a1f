/* The energy-based side of a JEM: energies, samplers and the replay buffer.
 *
 * E(x) = -LSE(f(x)) with LSE = logsumexp over the class logits. The samplers move x
 * up the gradient of LSE (down the energy). */
#ifndef JEMPP_EBM_H
#define JEMPP_EBM_H

#include "jempp/core.h"
#include "jempp/wrn.h"

typedef enum { JP_SAMPLER_PYLD = 0, JP_SAMPLER_SGLD = 1, JP_SAMPLER_PROXIMAL = 2 } jp_sampler_kind;

typedef struct {
    jp_sampler_kind kind;
    int n_steps;     /* PYLD: M outer steps (full backward passes); SGLD: K steps */
    int in_steps;    /* PYLD: N inner steps per outer step */
    float pyld_lr;   /* PYLD inner step size (0.2) */
    float eps;       /* clamp of the gradient, [-eps, eps] (1.0); PYLD and proximal */
    float sgld_lr;   /* SGLD / proximal step size (1.0 for JEM's SGLD); PYLD: when > 0, a
                        step x <- clamp(x + sgld_lr clamp(grad, -eps, eps), -1, 1) before
                        each outer step's inner loop (0, off) */
    float sgld_std;  /* SGLD noise std (0.01); PYLD: noise added once per outer step, after
                        the inner loop, not clamped (0, off) */
    int train_mode;  /* 1: model in train mode while sampling, as the reference's PYLD
                        (batch statistics, running statistics updated); 0: eval mode */
    int clamp;       /* 1: keep x in [-1, 1] (PYLD always does) */
} jp_sampler_config;

/* PYLD-M-N as JEM++ (defaults M = 10, N = 5, lr 0.2, eps 1, train mode). */
void jp_sampler_config_pyld(jp_sampler_config *c);
/* SGLD-K as JEM (K = 20, step 1, noise 0.01, eval mode, no clamp). */
void jp_sampler_config_sgld(jp_sampler_config *c);
jp_status jp_sampler_config_check(const jp_sampler_config *c, jp_error *err);

/* Scratch for a sampler run on a model: allocated once, on the model's device (its
 * arrays are device arrays; lse_host is the host's copy of the log densities). */
typedef struct {
    int n, dim, n_classes;
    const jp_device *dev;
    float *logits, *dlogits, *grad, *noise, *lse;
    float *lse_host;
} jp_sampler_work;

jp_status jp_sampler_work_init(jp_sampler_work *w, const jp_wrn *m, jp_error *err);
void jp_sampler_work_free(jp_sampler_work *w);

/* Runs the sampler on x (n, C, H, W) in place (n = the model's batch in train mode).
 * If y is not NULL, samples the class-conditional energy -f(x)[y] instead of -LSE.
 * Parameter gradients are not touched. Returns the mean LSE at the last forward (of the
 * input of the last outer step).
 *
 * PYLD-M-N: for each of M outer steps, one forward/backward of sum_i LSE(x_i) gives
 * p = d(sum LSE)/d z0 at the first convolution's output and g = conv1^T p = grad_x;
 * then N inner steps x <- clamp(x + lr * clamp(g, -eps, eps), -1, 1). As the authors'
 * sample_q (sndnyang/JEMPP, train_jempp.py), sgld_lr > 0 adds a step
 * x <- clamp(x + sgld_lr * clamp(g, -eps, eps), -1, 1) before the inner steps and
 * sgld_std > 0 adds sgld_std * N(0, 1) after them (unclamped), once per outer step. As
 * conv1 is linear, grad_x <p, conv1(x)> = conv1^T p for every x, so g is computed once
 * per outer step: the semantics of the reference's inner loop, without its N extra
 * convolution passes.
 * SGLD-K: x <- x + lr * grad_x LSE(x) + std * N(0, 1).
 * Proximal SGLD: x <- x + (lr/2) * clamp(grad, -eps, eps) + lr * std * N(0, 1). */
double jp_sample(jp_wrn *m, jp_sampler_work *w, const jp_sampler_config *c, float *x, const int *y,
                 int n, jp_rng *rng);

/* ---- replay buffer --------------------------------------------------------- */
typedef struct {
    int size, dim, n_classes;
    float *x;  /* (size, dim) */
} jp_replay_buffer;

/* A source of fresh chains: uniform(-1, 1) or informative (class Gaussians). */
typedef void (*jp_init_fn)(void *ctx, float *x, int n, int fixed_class, jp_rng *rng);

jp_status jp_buffer_init(jp_replay_buffer *b, int size, int dim, int n_classes, jp_error *err);
/* Fills the buffer from init: with conditional segments of size/C per class (class k owns
 * slots [k*size/C, (k+1)*size/C)), as the reference's informative init does. */
void jp_buffer_fill(jp_replay_buffer *b, jp_init_fn init, void *init_ctx, int per_class,
                    jp_rng *rng);
/* Draws n slots uniformly with replacement (from class y's segment when y != NULL),
 * copies them to x, and replaces each with a fresh init sample with probability
 * reinit_freq. idx (n) receives the slots for jp_buffer_put. */
void jp_buffer_sample(const jp_replay_buffer *b, float *x, int *idx, int n, const int *y,
                      float reinit_freq, jp_init_fn init, void *init_ctx, jp_rng *rng);
/* jp_buffer_sample in its two parts, for a buffer whose copy lives elsewhere (a GPU):
 * the n slots into idx, then (after the caller's copy of those rows into x) the fresh
 * starts: row i of x (rows of b->dim) replaced with probability reinit_freq, fresh[i]
 * set to whether it was (fresh may be NULL). The same draws in the same order. */
void jp_buffer_draw_slots(const jp_replay_buffer *b, int *idx, int n, const int *y, jp_rng *rng);
void jp_buffer_reinit(const jp_replay_buffer *b, float *x, int n, const int *y, float reinit_freq,
                      jp_init_fn init, void *init_ctx, jp_rng *rng, int *fresh);
/* Writes the chains' final states back to their slots. */
void jp_buffer_put(jp_replay_buffer *b, const float *x, const int *idx, int n);
void jp_buffer_free(jp_replay_buffer *b);

/* Uniform(-1, 1) init (ctx: pointer to int dim). */
void jp_init_uniform(void *ctx, float *x, int n, int fixed_class, jp_rng *rng);
/* Informative init: draws from class Gaussians (ctx: a const jp_gauss_stats *, see
 * jp_gauss_stats_sample; fixed_class -1 draws the class from the priors). */
void jp_init_gauss(void *ctx, float *x, int n, int fixed_class, jp_rng *rng);

/* ---- chains from scratch ----------------------------------------------------- */
typedef struct {
    jp_sampler_config sc; /* sc.n_steps steps of this sampler */
    jp_init_fn init;      /* fresh chains: init(init_ctx, x, 1, class or -1, rng), chain by chain */
    void *init_ctx;
    int quiet;            /* 0: "  chains i/n" on stderr after each batch when n > the batch */
} jp_chains;

/* Runs n chains from scratch into x (n, C, H, W): per batch of the model's batch size B,
 * each chain is drawn from init (class y[i], or -1 when y is NULL: unconditional) and
 * the batch runs sc.n_steps steps of jp_sample (on -f(x)[y] when y is given, else on
 * -LSE). With sc.train_mode the batches are full: a last partial batch of nb chains is
 * padded to B with extra chains (class y[at + i mod nb]) that are dropped; the model's
 * BN running statistics are restored after every batch. trace (n_steps + 1, may be NULL)
 * receives the chains' mean energy -log p(x) before each step (from the sampler's own
 * forward) and, last, of the final states (an eval-mode pass). With frames_dir, n_frames
 * grids of the first min(n, 64) chains, frame k at step round(k S / (n_frames - 1)), are
 * written as frames_dir/frame_NNNN.png. Draws from rng in chain order, batch by batch. */
jp_status jp_chains_run(jp_wrn *m, const jp_chains *c, float *x, const int *y, int n, jp_rng *rng,
                        double *trace, const char *frames_dir, int n_frames, jp_error *err);

#endif
