#!/usr/bin/python3
"""Writes tests/data/pyld_ref.safetensors, the PyTorch reference of tests/test_sampler_torch.c.

Needs Debian's python3-torch (PyTorch 1.13): run with /usr/bin/python3, not another
python3 that may stand first on PATH:

    /usr/bin/python3 tools/gen_pyld_ref.py

The model is tools/gen_wrn_ref.py's CCF (the JEM/JEM++ reference's module tree, BN with
momentum 0.9): WRN-10-1, 3x16x16 input, 10 classes, batch 8, seed 3.

The samplers are the reference's, written as the reference writes them:
  pyld()   the authors' sample_q (sndnyang/JEMPP train_jempp.py, its final version with
           --sgld_lr default 0) as ../shared/bench/peer_torch.py's pyld() writes its YOPO
           inner loop on the first convolution with the slack p = d(sum LSE)/d z0: per
           outer step the full gradient eta of the energy, then when sgld_lr > 0 the step
           tmp = clamp(x + clamp(eta, -eps, eps) * sgld_lr, -1, 1) (sample_q's
           "if args.sgld_lr > 0" branch), then the N inner steps; sgld_std noise (after
           the inner loop, unclamped) is off in every case, as it cannot match bit for bit.
           Generalised to the class-conditional energy (sum_i f(x_i)[y_i] instead of
           sum_i LSE(x_i)) and to an eval-mode variant. The model is in TRAIN mode: BN
           uses the batch statistics and every outer forward updates the running
           statistics.
  sgld()   JEM's SGLD-K: model in eval mode, x += sgld_lr * grad + sgld_std * N(0,1).
           The noise cannot match the C code bit for bit, so the reference cases use
           sgld_std = 0 (the C test checks the noise statistics by itself).
  prox()   proximal SGLD without YOPO: x += (lr/2) * clamp(grad, -eps, eps) + lr*std*N(0,1),
           eval mode, std 0.

File contents:
  init.<name>           the initial state_dict (num_batches_tracked I64, shape [])
  x0                    the start batch, U(-1, 1), (8, 3, 16, 16)
  y (I64)               the class labels of the conditional cases
  <case>.config (F64)   [kind (0 pyld, 1 sgld, 2 proximal), n_steps, in_steps, pyld_lr, eps,
                         sgld_lr, sgld_std, train_mode, clamp, conditional]
  <case>.x0             the case's start batch (x0 or a variant)
  <case>.start.<buf>    BN running statistics / counters the case starts from (the model's
                        parameters are always init.*)
  <case>.x              x after sampling
  <case>.lse [1]        mean LSE of the last outer step's forward (what jp_sample returns)
  <case>.after.<buf>    BN running statistics / counters after sampling
Metadata: cases (comma separated), depth, width, in_channels, image_size, n_classes, norm,
batch, seed, torch, and per case "<case>.note" (what it exercises, with the fraction of
elements at which each clamp was active).
"""
import argparse
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402
from gen_wrn_ref import CCF  # noqa: E402

DEPTH, WIDTH, CIN, SIZE, NCLS, BATCH, SEED = 10, 1, 3, 16, 10, 8, 3


def energy(model, x, y):
    """sum_i LSE(f(x_i)) or sum_i f(x_i)[y_i], and the mean LSE."""
    logits = model.classify(x)
    lse = torch.logsumexp(logits, 1)
    e = lse.sum() if y is None else logits.gather(1, y[:, None]).sum()
    return e, lse.mean().item()


def pyld(model, x, y, n_steps, in_steps, pyld_lr, eps, sgld_lr=0.0, train=True, stats=None):
    """The authors' sample_q, PYLD branch, with the model wrapped as the reference's CCF."""
    model.train(train)
    conv1 = model.f.conv1
    lse = 0.0
    for _ in range(n_steps):
        x = x.detach().requires_grad_(True)
        e, lse = energy(model, x, y)
        eta, slack = torch.autograd.grad(e, [x, model.f.z0])  # slack p = d(sum E)/d z0
        tmp = x.detach()
        if sgld_lr > 0:  # sample_q: tmp_inp = clamp(x_k + clamp(eta, -eps, eps) * sgld_lr, -1, 1)
            tmp = torch.clamp(x.detach() + torch.clamp(eta, -eps, eps) * sgld_lr, -1, 1)
        for _ in range(in_steps):
            tmp = tmp.detach().requires_grad_(True)
            h = (conv1(tmp) * slack).sum()
            g = torch.autograd.grad(h, [tmp])[0]
            if stats is not None:
                stats["eps"] += (g.abs() > eps).sum().item()
                stats["n"] += g.numel()
            v = tmp + pyld_lr * torch.clamp(g, -eps, eps)
            if stats is not None:
                stats["x"] += ((v < -1) | (v > 1)).sum().item()
            tmp = torch.clamp(v, -1, 1)
        x = tmp.detach()
    return x, lse


def sgld(model, x, y, n_steps, sgld_lr, sgld_std):
    """JEM's sample_q inner loop (eval mode, no clamping)."""
    model.eval()
    x_k = x.clone().requires_grad_(True)
    lse = 0.0
    for _ in range(n_steps):
        e, lse = energy(model, x_k, y)
        f_prime = torch.autograd.grad(e, [x_k], retain_graph=True)[0]
        x_k.data += sgld_lr * f_prime + sgld_std * torch.randn_like(x_k)
    return x_k.detach(), lse


def prox(model, x, y, n_steps, lr, eps, std, stats):
    model.eval()
    x_k = x.clone().requires_grad_(True)
    lse = 0.0
    for _ in range(n_steps):
        e, lse = energy(model, x_k, y)
        g = torch.autograd.grad(e, [x_k])[0]
        stats["eps"] += (g.abs() > eps).sum().item()
        stats["n"] += g.numel()
        x_k.data += (lr / 2) * torch.clamp(g, -eps, eps) + lr * std * torch.randn_like(x_k)
    return x_k.detach(), lse


def buffers(model):
    params = {n for n, _ in model.named_parameters()}
    return {k: v.detach().clone() for k, v in model.state_dict().items() if k not in params}


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(root, "tests", "data", "pyld_ref.safetensors"))
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    model = CCF(DEPTH, WIDTH, CIN, NCLS, "batch")
    init_sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    x0 = torch.rand(BATCH, CIN, SIZE, SIZE) * 2 - 1
    y = torch.randint(0, NCLS, (BATCH,))
    # Running statistics of a model that has seen data (for the eval-mode cases): one
    # train forward of a different batch from the initial state.
    model.train()
    with torch.no_grad():
        model.classify(torch.rand(BATCH, CIN, SIZE, SIZE) * 1.6 - 0.6)
    seen = buffers(model)

    out = {"init." + k: v for k, v in init_sd.items()}
    out["x0"] = x0.clone()
    out["y"] = y.clone()
    meta = dict(depth=DEPTH, width=WIDTH, in_channels=CIN, image_size=SIZE, n_classes=NCLS,
                norm="batch", batch=BATCH, seed=SEED, torch=torch.__version__)
    cases = []

    def run(name, kind, cfg, xs, cond, start, note):
        model.load_state_dict(init_sd)
        sd = model.state_dict()
        for k, v in start.items():
            sd[k].copy_(v)
        stats = {"eps": 0, "x": 0, "n": 0}
        yy = y if cond else None
        if kind == 0:
            xq, lse = pyld(model, xs, yy, cfg["n_steps"], cfg["in_steps"], cfg["pyld_lr"], cfg["eps"],
                           sgld_lr=cfg["sgld_lr"], train=bool(cfg["train_mode"]), stats=stats)
        elif kind == 1:
            xq, lse = sgld(model, xs, yy, cfg["n_steps"], cfg["sgld_lr"], cfg["sgld_std"])
        else:
            xq, lse = prox(model, xs, yy, cfg["n_steps"], cfg["sgld_lr"], cfg["eps"], cfg["sgld_std"], stats)
        conf = [kind, cfg["n_steps"], cfg["in_steps"], cfg["pyld_lr"], cfg["eps"], cfg["sgld_lr"],
                cfg["sgld_std"], cfg["train_mode"], cfg["clamp"], int(cond)]
        out[name + ".config"] = torch.tensor(conf, dtype=torch.float64)
        out[name + ".x0"] = xs.clone()
        for k, v in start.items():
            out[f"{name}.start.{k}"] = v.clone()
        out[name + ".x"] = xq.clone()
        out[name + ".lse"] = torch.tensor([lse], dtype=torch.float32)
        for k, v in buffers(model).items():
            out[f"{name}.after.{k}"] = v
        n = max(stats["n"], 1)
        d = (xq - xs).abs()
        full = (f"{note}; grad clamped at eps in {stats['eps'] / n:.3f} of inner updates, "
                f"x clamped at +-1 in {stats['x'] / n:.3f}; final x at +-1: "
                f"{(xq.abs() == 1).float().mean().item():.3f}; max |x - x0| {d.max().item():.4g}, "
                f"mean {d.mean().item():.4g}")
        meta[name + ".note"] = full
        cases.append(name)
        print(f"{name}: {full}")

    def pcfg(**kw):
        c = dict(n_steps=3, in_steps=4, pyld_lr=0.2, eps=1.0, sgld_lr=0.0, sgld_std=0.0, train_mode=1, clamp=1)
        c.update(kw)
        return c

    def scfg(**kw):
        c = dict(n_steps=3, in_steps=1, pyld_lr=0.2, eps=1.0, sgld_lr=1.0, sgld_std=0.0, train_mode=0, clamp=0)
        c.update(kw)
        return c

    fresh = {k: v for k, v in init_sd.items() if k not in dict(model.named_parameters())}
    # PYLD-3-4 as JEM++ (lr 0.2, eps 1): the gradient clamp is inactive at these scales
    run("pyld", 0, pcfg(), x0, False, fresh, "PYLD-3-4 lr 0.2 eps 1, train mode")
    # eps small: the gradient clamp is active for a good share of the elements
    run("pyld_eps", 0, pcfg(eps=0.001), x0, False, fresh, "PYLD-3-4 lr 0.2 eps 0.001, train mode")
    # a start near the box and a large step: the [-1, 1] clamp of x is active
    xb = torch.clamp(x0 * 1.1, -1, 1)
    run("pyld_box", 0, pcfg(pyld_lr=20.0, eps=0.005), xb, False, fresh,
        "PYLD-3-4 lr 20 eps 0.005 from clamp(1.1*x0), train mode")
    # class-conditional energy f(x)[y]
    run("pyld_y", 0, pcfg(eps=0.002), x0, True, fresh, "PYLD-3-4 lr 0.2 eps 0.002 on f(x)[y], train mode")
    # sample_q's extra step on the outer gradient (--sgld_lr > 0 under PYLD)
    run("pyld_sgld", 0, pcfg(sgld_lr=0.5, eps=0.002), x0, False, fresh,
        "PYLD-3-4 with --sgld_lr 0.5 (sample_q's extra clamped step), eps 0.002, train mode")
    # PYLD in eval mode (the trainer's sample grids): running statistics fixed
    run("pyld_eval", 0, pcfg(train_mode=0, eps=0.002), x0, False, seen, "PYLD-3-4 eval mode, eps 0.002")
    # JEM's SGLD-3 (eval mode, step 1, no noise), from statistics of seen data
    run("sgld", 1, scfg(), x0, False, seen, "SGLD-3 lr 1 std 0, eval mode")
    run("sgld_y", 1, scfg(), x0, True, seen, "SGLD-3 lr 1 std 0 on f(x)[y], eval mode")
    # proximal SGLD: x += (lr/2) clamp(grad, -eps, eps)
    run("prox", 2, scfg(sgld_lr=2.0, eps=0.002), x0, False, seen, "proximal SGLD-3 lr 2 eps 0.002 std 0, eval mode")

    meta["cases"] = ",".join(cases)
    tensors = {}
    for k, v in out.items():
        arr = v.numpy()
        if arr.dtype not in (np.float32, np.int64, np.float64):
            raise SystemExit(f"unexpected dtype {arr.dtype} for {k}")
        tensors[k] = arr
    safetensors_io.save(a.out, tensors, meta)  # keeps the shape [] of num_batches_tracked
    print(f"{a.out}: {len(tensors)} tensors, {os.path.getsize(a.out)} bytes")


if __name__ == "__main__":
    main()
