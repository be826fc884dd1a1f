#!/usr/bin/python3
"""Writes the PyTorch reference files for tests/test_wrn_torch.c.

Needs Debian's python3-torch (PyTorch 1.13): run with /usr/bin/python3, not another
python3 that may stand first on PATH:

    /usr/bin/python3 tools/gen_wrn_ref.py            # the three files into tests/data/

The model is the JEM/JEM++ reference's module tree (see ../shared/REFERENCE.md), so the
state_dict names are the reference checkpoint's names:
  f.conv1.*, f.layer{1,2,3}.{i}.{bn1,conv1,bn2,conv2,shortcut.0}.*, f.bn1.*,
  energy_output.*, class_output.*
For one seeded model and one batch (x ~ U(-1,1), labels) each file holds:
  init.<name>          the initial state_dict (num_batches_tracked as I64, shape [] as
                       in PyTorch)
  x, y (I64)           the batch
  logits, loss [1]     train-mode forward, F.cross_entropy (mean)
  grad.<param>         d loss / d param (zeros for energy_output: unused, .grad is None)
  grad.x, grad.z0      d loss / d x and d loss / d z0, z0 = f.conv1(x)
  after_fwd.<buffer>   BN running statistics and counters after that one train forward
  eval.logits          eval-mode forward after the train forward (its running stats)
  eval.grad.x          d sum_n logsumexp(eval logits) / d x
  uncond.e, uncond.w   the energy head e = energy_output(f(x)) (train mode, initial
                       state) and fixed weights w = linspace(-1, 1)
  uncond.grad.<param>, uncond.grad.x   d (sum_i w_i e_i + CE(class_output(f(x)), y))
  sgd5.<name>          the state_dict after 5 steps of SGD(lr 0.1, momentum 0.9,
                       weight decay 4e-4), each a train-mode step on the same batch,
                       from the initial weights and statistics. energy_output gets no
                       gradient (None), so torch's SGD leaves it untouched.
Metadata: depth, width, in_channels, image_size, n_classes, norm, batch, seed, torch.
WideBasic's dropout is GivenDropout: the identity here (no mask), a given mask in
tools/gen_wrn_wide_ref.py, which imports this module's CCF.

Sizes: the number of parameters grows as width^2 and every file holds three copies of
them (init, grad, sgd5); depth 10 width 1 is about 77k parameters (0.3 MB a copy), width
2 about 300k (1.2 MB a copy), so the committed files use width 1 to stay under 1.5 MB;
wrn_ref_deep (WRN-16-1, two blocks per group, BN, 1x8x8, batch 4) is about 2.1 MB.
"""
import argparse
import copy
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

SLOPE = 0.2


def get_norm(c, norm):
    return nn.BatchNorm2d(c, momentum=0.9) if norm == "batch" else nn.Identity()


class GivenDropout(nn.Module):
    """Dropout with a mask given from outside (tools/gen_wrn_wide_ref.py), so that a test
    can hand the same mask to jempp: in train mode out = x * mask, mask holding
    keep / (1 - p) or 0 (torch's inverted dropout); no mask (the default), or eval mode,
    is the identity. The mask is a plain attribute, not a buffer: the state_dict and the
    seeded initialisation are those of the reference's model without dropout."""

    def __init__(self):
        super().__init__()
        self.mask = None

    def forward(self, x):
        if self.mask is None or not self.training:
            return x
        assert self.mask.shape == x.shape, (self.mask.shape, x.shape)
        return x * self.mask


class WideBasic(nn.Module):
    """The reference's wide_basic (pre-activation block)."""

    def __init__(self, in_planes, planes, stride, norm):
        super().__init__()
        self.lrelu = nn.LeakyReLU(SLOPE)
        self.bn1 = get_norm(in_planes, norm)
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, padding=1, bias=True)
        self.dropout = GivenDropout()  # the reference's nn.Dropout, with a given mask
        self.bn2 = get_norm(planes, norm)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=stride, padding=1, bias=True)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes, kernel_size=1, stride=stride, bias=True))

    def forward(self, x):
        out = self.dropout(self.conv1(self.lrelu(self.bn1(x))))
        out = self.conv2(self.lrelu(self.bn2(out)))
        out += self.shortcut(x)
        return out


class WideResNet(nn.Module):
    def __init__(self, depth, width, in_channels, norm):
        super().__init__()
        assert (depth - 4) % 6 == 0
        n = (depth - 4) // 6
        stages = [16, 16 * width, 32 * width, 64 * width]
        self.in_planes = 16
        self.conv1 = nn.Conv2d(in_channels, stages[0], kernel_size=3, stride=1, padding=1, bias=True)
        self.layer1 = self._layer(stages[1], n, 1, norm)
        self.layer2 = self._layer(stages[2], n, 2, norm)
        self.layer3 = self._layer(stages[3], n, 2, norm)
        self.bn1 = get_norm(stages[3], norm)
        self.lrelu = nn.LeakyReLU(SLOPE)
        self.last_dim = stages[3]
        self.z0 = None

    def _layer(self, planes, n, stride, norm):
        layers = []
        for s in [stride] + [1] * (n - 1):
            layers.append(WideBasic(self.in_planes, planes, s, norm))
            self.in_planes = planes
        return nn.Sequential(*layers)

    def forward(self, x):
        z0 = self.conv1(x)
        if z0.requires_grad:
            z0.retain_grad()
        self.z0 = z0
        out = self.layer3(self.layer2(self.layer1(z0)))
        out = self.lrelu(self.bn1(out))
        return F.adaptive_avg_pool2d(out, 1).flatten(1)


class CCF(nn.Module):
    """The reference's F/CCF: trunk under `f.`, the two heads at top level."""

    def __init__(self, depth, width, in_channels, n_classes, norm):
        super().__init__()
        self.f = WideResNet(depth, width, in_channels, norm)
        self.energy_output = nn.Linear(self.f.last_dim, 1)
        self.class_output = nn.Linear(self.f.last_dim, n_classes)

    def classify(self, x):
        return self.class_output(self.f(x))


def save_keeping_0d(path, tensors, meta):
    """safetensors_io.save keeps the shape [] of 0-d tensors (num_batches_tracked is 0-d
    in a PyTorch state_dict); checks that it did."""
    safetensors_io.save(path, tensors, meta)
    zero_d = {k for k, v in tensors.items() if np.ndim(v) == 0}
    if zero_d:
        with open(path, "rb") as f:
            n = struct.unpack("<Q", f.read(8))[0]
            header = json.loads(f.read(n))
        for k in zero_d:
            assert header[k]["shape"] == [], (k, header[k])


def state(model, prefix):
    return {prefix + k: v.detach().clone() for k, v in model.state_dict().items()}


def generate(path, depth, width, in_channels, image_size, n_classes, norm, batch, seed):
    torch.manual_seed(seed)
    model = CCF(depth, width, in_channels, n_classes, norm)
    init_sd = copy.deepcopy(model.state_dict())
    x0 = torch.rand(batch, in_channels, image_size, image_size) * 2 - 1
    y = torch.randint(0, n_classes, (batch,))

    out = {}
    out.update(state(model, "init."))
    out["x"] = x0.clone()
    out["y"] = y.clone()

    # ---- one train-mode forward/backward of the cross-entropy
    model.train()
    model.zero_grad(set_to_none=True)
    x = x0.clone().requires_grad_(True)
    logits = model.classify(x)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    out["logits"] = logits.detach().clone()
    out["loss"] = loss.detach().reshape(1).clone()
    for name, p in model.named_parameters():
        g = p.grad if p.grad is not None else torch.zeros_like(p)
        out["grad." + name] = g.detach().clone()
    out["grad.x"] = x.grad.detach().clone()
    out["grad.z0"] = model.f.z0.grad.detach().clone()
    params = {name for name, _ in model.named_parameters()}
    for k, v in model.state_dict().items():
        if k not in params:
            out["after_fwd." + k] = v.detach().clone()

    # ---- eval-mode forward (running statistics of the train forward) and d sum LSE / dx
    model.eval()
    model.zero_grad(set_to_none=True)
    x = x0.clone().requires_grad_(True)
    logits_e = model.classify(x)
    torch.logsumexp(logits_e, 1).sum().backward()
    out["eval.logits"] = logits_e.detach().clone()
    out["eval.grad.x"] = x.grad.detach().clone()

    # ---- the unconditional model (JEM's --uncond): log p(x) = energy_output(f(x)).
    # From the initial state, train mode: loss = sum_i w_i e_i + CE(class_output(f(x)), y)
    # with fixed weights w, so both heads and the trunk get gradients.
    model.load_state_dict(init_sd)
    model.train()
    model.zero_grad(set_to_none=True)
    x = x0.clone().requires_grad_(True)
    feat = model.f(x)
    e = model.energy_output(feat).squeeze(1)
    w = torch.linspace(-1.0, 1.0, batch)
    loss_u = (w * e).sum() + F.cross_entropy(model.class_output(feat), y)
    loss_u.backward()
    out["uncond.e"] = e.detach().clone()
    out["uncond.w"] = w.clone()
    for name, p in model.named_parameters():
        out["uncond.grad." + name] = p.grad.detach().clone()
    out["uncond.grad.x"] = x.grad.detach().clone()

    # ---- 5 SGD steps from the initial state, train mode, same batch
    model.load_state_dict(init_sd)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=4e-4)
    for _ in range(5):
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model.classify(x0), y)
        loss.backward()
        opt.step()
    out.update(state(model, "sgd5."))

    meta = dict(depth=depth, width=width, in_channels=in_channels, image_size=image_size,
                n_classes=n_classes, norm=norm, batch=batch, seed=seed, torch=torch.__version__)
    tensors = {}
    for k, v in out.items():
        a = v.numpy()
        if a.dtype == np.float32 or a.dtype == np.int64:
            tensors[k] = a
        else:
            raise SystemExit(f"unexpected dtype {a.dtype} for {k}")
    save_keeping_0d(path, tensors, meta)
    size = os.path.getsize(path)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{path}: {len(tensors)} tensors, {n_params} parameters, {size} bytes, "
          f"loss {out['loss'].item():.6f}")


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--outdir", default=os.path.join(root, "tests", "data"))
    ap.add_argument("--bn_width", type=int, default=1,
                    help="width of the BN file's model (2 makes a ~3.7 MB file)")
    ap.add_argument("--only", choices=["bn", "nobn", "deep"], help="write one of the three files")
    ap.add_argument("--suffix", default="", help="appended to the file names (extra files)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(a.outdir, exist_ok=True)
    if a.only in (None, "bn"):
        generate(os.path.join(a.outdir, f"wrn_ref_bn{a.suffix}.safetensors"), depth=10,
                 width=a.bn_width, in_channels=3, image_size=16, n_classes=10, norm="batch",
                 batch=8, seed=1)
    if a.only in (None, "nobn"):
        generate(os.path.join(a.outdir, f"wrn_ref_nobn{a.suffix}.safetensors"), depth=10,
                 width=1, in_channels=1, image_size=12, n_classes=10, norm="none",
                 batch=8, seed=2)
    if a.only in (None, "deep"):
        # two blocks per group (identity shortcuts, the second block's input from the first)
        generate(os.path.join(a.outdir, f"wrn_ref_deep{a.suffix}.safetensors"), depth=16,
                 width=1, in_channels=1, image_size=8, n_classes=10, norm="batch",
                 batch=4, seed=4)


if __name__ == "__main__":
    main()
