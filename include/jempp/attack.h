/* Adversarial robustness: PGD under L-inf and L2 and JEM's defence.
 *
 * Units. Model inputs live in [-1, 1] (x = 2 p - 1 for pixels p in [0, 1]). Radii and
 * step sizes are given in PIXEL units, as the literature quotes them (L-inf 8/255, L2
 * 0.5 on [0, 1] images), and doubled internally: a pixel-unit eps is 2 eps in model
 * units for both norms (the map is a scaling by 2). Reported perturbation norms are
 * converted back to pixel units. Adversarial images are clipped to [-1, 1].
 *
 * PGD (Madry et al.), per restart: a random start uniform in the ball (L-inf: U(-e, e)
 * per value; L2: a uniform direction with radius e u^(1/D)), clipped to [-1, 1]; then
 * n_iter steps of
 *   L-inf: x <- x + a sign(g)          L2: x <- x + a g / ||g||_2
 * with g = grad_x CE(logits(x), y), each followed by the projection onto the ball
 * around the clean image and the clip to [-1, 1] (which never leaves the ball: the
 * clean image is inside the box). Default 40 iterations, a = eps / 4, 1 restart. An
 * image counts as broken when the final iterate of ANY restart is misclassified; the
 * worst case kept per image is that iterate, or else the one of highest loss.
 *
 * JEM's defence (the reference's attack_model.py): logits = mean over n_copies copies
 * x + sigma N(0, 1), each refined by n_steps SGLD steps x <- x + lr grad_x LSE(x) +
 * std N(0, 1) in eval mode. It is attacked end to end with BPDA: the refinement is
 * treated as the identity in the backward pass (the gradient of the averaged-logit loss
 * at each refined copy is passed straight to the unrefined input), which is what the
 * released JEM code computes (its refine() updates x_k.data in place, outside autograd,
 * so torch's gradient through the chain is the identity). The exact gradient through
 * the unrolled chain would need Hessian-vector products, which jempp does not have. */
#ifndef JEMPP_ATTACK_H
#define JEMPP_ATTACK_H

#include "jempp/core.h"
#include "jempp/data.h"
#include "jempp/wrn.h"

typedef enum { JP_PGD_LINF = 0, JP_PGD_L2 = 1 } jp_pgd_norm;
const char *jp_pgd_norm_name(jp_pgd_norm k); /* "linf", "l2" */

typedef struct {
    jp_pgd_norm norm;
    double eps;       /* radius, pixel units */
    int n_iter;       /* 40 */
    double step;      /* pixel units; <= 0: eps / 4 */
    int restarts;     /* 1 (the reference uses 20) */
    int random_start; /* 1 */
} jp_pgd_config;

void jp_pgd_config_defaults(jp_pgd_config *c);

typedef struct {
    int n_copies;   /* 0: no defence (plain logits); JEM: 5 */
    int n_steps;    /* SGLD refinement steps per copy (JEM's comment: 10) */
    float sigma;    /* noise std of each copy (JEM: 0.03) */
    float sgld_lr;  /* 1 */
    float sgld_std; /* 0.01 */
} jp_defence_config;

/* JEM's defence: 5 copies, 10 steps, sigma 0.03, SGLD step 1 and noise 0.01. */
void jp_defence_config_jem(jp_defence_config *d);

typedef struct jp_attacker jp_attacker;

/* An attacker on model m (kept, not owned) with the defence def (NULL or n_copies == 0:
 * none). Its batch is the model's batch, divided by n_copies with the defence (at least
 * one image: JP_ERR_ARG otherwise). seed drives random starts and the defence's noise. */
jp_status jp_attacker_create(jp_attacker **out, jp_wrn *m, const jp_defence_config *def, uint64_t seed,
                             jp_error *err);
void jp_attacker_free(jp_attacker *a);
int jp_attacker_batch(const jp_attacker *a);
/* logits (n, K) of the classifier under attack (defended when configured), n <= batch. */
void jp_attacker_logits(jp_attacker *a, float *logits, const float *x, int n);
/* dx (n, D) = grad_x sum_i CE(logits(x_i), y_i) (BPDA through the defence) and the logits
 * (n, K) of that pass; n <= batch. */
void jp_attacker_grad(jp_attacker *a, float *dx, float *logits, const float *x, const int *y, int n);

/* PGD on x (n <= batch): x_adv (n, D) receives the worst case per image, broken[i] = 1
 * when some restart's final iterate is misclassified. JP_ERR_ARG for a bad config. */
jp_status jp_pgd(jp_attacker *a, const jp_pgd_config *c, const float *x, const int *y, int n, float *x_adv,
                 int *broken, jp_error *err);

typedef struct {
    double eps;      /* pixel units (input) */
    double acc;      /* robust accuracy: right on the clean image and on every restart */
    double max_norm; /* largest ||x_adv - x|| seen (pixel units, the attack's norm) */
    int n;
} jp_robust_point;

/* Robust accuracy over the first n images of ds (n <= ds->n) at pts[e].eps for each e;
 * eps 0 gives the clean accuracy (no attack). *clean_acc receives the accuracy on the
 * clean images (under the defence's randomness when defended). */
jp_status jp_robust_accuracy(jp_attacker *a, const jp_pgd_config *base, const jp_dataset *ds, int n,
                             jp_robust_point *pts, int n_eps, double *clean_acc, jp_error *err);

#endif
