/* The WRN's log density: log p(x) = LSE(logits) for JEM/JEM++ (the classifier's logits
 * define the energy), or the energy head energy_output(feat) for JEM's unconditional
 * variant (--uncond), and its backward. */
#include <string.h>

#include "core/sgemm.h"
#include "jempp/ops.h"
#include "nn/wrn_internal.h"

void jp_wrn_energy_head(jp_wrn *m, float *e, int n)
{
    int D = m->last_c;
    const float *we = m->params + m->en_w;
    jp_sgemm(0, 0, n, 1, D, 1.0f, m->feat, D, we, 1, 0.0f, e, 1); /* e (n) = feat (n, D) we (D) */
    for (int i = 0; i < n; i++) e[i] += m->params[m->en_b];
}

void jp_wrn_log_px(jp_wrn *m, const float *logits, float *out, int n)
{
    if (m->cfg.uncond) jp_wrn_energy_head(m, out, n);
    else jp_logsumexp_forward(out, logits, n, m->cfg.n_classes);
}

/* d/d logits of sum_i w_i LSE(logits_i) = w_i softmax(logits_i); for the energy head
 * d/d e_i = w_i. The extra d(logits) adds to the class head's gradient either way. */
void jp_wrn_backward_log_px(jp_wrn *m, const float *logits, const float *w, const float *dlogits_extra, float *dx,
                            int param_grads)
{
    int n = m->last_n, K = m->cfg.n_classes;
    size_t nk = (size_t)n * K;
    const float *dl = dlogits_extra, *de = NULL;
    if (m->cfg.uncond) {
        de = w;
    } else if (w) {
        jp_logsumexp_backward(m->dlog_scratch, w, logits, n, K);
        if (dlogits_extra)
            for (size_t i = 0; i < nk; i++) m->dlog_scratch[i] += dlogits_extra[i];
        dl = m->dlog_scratch;
    }
    jp_wrn_backward_heads(m, dl, de, dx, param_grads);
}
