#!/usr/bin/python3
"""Reference values for tests/test_metrics.c, computed with numpy/scipy (Debian's).

Writes tests/data/metrics_ref.safetensors. Run with /usr/bin/python3 from the repository
root:  /usr/bin/python3 tools/gen_metrics_ref.py

Every quantity is computed the way the standard Python tools do it, independently of the
C code's algorithm:
  AUROC  scipy.stats.mannwhitneyu U / (n_pos n_neg)   (= sklearn roc_auc_score)
  AUPR   sklearn's average_precision_score, its algorithm ported to numpy
         (_binary_clf_curve + precision_recall_curve; sklearn is not a Debian dependency here)
  FPR95  sklearn's roc_curve ported to numpy, fpr at the first tpr >= 0.95
  ECE    the reference's ECELoss loop (bins (b/B, (b+1)/B]), in float64
  NLL    scipy.special.logsumexp
  FID    pytorch-fid's calculate_frechet_distance: scipy.linalg.sqrtm(sigma1 @ sigma2)
  KID    the standard polynomial_mmd (unbiased, k = (x.y/d + 1)^3), dense numpy
  IS     the original (improved-GAN) split loop: exp(mean sum p (log p - log p(y)));
         scipy.stats.entropy would renormalise the float32 rows (a 1e-9 difference)
"""
import os
import sys

import numpy as np
import scipy.linalg
import scipy.special
import scipy.stats

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402


def binary_clf_curve(y_true, y_score):
    """sklearn.metrics._ranking._binary_clf_curve (pos_label 1, no weights)."""
    desc = np.argsort(y_score, kind="mergesort")[::-1]
    y_score = y_score[desc]
    y_true = y_true[desc]
    distinct = np.where(np.diff(y_score))[0]
    thr_idx = np.r_[distinct, y_true.size - 1]
    tps = np.cumsum(y_true)[thr_idx]
    fps = 1 + thr_idx - tps
    return fps, tps, y_score[thr_idx]


def average_precision(y_true, y_score):
    """sklearn average_precision_score: -sum(diff(recall) * precision[:-1])."""
    fps, tps, _ = binary_clf_curve(y_true, y_score)
    ps = tps + fps
    precision = np.divide(tps, ps, out=np.zeros_like(tps, dtype=float), where=ps != 0)
    recall = tps / tps[-1]
    precision = np.hstack((precision[::-1], 1))
    recall = np.hstack((recall[::-1], 0))
    return -np.sum(np.diff(recall) * precision[:-1])


def fpr_at_tpr(y_true, y_score, target=0.95):
    """sklearn roc_curve (drop_intermediate=False) then fpr at the first tpr >= target."""
    fps, tps, _ = binary_clf_curve(y_true, y_score)
    tps = np.r_[0, tps]
    fps = np.r_[0, fps]
    tpr = tps / tps[-1]
    fpr = fps / fps[-1]
    return fpr[np.argmax(tpr >= target)]


def detection(pos, neg):
    u = scipy.stats.mannwhitneyu(pos, neg, alternative="two-sided").statistic
    auroc = u / (len(pos) * len(neg))
    y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    s = np.r_[pos, neg]
    return np.array([auroc, average_precision(y, s), fpr_at_tpr(y, s)])


def ece_ref(logits, y, n_bins):
    lg = logits.astype(np.float64)
    p = np.exp(lg - scipy.special.logsumexp(lg, axis=1, keepdims=True))
    conf = p.max(1)
    pred = lg.argmax(1)
    ok = (pred == y).astype(np.float64)
    acc_b = np.full(n_bins, np.nan)
    conf_b = np.full(n_bins, np.nan)
    cnt_b = np.zeros(n_bins)
    ece = 0.0
    for b in range(n_bins):
        lo, hi = b / n_bins, (b + 1) / n_bins
        m = (conf > lo) & (conf <= hi)
        cnt_b[b] = m.sum()
        if m.any():
            acc_b[b] = ok[m].mean()
            conf_b[b] = conf[m].mean()
            ece += abs(conf_b[b] - acc_b[b]) * m.mean()
    nll = np.mean(scipy.special.logsumexp(lg, axis=1) - lg[np.arange(len(y)), y])
    return np.r_[ece, nll, ok.mean()], acc_b, conf_b, cnt_b


def fid_ref(f1, f2):
    """pytorch-fid: statistics with np.cov, sqrtm of the product, real part."""
    a1, a2 = f1.astype(np.float64), f2.astype(np.float64)
    mu1, mu2 = a1.mean(0), a2.mean(0)
    s1, s2 = np.cov(a1, rowvar=False), np.cov(a2, rowvar=False)
    covmean, _ = scipy.linalg.sqrtm(s1.dot(s2), disp=False)
    if not np.isfinite(covmean).all():
        off = np.eye(s1.shape[0]) * 1e-6
        covmean = scipy.linalg.sqrtm((s1 + off).dot(s2 + off))
    covmean = np.real(covmean)
    diff = mu1 - mu2
    return mu1, s1, mu2, s2, diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)


def mmd2_ref(x, y):
    x, y = x.astype(np.float64), y.astype(np.float64)
    d = x.shape[1]
    k = lambda a, b: (a @ b.T / d + 1) ** 3
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    m = x.shape[0]
    return ((kxx.sum() - np.trace(kxx)) + (kyy.sum() - np.trace(kyy))) / (m * (m - 1)) - 2 * kxy.sum() / m**2


def is_ref(p, splits):
    p = p.astype(np.float64)
    n = p.shape[0]
    scores = []
    for k in range(splits):
        part = p[k * (n // splits):(k + 1) * (n // splits)]
        kl = part * (np.log(part) - np.log(np.expand_dims(np.mean(part, 0), 0)))
        scores.append(np.exp(np.mean(np.sum(kl, 1))))
    return np.array([np.mean(scores), np.std(scores)])


def main():
    rng = np.random.RandomState(20240501)
    t = {}
    # detection: continuous scores, heavy ties, an identical copy
    pos = rng.normal(1.0, 1.0, 300)
    neg = rng.normal(0.0, 1.5, 200)
    t["det_a_pos"], t["det_a_neg"], t["det_a_ref"] = pos, neg, detection(pos, neg)
    pos = rng.randint(0, 6, 157).astype(np.float64)
    neg = rng.randint(-2, 4, 93).astype(np.float64)
    t["det_b_pos"], t["det_b_neg"], t["det_b_ref"] = pos, neg, detection(pos, neg)
    pos = np.round(rng.normal(0, 1, 120), 1)
    t["det_c_pos"], t["det_c_ref"] = pos, detection(pos, pos.copy())
    # calibration: logits with some signal, labels partly agreeing
    n, K = 600, 10
    y = rng.randint(0, K, n)
    logits = rng.normal(0, 1.5, (n, K)).astype(np.float32)
    logits[np.arange(n), y] += rng.uniform(0, 4, n).astype(np.float32)
    t["cal_logits"], t["cal_y"] = logits, y.astype(np.int32)
    for B in (20, 7):
        s, a, c, k = ece_ref(logits, y, B)
        t["cal%d_scalars" % B], t["cal%d_acc" % B], t["cal%d_conf" % B], t["cal%d_count" % B] = s, a, c, k
    # FID: two feature sets; and a rank-deficient pair (n < d)
    d = 24
    f1 = (rng.normal(0, 1, (400, d)) @ rng.normal(0, 0.5, (d, d))).astype(np.float32)
    f2 = (rng.normal(0.3, 1, (300, d)) @ rng.normal(0, 0.6, (d, d))).astype(np.float32)
    mu1, s1, mu2, s2, fid = fid_ref(f1, f2)
    t.update(fid_f1=f1, fid_f2=f2, fid_mu1=mu1, fid_s1=s1, fid_mu2=mu2, fid_s2=s2, fid_value=np.array([fid]))
    g1 = rng.normal(0, 1, (16, d)).astype(np.float32)
    g2 = rng.normal(0.2, 1.2, (20, d)).astype(np.float32)
    _, gs1, _, gs2, gfid = fid_ref(g1, g2)
    t.update(fidr_f1=g1, fidr_f2=g2, fidr_value=np.array([gfid]))
    t["sqrtm_in"] = s1
    t["sqrtm_out"] = np.real(scipy.linalg.sqrtm(s1))
    # KID
    x = rng.normal(0, 1, (60, 16)).astype(np.float32)
    yk = rng.normal(0.2, 1.1, (60, 16)).astype(np.float32)
    t.update(kid_x=x, kid_y=yk, kid_mmd2=np.array([mmd2_ref(x, yk)]))
    # Inception Score
    p = scipy.special.softmax(rng.normal(0, 2, (253, 12)), axis=1).astype(np.float32)
    t["is_probs"] = p
    t["is_5"] = is_ref(p, 5)
    t["is_3"] = is_ref(p, 3)
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "metrics_ref.safetensors")
    safetensors_io.save(out, t, {"generator": "tools/gen_metrics_ref.py", "numpy": np.__version__,
                                 "scipy": scipy.__version__})
    print("wrote %s (%d tensors); FID %.6f, rank-deficient FID %.6f" % (os.path.normpath(out), len(t), fid, gfid))


if __name__ == "__main__":
    main()
