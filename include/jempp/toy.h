/* The 2-D toy: an MLP energy model (mlp.h) trained by persistent contrastive
 * divergence on a mixture of 8 Gaussians or on concentric rings, with the JEM samplers
 * (SGLD, proximal SGLD, PYLD) and the replay buffer of ebm.h. Small enough to check
 * that the whole EBM machinery learns a density: the learned exp(-E) and the samples
 * can be compared with the truth mode by mode.
 *
 * ---- data (both live in the box [-JP_TOY_BOX, JP_TOY_BOX]^2) ----
 * 8gaussians (FFJORD's toy, with sqrt(2) for its 1.414): pick k uniformly in 0..7,
 *   x = R (cos(k pi/4), sin(k pi/4)) + s N(0, I),   R = 2 sqrt(2) ~ 2.83, s = 0.5/sqrt(2) ~ 0.354.
 * rings: three circles of radii R_k = 1, 2, 3 (k = 0, 1, 2), ring k picked with
 *   probability R_k / 6 (so the points are uniform along the circles' total length and
 *   every ring has the same density per unit length: 1/6, 1/3, 1/2), theta uniform in
 *   [0, 2 pi),  x = R_k (cos theta, sin theta) + 0.1 N(0, I).
 *
 * Mode regions, for comparing masses (two granularities, `cells` below):
 *   tight (cells = 0): "near the mode". 8gaussians: the disc of radius 2.5 s ~ 0.884
 *     around the centre (true mass (1/8)(1 - e^-3.125) = 0.1195 each, 0.956 in all);
 *     rings: the annulus | |x| - R_k | < 1/3 (3.3 noise std; 0.999 of the mass).
 *   cells (cells = 1): "closest to that mode": the points whose nearest mode (centre, or
 *     circle) lies closer than half the distance between neighbouring modes (8gaussians:
 *     R sin(pi/8) ~ 1.082; rings: 0.5). Every point near the data falls in one cell; what
 *     is left is far from all modes.
 *
 * ---- model and training ----
 * f = MLP 2 -> H -> ... -> 1 (LeakyReLU 0.2); E(x) = -f(x), p(x) ~ exp(f(x)).
 * Each iteration: B fresh data points x_d; B chains x_q drawn from the replay buffer
 * (size 10000, each restarted from Uniform(box) with probability reinit_freq),
 * refined by the sampler and written back; then one Adam step (cosine lr schedule) on
 *   L = mean f(x_q) - mean f(x_d) + l2 * (mean f(x_d)^2 + mean f(x_q)^2)
 * (the second term, as IGEBM's energy regulariser, keeps f from drifting; l2 = 0
 * turns it off).
 *   dL/df(x_d,i) = (-1 + 2 l2 f(x_d,i)) / B,   dL/df(x_q,i) = (1 + 2 l2 f(x_q,i)) / B.
 * Samplers, moving x up grad_x f (down the energy), every step clamped to the box:
 *   sgld:     K steps  x <- x + step * g + noise * N(0, I)   (Langevin for p: noise = sqrt(2 step))
 *   proximal: K steps  x <- x + (step/2) clamp(g, -eps, eps) + step * noise * N(0, I)
 *   pyld:     M outer steps each computing g once (exact: the first layer is linear, so
 *             YOPO's slack gives grad_x), then N inner steps
 *             x <- x + step * clamp(g, -eps, eps) + noise * N(0, I)
 * (the formulas of ebm.h's samplers). Everything is seeded by cfg.seed through one
 * RNG stream and the kernels are thread-count independent: a run is deterministic. */
#ifndef JEMPP_TOY_H
#define JEMPP_TOY_H

#include <stdint.h>

#include "jempp/core.h"
#include "jempp/ebm.h"
#include "jempp/mlp.h"
#include "jempp/optim.h"

typedef enum { JP_TOY_8GAUSSIANS = 0, JP_TOY_RINGS = 1 } jp_toy_kind;

#define JP_TOY_BOX 4.0f    /* the data box is [-4, 4]^2 */
#define JP_TOY_MAX_MODES 8

/* ---- data ------------------------------------------------------------------ */
const char *jp_toy_name(jp_toy_kind k); /* "8gaussians", "rings" */
/* Parses a data set name; JP_ERR_ARG naming the choices otherwise. */
jp_status jp_toy_parse(const char *name, jp_toy_kind *k, jp_error *err);
int jp_toy_n_modes(jp_toy_kind k); /* 8 or 4 */
/* n points (n, 2) of the data distribution. */
void jp_toy_draw(jp_toy_kind k, float *x, int n, jp_rng *rng);
/* Mode m's tight region: the points whose distance to (cx, cy) lies in [r_in, r_out)
 * (a disc around a Gaussian's centre: r_in = 0; an annulus around the origin for a ring). */
void jp_toy_region(jp_toy_kind k, int m, double *cx, double *cy, double *r_in, double *r_out);
/* The mode whose tight region (cells = 0) or cell (cells = 1) holds (x, y), or -1. */
int jp_toy_mode_of(jp_toy_kind k, int cells, float x, float y);
/* mass[m] = fraction of the n points in mode m's region or cell, m < n_modes;
 * mass[n_modes] = the fraction in none. */
void jp_toy_mode_mass(jp_toy_kind k, int cells, const float *x, int n, double *mass);
/* The same for the data distribution itself (Monte Carlo over 10^6 points with a fixed
 * seed: standard error below 5e-4). */
void jp_toy_true_mass(jp_toy_kind k, int cells, double *mass);

/* ---- training -------------------------------------------------------------- */
typedef struct {
    jp_toy_kind data;
    int hidden, n_hidden;    /* MLP width H and hidden layers (64, 3) */
    float slope;             /* LeakyReLU slope (0.2) */
    int batch_size;          /* B data points and B chains per iteration */
    double lr, beta1, beta2; /* Adam */
    int iters;               /* > 0: cosine decay of the lr from lr to final_lr over this many
                                iterations (then final_lr); 0: constant lr */
    double final_lr;
    float l2;                /* energy regulariser weight (see above) */
    jp_sampler_kind sampler; /* sgld, proximal or pyld */
    int n_steps;             /* K (sgld, proximal) or M (pyld) */
    int in_steps;            /* N (pyld) */
    float step, noise, eps;  /* step size, noise std, gradient clamp */
    int buffer_size;         /* replay buffer (10000) */
    float reinit_freq;       /* chain restart probability (0.05) */
    uint64_t seed;
} jp_toy_config;

/* Defaults for data set k (the sampler tuned to its scale). */
void jp_toy_config_default(jp_toy_config *c, jp_toy_kind k);
jp_status jp_toy_config_check(const jp_toy_config *c, jp_error *err);

typedef struct {
    jp_toy_config cfg;
    jp_mlp mlp;            /* batch 2B: data and chains in one pass */
    jp_optim opt;
    jp_lr_schedule sched;
    jp_replay_buffer buf;
    jp_rng rng;
    float box;             /* JP_TOY_BOX (the init context of the buffer) */
    float *x;              /* (2B, 2): data rows, then chain rows */
    float *grad;           /* (2B, 2): sampler gradients */
    float *dout;           /* (2B): dL/df, and the ones the sampler backpropagates */
    int *idx;              /* (B): buffer slots of the chains */
    int64_t iter;
} jp_toy_trainer;

typedef struct {
    double loss, f_data, f_sample; /* L and the means of f at data and at the chains */
} jp_toy_stats;

/* Checks c, allocates everything, initialises the MLP and fills the buffer. */
jp_status jp_toy_trainer_init(jp_toy_trainer *t, const jp_toy_config *c, jp_error *err);
void jp_toy_trainer_free(jp_toy_trainer *t);
/* One training iteration. JP_ERR_NUMERIC when the loss is not finite. */
jp_status jp_toy_step(jp_toy_trainer *t, jp_toy_stats *s, jp_error *err);

/* Runs the configured sampler for n_steps (K, or M for pyld) on x (n, 2) in place, in
 * chunks of the MLP's batch; parameter gradients are untouched. */
void jp_toy_sample(jp_toy_trainer *t, float *x, int n, int n_steps);
/* n buffer chains spread evenly over the buffer: slot floor(i * size / n) for row i
 * (distinct when n <= size, each repeated about n / size times otherwise). */
void jp_toy_buffer_samples(const jp_toy_trainer *t, float *x, int n);
/* e[i] = E(x_i) = -f(x_i) for x (n, 2). */
void jp_toy_energy(jp_toy_trainer *t, const float *x, int n, float *e);
/* E at the centres of a side x side grid over the box: e[iy * side + ix] at
 * x = -box + (ix + 0.5) h, y = -box + (iy + 0.5) h, h = 2 box / side (iy = 0 at the
 * bottom). */
void jp_toy_energy_grid(jp_toy_trainer *t, int side, float *e);
/* The learned density's mass per tight mode region: p ~ exp(-e) normalised over the
 * grid (the box), summed over the grid cells whose centre lies in each region;
 * mass[n_modes] holds the rest. */
void jp_toy_grid_mass(jp_toy_kind k, const float *e, int side, double *mass);

#endif
