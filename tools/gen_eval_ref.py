#!/usr/bin/python3
"""Writes tests/data/eval_ref.safetensors, the PyTorch reference of tests/test_eval_torch.c:
what `jempp eval` must print for tests/data/eval_model.safetensors on the first N
Fashion-MNIST test images (modes predict, test_clf, cali and ood).

Needs Debian's python3-torch (PyTorch 1.13) and the Fashion-MNIST files of Debian's
dataset-fashion-mnist: run with /usr/bin/python3, not another python3 that may stand
first on PATH:

    /usr/bin/python3 tools/gen_eval_ref.py                 # tests/data/eval_ref.safetensors
    /usr/bin/python3 tools/gen_eval_ref.py --model_from /tmp/evalmodel/last.safetensors
                                                           # also rewrites eval_model.safetensors

The model, tests/data/eval_model.safetensors, is a WRN-10-1 (batch norm, 1x28x28 input,
10 classes) softmax classifier trained by jempp itself:

    build/jempp train --preset clf --depth 10 --width 1 --max_iters 300 \\
        --save_dir /tmp/evalmodel --quiet   # seed 1; result.json: test accuracy 0.6713
                                            # (all 10000 images; 0.654 on the first 500)

and then rewritten by this script (--model_from) with only the model's state_dict
tensors (the names of tools/gen_wrn_ref.py's CCF) and the jempp metadata that describes
the model and its data set (format, depth, width, in_channels, image_size, n_classes,
uncond, norm, dropout_rate, dataset): the optimizer state, RNG state and loader
positions are dropped (0.31 MB instead of 0.63 MB).

The PyTorch side is tools/gen_wrn_ref.py's CCF (the reference's module tree, BN momentum
0.9) in eval mode, float32, one thread. Images: the first N of t10k-images-idx3-ubyte.gz,
x = (pixel / 255 - 0.5) / 0.5 in float32, as jempp's reader (src/data/raw_set.c).
Everything after the logits is computed in float64 from the float32 logits, with
jempp's definitions (include/jempp/metrics.h, tools/cli/cmd_eval_*.c):

  labels (I64) [N]           the test labels
  logits [N, 10]             eval-mode logits (F32)
  pred (I64) [N]             argmax of the logits (first index on ties)
  energy (F64) [N]           -logsumexp(logits)
  logp_y_given_x (F64) [N]   log softmax of the true label
  test_clf.accuracy [1]      fraction with pred == label (F64, as every scalar below)
  test_clf.loss [1]          mean cross-entropy LSE - f(x)[y]
  test_clf.mean_energy [1]   mean of energy
  cali.ece [1]               ECE over 20 equal-width bins (b/B, (b+1)/B] of the confidence
                             c = max softmax: sum_b n_b/n |acc_b - mean c_b| (jempp's default
                             --bins 20, its bin rule jp_confidence_bin)
  cali.ece_eceloss [1]      the same from the reference's ECELoss(20) (Guo et al.'s
                             torch code: float32 softmax, linspace edges, gt/le), a
                             cross-check of the definition
  cali.nll [1]               mean cross-entropy (= test_clf.loss)
  cali.accuracy [1], cali.mean_confidence [1]
  cali.bin_count (I64) [20]  images per bin
  ood.<set>.px [n]           per image LSE(logits) rounded to float32 as jempp keeps it
                             (jp_logsumexp_forward), for set in: "in" (the N test images)
                             and every set of OOD_SETS
  ood.<set>.py [n]           max softmax = exp(max logit - that float32 LSE), as
                             jp_ood_scores (so that saturated confidences tie at 1.0
                             as they do in jempp)
  ood.<set>.pxgrad [n]       -||d LSE(f(x)) / dx||_2 (the float32 gradient, norm in double)
  ood.<set>.mean [3]         mean of px, py, pxgrad (ood.json's "mean")
  ood.<set>.auroc [3]        AUROC of the "in" scores (positives) against the set's, for
                             px, py, pxgrad: the Mann-Whitney U / (n_pos n_neg) with ties
                             counted 1/2 (jp_auroc; sklearn's roc_auc_score)
  ood.<set>.aupr [3]         average precision, in-distribution positive (jp_aupr)
  ood.<set>.fpr95 [3]        FPR at the first threshold with TPR >= 0.95 (jp_fpr_at_tpr)

OOD_SETS holds jempp's built-in shifted sets that are deterministic functions of the
test images: `invert` (-x). The others draw from jempp's RNG (`noise`: U(-1, 1) per
value, `constant`: one U(-1, 1) value per image, `interp`: a random partner image), which
PyTorch cannot reproduce, so they are not here. The scores take --sigma 0 (no noise), so
all three scores, pxgrad included, are deterministic.

Metadata: n, bins, ood_sets (comma separated), scores ("px,py,pxgrad"), model (its
file name), model_sha256, torch, and the margins that say how tight the C test can be:
  pred_margin        the smallest top-1 minus top-2 logit gap (an argmax flips only
                     when the two sides' logits differ by more than half of it)
  bin_edge_margin    the smallest distance of a confidence to an ECE bin edge (a bin
                     count changes only when confidences move by more than it)
  fpr95_margin.<set>.<score>  the distance of the threshold score where FPR95 is read
                     to the nearest other score (FPR95 moves in steps of 1 / n_neg, and
                     only when scores move by more than half of it)
  near_ties.<set>.<score>  in/out pairs whose scores lie within 1e-4 (relative to
                     max(1, |score|)) of each other: at most that many pairs can change
                     order between jempp and PyTorch, each moving the AUROC by
                     1 / (n_pos n_neg)
"""
import argparse
import gzip
import hashlib
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402
from gen_wrn_ref import CCF  # noqa: E402

DEPTH, WIDTH, CIN, SIZE, NCLS, NORM = 10, 1, 1, 28, 10, "batch"
BINS = 20                  # jempp eval --bins default, the reference's ECELoss(20)
OOD_SETS = ["invert"]      # deterministic built-in shifted sets (see the docstring)
SCORES = ["px", "py", "pxgrad"]
BATCH = 100                # images per forward (eval mode: rows are independent)
TIE_TOL = 1e-4             # near_ties: |a - b| <= TIE_TOL max(1, |a|)
FASHION = "/usr/share/datasets/fashion-mnist"
# jempp metadata describing the model and its data set; the rest of a training
# checkpoint's metadata (optim.kind) describes state this file does not keep
MODEL_META = ["format", "depth", "width", "in_channels", "image_size", "n_classes", "uncond", "norm",
              "dropout_rate", "dataset"]


def new_model():
    return CCF(DEPTH, WIDTH, CIN, NCLS, NORM)


def strip_checkpoint(src, dst):
    """Rewrites a jempp training checkpoint as a model-only checkpoint."""
    tensors, meta = safetensors_io.load(src)
    names = list(new_model().state_dict().keys())
    missing = [k for k in names if k not in tensors]
    if missing:
        raise SystemExit(f"{src}: lacks model tensors {missing[:3]}...")
    # every state_dict tensor, energy_output included (jempp's model has it; a softmax
    # classifier leaves it at its initial values)
    keep = {k: tensors[k] for k in names}
    out_meta = {k: meta[k] for k in MODEL_META if k in meta}
    for k, want in (("depth", DEPTH), ("width", WIDTH), ("in_channels", CIN), ("image_size", SIZE),
                    ("n_classes", NCLS)):
        if out_meta.get(k) != str(want):
            raise SystemExit(f"{src}: metadata {k} = {out_meta.get(k)}, expected {want}")
    safetensors_io.save(dst, keep, out_meta)
    dropped = sorted(set(tensors) - set(names))
    print(f"{dst}: {len(keep)} model tensors, {os.path.getsize(dst)} bytes (dropped {', '.join(dropped)})")


def load_model(path):
    tensors, meta = safetensors_io.load(path)
    model = new_model()
    sd = {k: torch.from_numpy(v) for k, v in tensors.items()}
    model.load_state_dict(sd, strict=True)
    model.eval()
    return model


def read_idx(path, magic):
    """A gzipped IDX file as a uint8 array of its dimensions."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    m, = struct.unpack(">I", data[:4])
    if m != magic:
        raise SystemExit(f"{path}: magic {m:#x}, expected {magic:#x}")
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def test_images(root, n):
    """The first n test images scaled as jempp does, (n, 1, 28, 28) float32, and labels."""
    img = read_idx(os.path.join(root, "t10k-images-idx3-ubyte.gz"), 0x803)[:n]
    lab = read_idx(os.path.join(root, "t10k-labels-idx1-ubyte.gz"), 0x801)[:n]
    # float32 steps of raw_set.c: ((float)v / 255.0f - 0.5f) / 0.5f
    lut = (np.arange(256, dtype=np.float32) / np.float32(255.0) - np.float32(0.5)) / np.float32(0.5)
    x = lut[img].reshape(n, 1, SIZE, SIZE)
    return torch.from_numpy(np.ascontiguousarray(x)), lab.astype(np.int64)


def logits_and_grads(model, x):
    """float32 logits (n, K) and the per-image L2 norm (double) of d LSE / dx."""
    logits, gnorm = [], []
    for at in range(0, x.shape[0], BATCH):
        xb = x[at:at + BATCH].clone().requires_grad_(True)
        lb = model.classify(xb)
        torch.logsumexp(lb, 1).sum().backward()
        logits.append(lb.detach())
        g = xb.grad.detach().double().flatten(1)
        gnorm.append(g.pow(2).sum(1).sqrt())
    return torch.cat(logits).numpy(), torch.cat(gnorm).numpy()


def lse64(logits):
    l = logits.astype(np.float64)
    mx = l.max(1, keepdims=True)
    return (mx + np.log(np.exp(l - mx).sum(1, keepdims=True)))[:, 0]


def scores(model, x):
    """px, py, pxgrad per image (float64), as jp_ood_scores computes them."""
    logits, gnorm = logits_and_grads(model, x)
    px = lse64(logits).astype(np.float32).astype(np.float64)  # jempp keeps the LSE in float32
    py = np.exp(logits.max(1).astype(np.float64) - px)
    return {"px": px, "py": py, "pxgrad": -gnorm}


# ---- detection metrics, written from their definitions ---------------------------------

def auroc(pos, neg):
    """Mann-Whitney: U = #{pos > neg} + 1/2 #{pos == neg}, over n_pos n_neg."""
    s = np.sort(neg)
    below = np.searchsorted(s, pos, side="left")           # neg < p
    below_eq = np.searchsorted(s, pos, side="right")       # neg <= p
    two_u = int((2 * below + (below_eq - below)).sum())
    return two_u / (2.0 * len(pos) * len(neg))


def thresholds(pos, neg):
    """(tp, fp) cumulated over the distinct scores in decreasing order."""
    t = np.unique(np.concatenate([pos, neg]))[::-1]
    ps, ns = np.sort(pos), np.sort(neg)
    tp = len(pos) - np.searchsorted(ps, t, side="left")    # pos >= t
    fp = len(neg) - np.searchsorted(ns, t, side="left")
    return tp, fp


def aupr(pos, neg):
    tp, fp = thresholds(pos, neg)
    r = tp / len(pos)
    return float(np.sum(np.diff(np.concatenate([[0.0], r])) * tp / (tp + fp)))


def fpr_at_tpr(pos, neg, tpr=0.95):
    tp, fp = thresholds(pos, neg)
    hit = np.nonzero(tp / len(pos) >= tpr)[0]
    return float(fp[hit[0]] / len(neg)) if len(hit) else 1.0


def fpr95_margin(pos, neg, tpr=0.95):
    """Distance from the threshold score that fpr_at_tpr stops at to the nearest other
    score: fpr95 (and the TPR at it) change only when scores move by more than half of it."""
    t = np.unique(np.concatenate([pos, neg]))[::-1]
    tp, _ = thresholds(pos, neg)
    hit = np.nonzero(tp / len(pos) >= tpr)[0]
    if not len(hit):
        return float("inf")
    i = hit[0]
    gaps = [abs(t[i] - t[j]) for j in (i - 1, i + 1) if 0 <= j < len(t)]
    return float(min(gaps)) if gaps else float("inf")


def near_ties(pos, neg):
    s = np.sort(neg)
    tol = TIE_TOL * np.maximum(1.0, np.abs(pos))
    return int((np.searchsorted(s, pos + tol, side="right") - np.searchsorted(s, pos - tol, side="left")).sum())


# ---- classification and calibration ----------------------------------------------------

def classify(logits, labels):
    lse = lse64(logits)
    l64 = logits.astype(np.float64)
    pred = np.argmax(logits, 1)  # first index on ties, as ev_argmax
    logp = l64[np.arange(len(labels)), labels] - lse
    top2 = np.sort(l64, 1)[:, -2:]
    out = {
        "pred": pred.astype(np.int64),
        "energy": -lse,
        "logp_y_given_x": logp,
        "test_clf.accuracy": np.array([np.mean(pred == labels)]),
        "test_clf.loss": np.array([-logp.mean()]),
        "test_clf.mean_energy": np.array([(-lse).mean()]),
    }
    return out, float((top2[:, 1] - top2[:, 0]).min())


def calibration(logits, labels):
    l64 = logits.astype(np.float64)
    conf = 1.0 / np.exp(l64 - l64.max(1, keepdims=True)).sum(1)
    ok = np.argmax(logits, 1) == labels
    edges = np.arange(1, BINS) / BINS                       # (double)b / B, b = 1..B-1
    b = np.searchsorted(edges, conf, side="left")           # #{edges < c}: b/B < c <= (b+1)/B
    count = np.bincount(b, minlength=BINS)
    ece = 0.0
    for k in range(BINS):
        if count[k]:
            ece += count[k] / len(conf) * abs(ok[b == k].mean() - conf[b == k].mean())
    all_edges = np.arange(0, BINS + 1) / BINS
    margin = float(np.abs(conf[:, None] - all_edges[None, :]).min())
    out = {
        "cali.ece": np.array([ece]),
        "cali.ece_eceloss": np.array([ece_loss(torch.from_numpy(logits), torch.from_numpy(labels))]),
        "cali.nll": np.array([(lse64(logits) - l64[np.arange(len(labels)), labels]).mean()]),
        "cali.accuracy": np.array([ok.mean()]),
        "cali.mean_confidence": np.array([conf.mean()]),
        "cali.bin_count": count.astype(np.int64),
    }
    return out, margin


def ece_loss(logits, labels, n_bins=BINS):
    """Guo et al.'s ECELoss (temperature_scaling), which the reference's calibration uses."""
    bounds = torch.linspace(0, 1, n_bins + 1)
    conf, pred = torch.max(F.softmax(logits, dim=1), 1)
    acc = pred.eq(labels)
    ece = torch.zeros(1)
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        in_bin = conf.gt(lo.item()) * conf.le(hi.item())
        prop = in_bin.float().mean()
        if prop.item() > 0:
            ece += torch.abs(conf[in_bin].mean() - acc[in_bin].float().mean()) * prop
    return float(ece.item())


def shifted(kind, x):
    if kind == "invert":
        return -x
    raise SystemExit(f"shifted set {kind} draws random numbers: not reproducible here")


def ood(model, x, meta):
    out = {}
    sets = {"in": scores(model, x)}
    for kind in OOD_SETS:
        sets[kind] = scores(model, shifted(kind, x))
    for name, s in sets.items():
        for k in SCORES:
            out[f"ood.{name}.{k}"] = s[k]
        out[f"ood.{name}.mean"] = np.array([s[k].mean() for k in SCORES])
    pos = sets["in"]
    for kind in OOD_SETS:
        neg = sets[kind]
        out[f"ood.{kind}.auroc"] = np.array([auroc(pos[k], neg[k]) for k in SCORES])
        out[f"ood.{kind}.aupr"] = np.array([aupr(pos[k], neg[k]) for k in SCORES])
        out[f"ood.{kind}.fpr95"] = np.array([fpr_at_tpr(pos[k], neg[k]) for k in SCORES])
        for k in SCORES:
            meta[f"near_ties.{kind}.{k}"] = near_ties(pos[k], neg[k])
            meta[f"fpr95_margin.{kind}.{k}"] = f"{fpr95_margin(pos[k], neg[k]):.3g}"
    return out


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    data = os.path.join(root, "tests", "data")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(data, "eval_ref.safetensors"))
    ap.add_argument("--model", default=os.path.join(data, "eval_model.safetensors"))
    ap.add_argument("--model_from", help="a jempp training checkpoint to rewrite as --model first")
    ap.add_argument("--data_root", default=FASHION)
    ap.add_argument("--n", type=int, default=500, help="test images (jempp eval --max_n)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    if a.model_from:
        strip_checkpoint(a.model_from, a.model)
    model = load_model(a.model)
    x, labels = test_images(a.data_root, a.n)
    with open(a.model, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    meta = dict(n=a.n, bins=BINS, ood_sets=",".join(OOD_SETS), scores=",".join(SCORES),
                model=os.path.basename(a.model), model_sha256=sha, torch=torch.__version__)

    logits, _ = logits_and_grads(model, x)
    out = {"labels": labels, "logits": logits}
    clf, meta["pred_margin"] = classify(logits, labels)
    out.update(clf)
    cal, meta["bin_edge_margin"] = calibration(logits, labels)
    out.update(cal)
    out.update(ood(model, x, meta))

    tensors = {}
    for k, v in out.items():
        v = np.asarray(v)
        tensors[k] = v if v.dtype in (np.float32, np.int64) else v.astype(np.float64)
    safetensors_io.save(a.out, tensors, meta)
    print(f"{a.out}: {len(tensors)} tensors, {os.path.getsize(a.out)} bytes")
    print(f"  accuracy {out['test_clf.accuracy'][0]:.4f}, loss {out['test_clf.loss'][0]:.6f}, "
          f"ECE {out['cali.ece'][0]:.6f} (ECELoss {out['cali.ece_eceloss'][0]:.6f}), "
          f"NLL {out['cali.nll'][0]:.6f}")
    for kind in OOD_SETS:
        print(f"  {kind}: AUROC px/py/pxgrad {out[f'ood.{kind}.auroc']}, near ties "
              f"{[meta[f'near_ties.{kind}.{k}'] for k in SCORES]}, fpr95 margins "
              f"{[meta[f'fpr95_margin.{kind}.{k}'] for k in SCORES]}")
    print(f"  pred_margin {meta['pred_margin']:.3g}, bin_edge_margin {meta['bin_edge_margin']:.3g}")


if __name__ == "__main__":
    main()
