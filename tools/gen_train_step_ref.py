#!/usr/bin/python3
"""Writes tests/data/train_step_ref.safetensors: 3 iterations of the reference's training
loop, for the trainer's comparison test.

Needs Debian's python3-torch (PyTorch 1.13): run with /usr/bin/python3, not another
python3 that may stand first on PATH:

    /usr/bin/python3 tools/gen_train_step_ref.py

A transcription of the authors' JEM++ loop (sndnyang/JEMPP train_jempp.py: sample_p_0,
sample_q with PYLD, the loop body of main with plc "alltrain1") and of JEM's SGLD
sample_q (wgrathwohl/JEM train_wrn_ebm.py). The random draws of sample_p_0 (buffer
slots, which chains restart, the fresh starts) are given, not drawn, and written out,
so that the C trainer can replay them. Model: tools/gen_wrn_ref.py's CCF (BN momentum
0.9), WRN-10-1, 1x12x12 input, 10 classes, batch 8, a 40-slot replay buffer (class y owns
slots [4y, 4y+4)), 3 iterations, seed 5, float32.

File contents (shared by every case):
  data.u8 (U8) [40,12,12], data.y (I64) [40]   a tiny data set, 4 images per class
  init.<name>          the state_dict of CCF(10, 1, 1, 10, "batch") after manual_seed(5)
                       (num_batches_tracked I64, shape []); no-norm cases load the
                       conv/linear subset
  init.buffer          the initial replay buffer, U(-1, 1), [40,1,12,12]
  it{i}.x_p            the p(x) batch of iteration i: 8 distinct data images scaled to
                       [-1, 1] plus 0.03 N(0,1)
  it{i}.x_lab, .y_lab  the labelled batch (8 distinct images, same scaling and noise)
  it{i}.x_lab_semi, .y_lab_semi   the same from the labels_per_class = 1 subset (the
                       first image of each class in data-set order)
  it{i}.y_q (I64)      classes of the class-conditional p(x) chains
  it{i}.x_fresh, .x_fresh_y   fresh chain starts, U(-1, 1), of the p(x) / p(x|y) draw
Per case:
  <case>.config (F64 [18])  [sampler (0 PYLD, 1 SGLD), n_steps, in_steps, pyld_lr, eps,
                       sgld_lr, train-mode sampling, norm (1 batch), optimizer (0 SGD,
                       1 Adam), base lr, weight_decay, warmup_iters (-1 none), p_x_weight,
                       p_y_given_x_weight, p_x_y_weight, class_cond_p_x_sample, uncond,
                       labels_per_class (-1 all; 1 the *_semi batches)]
  <case>.it{i}.idx, .fresh (I64 [8])   the p(x) draw: buffer slots, 1 = fresh start
  <case>.it{i}.idx_y, .fresh_y         the p(x|y) draw (cases with p_x_y_weight > 0)
  <case>.it{i}.terms (F64 [6])  fp, fq, ce, L, fxy_p, fxy_q (0 where off)
  <case>.it{i}.x_q, .x_q_y      the p(x) and p(x|y) samples
  <case>.it{i}.lr (F64 [1])     the lr of that iteration's optim.step()
  <case>.it{0,2}.buffer         the replay buffer after iteration 0 / 2
  <case>.it{0,2}.stat.<name>    the BN running statistics and counters then (BN cases)
  <case>.it2.param.<name>       every parameter after the 3 iterations
  <case>.it0.opt.<name>         (jempp, jem) SGD momentum_buffer / Adam exp_avg after
                                iteration 0; <case>.it0.opt2.<name> Adam exp_avg_sq
Metadata: depth, width, in_channels, image_size, n_classes, batch, buffer_size, n_iters,
seed, torch, cases (comma separated), and per case "<case>.note" (how far the samples
moved, how often the clamps acted, the loss terms of iteration 3, the parameter change).
"""
import argparse
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_wrn_ref import CCF, save_keeping_0d  # noqa: E402

DEPTH, WIDTH, CIN, SIZE, NCLS, B, NBUF, ITERS, SEED = 10, 1, 1, 12, 10, 8, 40, 3, 5
PER = NBUF // NCLS  # buffer slots per class


def energy(model, x, y, uncond):
    """The reference's f(x, y): CCF gives LSE(logits) or logits[y]; F (uncond) ignores y."""
    if uncond:
        return model.energy_output(model.f(x)).squeeze(1)
    logits = model.classify(x)
    return torch.logsumexp(logits, 1) if y is None else logits.gather(1, y[:, None]).squeeze(1)


# train_jempp.py sample_p_0 (its draws given: idx, fresh, x_fresh)
def sample_p_0(buffer, draw):
    idx, fresh, x_fresh = draw
    choose_random = fresh.float()[:, None, None, None]
    return choose_random * x_fresh + (1 - choose_random) * buffer[idx]


# train_jempp.py sample_q (PYLD: in_steps > 0, pyld_lr > 0, sgld_lr = 0, sgld_std = 0)
def sample_q_pyld(model, buffer, y, draw, c, st):
    model.train(bool(c["train_mode"]))  # "Batch norm uses train status"; eval_sampling: eval
    conv1, eps = model.f.conv1, c["eps"]
    x_k = sample_p_0(buffer, draw).requires_grad_(True)
    st["start"] = x_k.detach().clone()
    for _ in range(c["n_steps"]):
        e_x = energy(model, x_k, y, c["uncond"]).sum()
        eta, p = torch.autograd.grad(e_x, [x_k, model.f.z0])  # p: f.f.layer_one_out.grad
        tmp = x_k.detach()
        for _ in range(c["in_steps"]):
            tmp = tmp.detach().requires_grad_(True)
            h = (conv1(tmp) * p).sum()  # Hamiltonian(f.f.layer_one)(tmp, p)
            g = torch.autograd.grad(h, [tmp])[0]
            v = tmp + torch.clamp(g, -eps, eps) * c["pyld_lr"]
            st["eps"] += (g.abs() > eps).sum().item()
            st["box"] += ((v < -1) | (v > 1)).sum().item()
            st["n"] += g.numel()
            tmp = torch.clamp(v, -1, 1)
        x_k = tmp.detach().requires_grad_(True)
    # The reference ends with loss = -H(x_k, p); loss.backward(): it only adds to conv1's
    # .grad, which the loop's optim.zero_grad() clears before L.backward(). Kept as is.
    loss = -1.0 * (conv1(x_k.detach()) * p).sum()
    loss.backward()
    model.train()
    buffer[draw[0]] = x_k.detach()  # write back inside sample_q, as the reference
    return x_k.detach()


# JEM train_wrn_ebm.py sample_q (SGLD, sgld_std = 0: no noise)
def sample_q_sgld(model, buffer, y, draw, c, st):
    model.eval()
    x_k = sample_p_0(buffer, draw).requires_grad_(True)
    st["start"] = x_k.detach().clone()
    for _ in range(c["n_steps"]):
        f_prime = torch.autograd.grad(energy(model, x_k, y, c["uncond"]).sum(), [x_k],
                                      retain_graph=True)[0]
        x_k.data += c["sgld_lr"] * f_prime
    model.train()
    buffer[draw[0]] = x_k.detach()
    return x_k.detach()


def sample_q(model, buffer, y, draw, c, st):
    fn = sample_q_pyld if c["kind"] == 0 else sample_q_sgld
    xq = fn(model, buffer, y, draw, c, st)
    st["moved"] = max(st["moved"], (xq - st["start"]).abs().max().item())
    return xq


# train_jempp.py main, the loop body (plc "alltrain1")
def iteration(model, optim, buffer, cur_iter, batch, draws, c, st):
    if c["warmup"] > 0 and cur_iter <= c["warmup"]:
        lr = c["lr"] * cur_iter / float(c["warmup"])
        for param_group in optim.param_groups:
            param_group["lr"] = lr
    x_p, x_lab, y_lab, y_q = batch
    zero = torch.zeros(())
    L, fp, fq, ce, fxy_p, fxy_q, x_q, x_q_lab = 0.0, zero, zero, zero, zero, zero, None, None
    if c["px"] > 0:
        fp = energy(model, x_p, None, c["uncond"]).mean()
        x_q = sample_q(model, buffer, y_q if c["class_cond"] else None, draws["px"], c, st)
        fq = energy(model, x_q, None, c["uncond"]).mean()  # f(x_q) without y, as the reference
        L = L + c["px"] * -(fp - fq)
    if c["pyx"] > 0:
        ce = F.cross_entropy(model.classify(x_lab), y_lab)
        L = L + c["pyx"] * ce
    if c["pxy"] > 0:
        x_q_lab = sample_q(model, buffer, y_lab, draws["pxy"], c, st)
        fxy_p = energy(model, x_lab, y_lab, c["uncond"]).mean()
        fxy_q = energy(model, x_q_lab, y_lab, c["uncond"]).mean()
        L = L + c["pxy"] * -(fxy_p - fxy_q)
    optim.zero_grad()
    L.backward()
    lr_used = optim.param_groups[0]["lr"]
    optim.step()
    terms = [t.item() for t in (fp, fq, ce, L, fxy_p, fxy_q)]
    return terms, x_q, x_q_lab, lr_used


def scaled(u8):
    return (u8.float() / 255 - 0.5) / 0.5


def slot_draw(y, x_fresh):
    """Distinct buffer slots (class-conditional when y is given) and a fresh mask with at
    least one fresh and one kept chain."""
    if y is None:
        idx = torch.randperm(NBUF)[:B]
    else:
        idx = torch.empty(B, dtype=torch.int64)
        for k in range(NCLS):
            where = (y == k).nonzero().flatten()
            assert len(where) <= PER
            idx[where] = k * PER + torch.randperm(PER)[:len(where)]
    assert len(set(idx.tolist())) == B
    while True:
        fresh = (torch.rand(B) < 0.25).long()
        if 0 < fresh.sum().item() < B:
            return idx, fresh, x_fresh


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(root, "tests", "data", "train_step_ref.safetensors"))
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    models = {"batch": CCF(DEPTH, WIDTH, CIN, NCLS, "batch")}
    init_sd = {k: v.detach().clone() for k, v in models["batch"].state_dict().items()}
    models["none"] = CCF(DEPTH, WIDTH, CIN, NCLS, "none")
    sub = {k: init_sd[k] for k in models["none"].state_dict()}  # KeyError if a name is missing
    models["none"].load_state_dict(sub, strict=True)

    # ---- shared inputs: data set, buffer, batches, fresh starts
    coarse = torch.rand(NBUF, 1, 4, 4)
    up = F.interpolate(coarse, size=(SIZE, SIZE), mode="bilinear", align_corners=False)[:, 0]
    up = (up - up.min()) / (up.max() - up.min())
    data_u8 = torch.round(up * 255).to(torch.uint8)
    data_y = torch.arange(NCLS).repeat(PER)[torch.randperm(NBUF)]
    semi_set = torch.tensor([(data_y == k).nonzero()[0].item() for k in range(NCLS)])
    init_buffer = torch.rand(NBUF, 1, SIZE, SIZE) * 2 - 1
    out = {"data.u8": data_u8, "data.y": data_y}
    out.update({"init." + k: v for k, v in init_sd.items()})
    out["init.buffer"] = init_buffer.clone()

    def noisy(ids):
        return scaled(data_u8[ids])[:, None] + 0.03 * torch.randn(len(ids), 1, SIZE, SIZE)

    shared = []
    for i in range(ITERS):
        p_ids, lab_ids = torch.randperm(NBUF)[:B], torch.randperm(NBUF)[:B]
        semi_ids = semi_set[torch.randperm(NCLS)[:B]]
        while True:
            y_q = torch.randint(0, NCLS, (B,))
            if torch.bincount(y_q, minlength=NCLS).max().item() <= PER:
                break
        s = {"x_p": noisy(p_ids), "x_lab": noisy(lab_ids), "y_lab": data_y[lab_ids],
             "x_lab_semi": noisy(semi_ids), "y_lab_semi": data_y[semi_ids], "y_q": y_q,
             "x_fresh": torch.rand(B, 1, SIZE, SIZE) * 2 - 1,
             "x_fresh_y": torch.rand(B, 1, SIZE, SIZE) * 2 - 1}
        shared.append(s)
        out.update({f"it{i}.{k}": v for k, v in s.items()})

    # ---- cases
    base = dict(kind=0, n_steps=3, in_steps=2, pyld_lr=0.2, eps=1.0, sgld_lr=0.0, train_mode=1,
                norm=1, opt=0, lr=0.1, wd=4e-4, warmup=2, px=1.0, pyx=1.0, pxy=0.0,
                class_cond=0, uncond=0, lpc=-1)
    cases = [
        ("jempp", {}),
        ("jem", dict(kind=1, in_steps=0, pyld_lr=0.0, eps=0.0, sgld_lr=1.0, train_mode=0, norm=0,
                     opt=1, lr=1e-3, wd=0.0, warmup=-1)),
        ("pxy", dict(pxy=1.0)),
        ("class_cond", dict(class_cond=1)),
        ("uncond", dict(uncond=1)),
        ("semi", dict(lpc=1)),
        ("eval_sampling", dict(train_mode=0)),
    ]
    keys = ["kind", "n_steps", "in_steps", "pyld_lr", "eps", "sgld_lr", "train_mode", "norm", "opt",
            "lr", "wd", "warmup", "px", "pyx", "pxy", "class_cond", "uncond", "lpc"]
    meta = dict(depth=DEPTH, width=WIDTH, in_channels=CIN, image_size=SIZE, n_classes=NCLS,
                batch=B, buffer_size=NBUF, n_iters=ITERS, seed=SEED, torch=torch.__version__,
                cases=",".join(n for n, _ in cases))

    for name, over in cases:
        c = dict(base, **over)
        out[name + ".config"] = torch.tensor([float(c[k]) for k in keys], dtype=torch.float64)
        model = models["batch" if c["norm"] else "none"]
        model.load_state_dict({k: init_sd[k] for k in model.state_dict()}, strict=True)
        model.train()
        pnames = [n for n, _ in model.named_parameters()]
        params = dict(model.named_parameters())
        start = {n: p.detach().clone() for n, p in params.items()}
        if c["opt"] == 0:
            optim = torch.optim.SGD(model.parameters(), lr=c["lr"], momentum=0.9, weight_decay=c["wd"])
        else:
            optim = torch.optim.Adam(model.parameters(), lr=c["lr"], betas=[0.9, 0.999], weight_decay=c["wd"])
        buffer = init_buffer.clone()
        st = {"eps": 0, "box": 0, "n": 0, "moved": 0.0}
        for i in range(ITERS):
            s = shared[i]
            semi = c["lpc"] == 1
            x_lab, y_lab = (s["x_lab_semi"], s["y_lab_semi"]) if semi else (s["x_lab"], s["y_lab"])
            draws = {"px": slot_draw(s["y_q"] if c["class_cond"] else None, s["x_fresh"])}
            out[f"{name}.it{i}.idx"], out[f"{name}.it{i}.fresh"] = draws["px"][:2]
            if c["pxy"] > 0:
                draws["pxy"] = slot_draw(y_lab, s["x_fresh_y"])
                out[f"{name}.it{i}.idx_y"], out[f"{name}.it{i}.fresh_y"] = draws["pxy"][:2]
            terms, x_q, x_q_y, lr = iteration(model, optim, buffer, i, (s["x_p"], x_lab, y_lab, s["y_q"]),
                                              draws, c, st)
            out[f"{name}.it{i}.terms"] = torch.tensor(terms, dtype=torch.float64)
            out[f"{name}.it{i}.x_q"] = x_q.clone()
            if x_q_y is not None:
                out[f"{name}.it{i}.x_q_y"] = x_q_y.clone()
            out[f"{name}.it{i}.lr"] = torch.tensor([lr], dtype=torch.float64)
            if i in (0, 2):
                out[f"{name}.it{i}.buffer"] = buffer.clone()
                for k, v in model.state_dict().items():
                    if k not in params:
                        out[f"{name}.it{i}.stat.{k}"] = v.detach().clone()
            if i == 0 and name in ("jempp", "jem"):
                for n in pnames:
                    state = optim.state.get(params[n], {})
                    if "momentum_buffer" in state:
                        out[f"{name}.it0.opt.{n}"] = state["momentum_buffer"].clone()
                    if "exp_avg" in state:
                        out[f"{name}.it0.opt.{n}"] = state["exp_avg"].clone()
                        out[f"{name}.it0.opt2.{n}"] = state["exp_avg_sq"].clone()
        for n in pnames:
            out[f"{name}.it2.param.{n}"] = params[n].detach().clone()
        dparam = max((params[n].detach() - start[n]).abs().max().item() for n in pnames)
        assert st["moved"] > 1e-3, (name, st["moved"])
        assert dparam > 0, name
        n = max(st["n"], 1)
        t = terms
        note = (f"max |x_q - x_start| {st['moved']:.4g}; grad clamped at eps in "
                f"{st['eps'] / n:.3f} of inner updates, x at +-1 in {st['box'] / n:.3f}"
                f"{'' if st['n'] else ' (no inner loop)'}; it2 fp {t[0]:.5g} fq {t[1]:.5g} "
                f"ce {t[2]:.5g} L {t[3]:.5g} fxy_p {t[4]:.5g} fxy_q {t[5]:.5g}; "
                f"max |param change| {dparam:.4g}")
        meta[name + ".note"] = note
        print(f"{name}: {note}")

    tensors = {}
    for k, v in out.items():
        arr = v.numpy()
        if arr.dtype not in (np.float32, np.float64, np.int64, np.uint8):
            raise SystemExit(f"unexpected dtype {arr.dtype} for {k}")
        tensors[k] = arr
    save_keeping_0d(a.out, tensors, meta)
    print(f"{a.out}: {len(tensors)} tensors, {os.path.getsize(a.out)} bytes")


if __name__ == "__main__":
    main()
