#!/usr/bin/python3
"""Writes tests/data/optim_ref.safetensors: reference optimiser steps and lr schedules.

Run with Debian's python3-torch 1.13 (CPU):  /usr/bin/python3 tools/gen_optim_ref.py

Optimisers: fixed random params (n = 37: two 16-float vector blocks plus a tail, so
both paths of PyTorch's CPU kernels are exercised) and a fixed sequence of 5
gradients with changing scales (so amsgrad's running maximum matters). Each run is
torch.optim.SGD/Adam for 5 steps; after every step the params are recorded.
Tensors, for run R:
  params0 [n], grads [5, n]                 shared inputs
  R.hparams F64 [10]                        kind (0 sgd, 1 adam), momentum, dampening,
                                            nesterov, weight_decay, beta1, beta2, eps,
                                            amsgrad, lr (initial)
  R.lrs F64 [5]                             lr used at each step (set in param_groups)
  R.params [5, n]                           params after each step
  R.<state> [n]                             final optimiser state (momentum_buffer,
                                            exp_avg, exp_avg_sq, max_exp_avg_sq)
Schedules, S.lr F64 [iters] from a Python transcription of the reference loop
(train_jempp.py), and S.config F64 [6]: base_lr, warmup_iters, iters_per_epoch,
decay_rate, n_epochs, warmup mode (0 reference, 1 shifted); S.decay_epochs I64.
Cosine: cosine.lr and cosine.config [base, final, total, warmup, n_iters].
"""
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

N, STEPS = 37, 5


def run_optim(kind, p0, grads, lrs, **kw):
    p = torch.nn.Parameter(p0.clone())
    if kind == "sgd":
        opt = torch.optim.SGD([p], lr=lrs[0], **kw)
    else:
        opt = torch.optim.Adam([p], lr=lrs[0], **kw)
    out = []
    for k in range(STEPS):
        for g in opt.param_groups:
            g["lr"] = lrs[k]
        p.grad = grads[k].clone()
        opt.step()
        out.append(p.detach().clone())
    st = opt.state[p]
    state = {name: st[name].clone() for name in
             ("momentum_buffer", "exp_avg", "exp_avg_sq", "max_exp_avg_sq")
             if name in st and st[name] is not None}
    return torch.stack(out), state


def hparams(kind, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0,
            betas=(0.9, 0.999), eps=1e-8, amsgrad=False):
    return np.array([0.0 if kind == "sgd" else 1.0, momentum, dampening, float(nesterov),
                     weight_decay, betas[0], betas[1], eps, float(amsgrad), lr], dtype=np.float64)


def reference_lrs(base_lr, warmup_iters, iters_per_epoch, decay_epochs, decay_rate, n_epochs,
                  shifted=False):
    """The lr of every iteration of the reference loop (train_jempp.py)."""
    lr = base_lr  # the optimiser's lr at construction
    out = []
    cur_iter = 0
    for epoch in range(n_epochs):
        if epoch in decay_epochs:
            lr = lr * decay_rate
        for _ in range(iters_per_epoch):
            if not shifted:
                if cur_iter <= warmup_iters:
                    lr = base_lr * cur_iter / float(warmup_iters)
            else:
                if cur_iter < warmup_iters:
                    lr = base_lr * (cur_iter + 1) / float(warmup_iters)
            out.append(lr)
            cur_iter += 1
    return np.array(out, dtype=np.float64)


def cosine_lrs(base, final, total, warmup, n_iters):
    out = []
    for it in range(n_iters):
        if warmup > 0 and it <= warmup:
            out.append(base * it / float(warmup))
        else:
            t = min(it, total)
            out.append(final + (base - final) * (1 + math.cos(math.pi * t / total)) / 2)
    return np.array(out, dtype=np.float64)


def main():
    torch.manual_seed(1234)
    p0 = torch.randn(N)
    scales = [3.0, 1.0, 0.3, 2.0, 0.1]
    grads = torch.stack([torch.randn(N) * s for s in scales])
    # a few exact zeros and large values
    grads[1, 3] = 0.0
    grads[:, 5] = 0.0
    p0[7] = 0.0
    grads[2, 11] = 40.0

    t = {"params0": p0, "grads": grads}
    runs = [
        ("sgd", "sgd", [0.1] * 5, dict(momentum=0.9, weight_decay=4e-4)),
        ("sgd_nesterov", "sgd", [0.1] * 5, dict(momentum=0.9, weight_decay=4e-4, nesterov=True)),
        # strong weight decay, so that fusing grad + wd * p shows in the bits
        ("sgd_damp", "sgd", [0.05] * 5, dict(momentum=0.5, dampening=0.1, weight_decay=0.3)),
        ("sgd_plain", "sgd", [0.1] * 5, dict(weight_decay=1e-3)),
        # warmup-like lrs: the first step has lr 0 (the buffer is still filled)
        ("sgd_sched", "sgd", [0.0, 0.1 / 7, 0.2 / 7, 0.1, 0.02], dict(momentum=0.9, weight_decay=4e-4)),
        ("adam", "adam", [1e-3] * 5, dict(betas=(0.9, 0.999), weight_decay=1e-2)),
        ("adam_amsgrad", "adam", [1e-3] * 5, dict(betas=(0.9, 0.999), weight_decay=1e-2, amsgrad=True)),
        ("adam_wd", "adam", [1e-2] * 5, dict(betas=(0.8, 0.99), eps=1e-6, weight_decay=0.3)),
        ("adam_plain", "adam", [1e-4, 1e-4, 5e-5, 1e-4, 2e-4], dict(betas=(0.9, 0.999))),
    ]
    for name, kind, lrs, kw in runs:
        params, state = run_optim(kind, p0, grads, lrs, **kw)
        t[name + ".hparams"] = hparams(kind, lrs[0], **kw)
        t[name + ".lrs"] = np.array(lrs, dtype=np.float64)
        t[name + ".params"] = params
        for k, v in state.items():
            t[name + "." + k] = v

    scheds = [
        # name, base, warmup, iters/epoch, decay epochs, rate, epochs, shifted
        ("sched", 0.1, 7, 5, [2, 4], 0.2, 6, False),
        ("sched_shifted", 0.1, 7, 5, [2, 4], 0.2, 6, True),
        ("sched_early", 0.1, 7, 5, [1, 4, 4], 0.2, 6, False),  # epoch 1 starts inside warmup
        ("sched_nowarm", 0.1, -1, 5, [0, 2, 3], 0.3, 6, False),
    ]
    for name, base, w, ipe, dec, rate, ne, shifted in scheds:
        t[name + ".lr"] = reference_lrs(base, w, ipe, dec, rate, ne, shifted)
        t[name + ".config"] = np.array([base, w, ipe, rate, ne, float(shifted)], dtype=np.float64)
        t[name + ".decay_epochs"] = np.array(dec, dtype=np.int64)

    t["cosine.lr"] = cosine_lrs(0.1, 1e-3, 40, 6, 45)
    t["cosine.config"] = np.array([0.1, 1e-3, 40, 6, 45], dtype=np.float64)

    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "..", "tests", "data", "optim_ref.safetensors")
    safetensors_io.save(path, t, metadata={"generator": "tools/gen_optim_ref.py",
                                           "torch": torch.__version__})
    print("wrote", os.path.normpath(path), os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
