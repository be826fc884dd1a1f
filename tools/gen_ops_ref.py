#!/usr/bin/python3
"""Writes tests/data/ops_ref.safetensors: PyTorch forward outputs and autograd
gradients of every layer kernel in include/jempp/ops.h, read by tests/test_ops_torch.c.

Run with Debian's python3-torch 1.13 (CPU):  /usr/bin/python3 tools/gen_ops_ref.py [out]

All tensors are float32 unless noted. For each case the inputs and parameters, the
forward output, a random upstream gradient `dout` and torch's gradients w.r.t. the
input (`din`) and parameters (`dw`, `db`, `dgamma`, `dbeta`):
  conv{i}.cfg I32 [12]   n, cin, h, w, cout, kh, kw, sh, sw, ph, pw, has_bias
  conv{i}.{in,w,b,out,dout,din,dw,db}            F.conv2d (b, db only with bias)
  bn_train{i}.{in,gamma,beta,rm0,rv0,out,rm1,rv1,save_mean,save_invstd,dout,din,dgamma,dbeta}
      F.batch_norm(training=True, momentum=0.9, eps=1e-5); rm0/rv0 the running
      statistics before, rm1/rv1 after; save_* from torch.native_batch_norm
  bn_eval.{in,gamma,beta,rm,rv,out,dout,din,dgamma,dbeta}   F.batch_norm(training=False)
  lrelu.{in,out,dout,din}          F.leaky_relu(0.2); some inputs exactly 0
  relu.{in,out,dout,din}           F.relu (slope 0), the same input
  pool.{in,out,dout,din}           F.adaptive_avg_pool2d(x, 1) -> (N, C)
  linear.{in,w,b,out,dout,din,dw,db}   F.linear
  lse.{in,out,dout,din}            torch.logsumexp(x, 1), rows shifted by +60 and -40
  ce.{logits,out,dout,din}, ce.y I64   F.cross_entropy (mean); out, dout are [1]
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

# n, cin, h, w, cout, kh, kw, sh, sw, ph, pw, bias
CONVS = [
    (2, 4, 8, 8, 5, 3, 3, 1, 1, 1, 1, 1),   # WRN 3x3
    (2, 4, 8, 8, 6, 3, 3, 2, 2, 1, 1, 0),   # strided 3x3, no bias
    (2, 4, 8, 8, 6, 1, 1, 2, 2, 0, 0, 1),   # 1x1 strided shortcut
    (2, 3, 5, 7, 4, 1, 3, 1, 1, 0, 1, 1),   # 1x3 pad (0,1)
    (1, 3, 9, 6, 2, 7, 1, 1, 1, 3, 0, 0),   # 7x1 pad (3,0)
    (2, 16, 6, 6, 8, 3, 3, 1, 1, 1, 1, 1),  # 144-term sums
    (2, 3, 7, 8, 3, 3, 2, 2, 1, 0, 2, 1),   # 3x2, stride (2,1), pad (0,2)
]
BN_TRAIN = [(4, 3, 5, 5), (5, 2, 1, 1)]
MOMENTUM, EPS = 0.9, 1e-5


def leaf(t):
    return t.clone().requires_grad_(True)


def conv_case(t, i, cfg):
    n, cin, h, w, cout, kh, kw, sh, sw, ph, pw, bias = cfg
    x = leaf(torch.randn(n, cin, h, w))
    wt = leaf(torch.randn(cout, cin, kh, kw) / (cin * kh * kw) ** 0.5)
    b = leaf(torch.randn(cout) * 0.5) if bias else None
    out = F.conv2d(x, wt, b, stride=(sh, sw), padding=(ph, pw))
    dout = torch.randn_like(out)
    out.backward(dout)
    p = f"conv{i}."
    t[p + "cfg"] = np.array(cfg, dtype=np.int32)
    t[p + "in"], t[p + "w"] = x, wt
    if bias:
        t[p + "b"] = b
    t[p + "out"], t[p + "dout"], t[p + "din"], t[p + "dw"] = out, dout, x.grad, wt.grad
    if bias:
        t[p + "db"] = b.grad


def bn_train_case(t, i, shape):
    n, c, h, w = shape
    offs, scales = torch.randn(1, c, 1, 1), 0.5 + 1.5 * torch.rand(1, c, 1, 1)
    x = leaf(torch.randn(n, c, h, w) * scales + offs)
    gamma, beta = leaf(0.5 + torch.rand(c)), leaf(torch.randn(c) * 0.5)
    rm0, rv0 = torch.randn(c) * 0.5, 0.5 + torch.rand(c)
    rm, rv = rm0.clone(), rv0.clone()
    out = F.batch_norm(x, rm, rv, gamma, beta, training=True, momentum=MOMENTUM, eps=EPS)
    dout = torch.randn_like(out)
    out.backward(dout)
    with torch.no_grad():
        _, save_mean, save_invstd = torch.native_batch_norm(
            x, gamma, beta, rm0.clone(), rv0.clone(), True, MOMENTUM, EPS)
    p = f"bn_train{i}."
    t.update({p + "in": x, p + "gamma": gamma, p + "beta": beta, p + "rm0": rm0,
              p + "rv0": rv0, p + "out": out, p + "rm1": rm, p + "rv1": rv,
              p + "save_mean": save_mean, p + "save_invstd": save_invstd, p + "dout": dout,
              p + "din": x.grad, p + "dgamma": gamma.grad, p + "dbeta": beta.grad})


def bn_eval_case(t):
    n, c, h, w = 3, 3, 4, 4
    x = leaf(torch.randn(n, c, h, w) * 1.5 + 0.3)
    gamma, beta = leaf(0.5 + torch.rand(c)), leaf(torch.randn(c) * 0.5)
    rm, rv = torch.randn(c) * 0.5, 0.3 + torch.rand(c) * 2
    out = F.batch_norm(x, rm, rv, gamma, beta, training=False, momentum=MOMENTUM, eps=EPS)
    dout = torch.randn_like(out)
    out.backward(dout)
    t.update({"bn_eval.in": x, "bn_eval.gamma": gamma, "bn_eval.beta": beta,
              "bn_eval.rm": rm, "bn_eval.rv": rv, "bn_eval.out": out, "bn_eval.dout": dout,
              "bn_eval.din": x.grad, "bn_eval.dgamma": gamma.grad, "bn_eval.dbeta": beta.grad})


def act_cases(t):
    base = torch.randn(2, 3, 4, 4)
    base.view(-1)[::7] = 0.0  # the tie: torch takes the slope branch at exactly 0
    for name, fn in (("lrelu", lambda v: F.leaky_relu(v, 0.2)), ("relu", F.relu)):
        x = leaf(base)
        out = fn(x)
        dout = torch.randn_like(out)
        out.backward(dout)
        t.update({name + ".in": x, name + ".out": out, name + ".dout": dout,
                  name + ".din": x.grad})


def pool_case(t):
    x = leaf(torch.randn(2, 5, 8, 8))
    out = F.adaptive_avg_pool2d(x, 1).flatten(1)
    dout = torch.randn_like(out)
    out.backward(dout)
    t.update({"pool.in": x, "pool.out": out, "pool.dout": dout, "pool.din": x.grad})


def linear_case(t):
    x = leaf(torch.randn(6, 20))
    w = leaf(torch.randn(10, 20) / 20 ** 0.5)
    b = leaf(torch.randn(10) * 0.5)
    out = F.linear(x, w, b)
    dout = torch.randn_like(out)
    out.backward(dout)
    t.update({"linear.in": x, "linear.w": w, "linear.b": b, "linear.out": out,
              "linear.dout": dout, "linear.din": x.grad, "linear.dw": w.grad,
              "linear.db": b.grad})


def class_cases(t):
    x0 = torch.randn(6, 10) * 2
    x0[2] += 60.0   # far from 0: exp would overflow without the max shift
    x0[4] -= 40.0
    x = leaf(x0)
    out = torch.logsumexp(x, 1)
    dout = torch.randn_like(out)
    out.backward(dout)
    t.update({"lse.in": x, "lse.out": out, "lse.dout": dout, "lse.din": x.grad})

    logits = leaf(torch.randn(7, 10) * 2)
    y = torch.randint(0, 10, (7,), dtype=torch.int64)
    loss = F.cross_entropy(logits, y)
    dloss = torch.tensor(1.3)
    loss.backward(dloss)
    t.update({"ce.logits": logits, "ce.y": y, "ce.out": loss.reshape(1),
              "ce.dout": dloss.reshape(1), "ce.din": logits.grad})


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.normpath(os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "ops_ref.safetensors"))
    torch.manual_seed(1234)
    torch.set_num_threads(1)
    t = {}
    for i, cfg in enumerate(CONVS):
        conv_case(t, i, cfg)
    for i, shape in enumerate(BN_TRAIN):
        bn_train_case(t, i, shape)
    bn_eval_case(t)
    act_cases(t)
    pool_case(t)
    linear_case(t)
    class_cases(t)
    t = {k: (v.detach().contiguous() if torch.is_tensor(v) else v) for k, v in t.items()}
    safetensors_io.save(path, t, metadata={"generator": "tools/gen_ops_ref.py",
                                           "torch": torch.__version__,
                                           "n_conv": len(CONVS), "n_bn_train": len(BN_TRAIN),
                                           "momentum": MOMENTUM, "eps": EPS})
    print(f"wrote {path}: {len(t)} tensors, {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
