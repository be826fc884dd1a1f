#!/usr/bin/python3
"""Writes the PyTorch reference files for tests/test_inception.c (the FID Inception-v3).

Needs Debian's python3-torch (PyTorch 1.13), not torchvision: the network is written out
here by hand, transcribing torchvision's Inception3 (BasicConv2d, InceptionA..E) with
pytorch-fid's FID patches (FIDInceptionA/C/E_1: average pools with
count_include_pad=False; FIDInceptionE_2: a 3x3 max pool in branch_pool), built as
pytorch-fid's fid_inception_v3() does (num_classes=1008, no aux classifier). The module
names are torchvision's, so the state_dict names are those of the standard FID weights
file pt_inception-2015-12-05-6726825d.pth (and of tools/convert_inception.py's output).

    /usr/bin/python3 tools/gen_inception_ref.py                # the committed small files
    /usr/bin/python3 tools/gen_inception_ref.py --div 1 \\
        --weights build/inception_full.safetensors --ref build/inception_full_ref.safetensors

--div D divides every channel count (and the 1008 classes) by D, so that the weights of
the default D = 8 take about 1.5 MB and can be committed; the C network reads every
channel count from the weight shapes. D = 1 is the real architecture (24M parameters,
95 MB: written at test time, never committed).

The weights are random (seeded): conv weights He-normal, BN weight/bias uniform, and BN
running statistics calibrated on random images (train-mode passes) and then perturbed,
so that activations stay O(1) through the 90+ layers and folding BN into the
convolutions is really tested. The fc layer (logits for the Inception Score) is random.

Weights file (--weights): the state_dict (F32; num_batches_tracked I64 []), metadata
format=jempp-inception, div, n_classes, seed, torch.
Reference file (--ref):
  x [2,3,32,32]      input images in [-1, 1] (pytorch-fid's inputs after its 2x-1)
  resize.<k>.in / resize.<k>.out   F.interpolate(mode='bilinear', align_corners=False)
                     cases: [1,1,32,32]->299x299, [2,3,7,5]->13x11 (up),
                     [1,2,40,30]->17x23 (down), [1,1,5,6]->5x6 (identity)
  feats [2,F]        pool3 features (adaptive average pool of Mixed_7c), F = 2048/div
  feats64 [2,F]      the same computed in float64 (stored as F32): how far float32 torch
                     itself is from exact, to judge the C code's differences
  logits, probs [2,K] fc(feats) and its softmax, K = 1008/div
  stem [2,192/div,35,35], mixed_6e [2,768/div,17,17]   intermediate activations (debug)
"""
import argparse
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402


class BasicConv2d(nn.Module):
    """torchvision: conv (no bias) + BatchNorm(eps=0.001) + ReLU."""

    def __init__(self, cin, cout, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


def avg_pool_fid(x):
    # FID patch: TensorFlow's average pool does not count the padded zeros
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class FIDInceptionA(nn.Module):
    def __init__(self, cin, pool_features, d):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 64 // d, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(cin, 48 // d, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48 // d, 64 // d, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64 // d, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64 // d, 96 // d, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96 // d, 96 // d, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool_features, kernel_size=1)

    def forward(self, x):
        b1 = self.branch1x1(x)
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = self.branch_pool(avg_pool_fid(x))
        return torch.cat([b1, b5, b3, bp], 1)


class InceptionB(nn.Module):
    def __init__(self, cin, d):
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, 384 // d, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64 // d, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64 // d, 96 // d, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96 // d, 96 // d, kernel_size=3, stride=2)

    def forward(self, x):
        b3 = self.branch3x3(x)
        bd = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([b3, bd, bp], 1)


class FIDInceptionC(nn.Module):
    def __init__(self, cin, c7, d):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 192 // d, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192 // d, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192 // d, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(cin, 192 // d, kernel_size=1)

    def forward(self, x):
        b1 = self.branch1x1(x)
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = self.branch7x7dbl_1(x)
        bd = self.branch7x7dbl_3(self.branch7x7dbl_2(bd))
        bd = self.branch7x7dbl_5(self.branch7x7dbl_4(bd))
        bp = self.branch_pool(avg_pool_fid(x))
        return torch.cat([b1, b7, bd, bp], 1)


class InceptionD(nn.Module):
    def __init__(self, cin, d):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(cin, 192 // d, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192 // d, 320 // d, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, 192 // d, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192 // d, 192 // d, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192 // d, 192 // d, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192 // d, 192 // d, kernel_size=3, stride=2)

    def forward(self, x):
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_1(x)
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(b7)))
        bp = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([b3, b7, bp], 1)


class FIDInceptionE(nn.Module):
    """max_pool=False: FIDInceptionE_1 (avg pool, count_include_pad=False);
    max_pool=True: FIDInceptionE_2 (3x3 max pool, stride 1, padding 1)."""

    def __init__(self, cin, d, max_pool):
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = BasicConv2d(cin, 320 // d, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(cin, 384 // d, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384 // d, 384 // d, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384 // d, 384 // d, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(cin, 448 // d, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448 // d, 384 // d, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384 // d, 384 // d, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384 // d, 384 // d, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, 192 // d, kernel_size=1)

    def forward(self, x):
        b1 = self.branch1x1(x)
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
        if self.max_pool:
            bp = F.max_pool2d(x, kernel_size=3, stride=1, padding=1)
        else:
            bp = avg_pool_fid(x)
        bp = self.branch_pool(bp)
        return torch.cat([b1, b3, bd, bp], 1)


class FIDInception3(nn.Module):
    """torchvision's Inception3(num_classes=1008, aux_logits=False) with the FID blocks,
    channel counts divided by d. forward(x in [-1,1]) -> (feats, logits, stem, mixed_6e)."""

    def __init__(self, d=1, n_classes=1008):
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32 // d, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32 // d, 32 // d, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32 // d, 64 // d, kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64 // d, 80 // d, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80 // d, 192 // d, kernel_size=3)
        self.Mixed_5b = FIDInceptionA(192 // d, 32 // d, d)
        c5b = (64 + 64 + 96 + 32) // d
        self.Mixed_5c = FIDInceptionA(c5b, 64 // d, d)
        c5c = (64 + 64 + 96 + 64) // d
        self.Mixed_5d = FIDInceptionA(c5c, 64 // d, d)
        self.Mixed_6a = InceptionB(c5c, d)
        c6 = (384 + 96) // d + c5c
        self.Mixed_6b = FIDInceptionC(c6, 128 // d, d)
        self.Mixed_6c = FIDInceptionC(c6, 160 // d, d)
        self.Mixed_6d = FIDInceptionC(c6, 160 // d, d)
        self.Mixed_6e = FIDInceptionC(c6, 192 // d, d)
        c7a = (320 + 192) // d + c6
        self.Mixed_7a = InceptionD(c6, d)
        self.Mixed_7b = FIDInceptionE(c7a, d, max_pool=False)
        c7b = (320 + 768 + 768 + 192) // d
        self.Mixed_7c = FIDInceptionE(c7b, d, max_pool=True)
        self.fc = nn.Linear(c7b, n_classes)

    def forward(self, x):
        # pytorch-fid: resize to 299 (bilinear, align_corners=False); our inputs are
        # already in [-1, 1], so its 2x-1 is not applied
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        stem = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Mixed_5d(self.Mixed_5c(self.Mixed_5b(stem)))
        x = self.Mixed_6a(x)
        m6e = self.Mixed_6e(self.Mixed_6d(self.Mixed_6c(self.Mixed_6b(x))))
        x = self.Mixed_7c(self.Mixed_7b(self.Mixed_7a(m6e)))
        feats = F.adaptive_avg_pool2d(x, (1, 1)).flatten(1)
        logits = self.fc(feats)  # (dropout: identity in eval mode)
        return feats, logits, stem, m6e


def randomise(model, seed):
    """Seeded random weights; BN running statistics calibrated then perturbed."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * (2.0 / fan_in) ** 0.5)
            elif isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(0.5 + torch.rand(c, generator=g))
                m.bias.copy_((torch.rand(c, generator=g) - 0.5) * 0.4)
                m.momentum = None  # cumulative averages during calibration
            elif isinstance(m, nn.Linear):
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) / m.in_features ** 0.5)
                m.bias.copy_((torch.rand(m.out_features, generator=g) - 0.5) * 0.2)
        # calibrate the running statistics on random images like the test's (train mode)
        model.train()
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.reset_running_stats()
        calib = torch.rand(4, 3, 32, 32, generator=g) * 2 - 1
        model(calib)
        model.eval()
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.running_mean.add_((torch.rand(c, generator=g) - 0.5) * 0.2 * m.running_var.sqrt())
                m.running_var.mul_(0.8 + 0.45 * torch.rand(c, generator=g))
                m.momentum = 0.1
                m.num_batches_tracked.fill_(0)


def resize_cases(g):
    cases = [((1, 1, 32, 32), (299, 299)), ((2, 3, 7, 5), (13, 11)),
             ((1, 2, 40, 30), (17, 23)), ((1, 1, 5, 6), (5, 6))]
    out = {}
    for k, (shape, size) in enumerate(cases):
        x = torch.rand(shape, generator=g) * 2 - 1
        out["resize.%d.in" % k] = x
        out["resize.%d.out" % k] = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    data = os.path.join(here, "..", "tests", "data")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--div", type=int, default=8, help="divide every channel count by this (1: full size)")
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--weights", default=os.path.join(data, "inception_rand.safetensors"))
    ap.add_argument("--ref", default=os.path.join(data, "inception_ref.safetensors"))
    a = ap.parse_args()
    if a.div not in (1, 2, 4, 8, 16):
        sys.exit("--div must be 1, 2, 4, 8 or 16 (every channel count must divide)")
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    torch.manual_seed(a.seed)
    n_classes = 1008 // a.div
    model = FIDInception3(a.div, n_classes)
    randomise(model, a.seed)
    model.eval()

    sd = model.state_dict()
    meta = dict(format="jempp-inception", div=a.div, n_classes=n_classes, seed=a.seed,
                torch=torch.__version__, source="tools/gen_inception_ref.py (random weights)")
    safetensors_io.save(a.weights, {k: v.detach().clone() for k, v in sd.items()}, meta)

    g = torch.Generator().manual_seed(a.seed + 1)
    x = torch.rand(2, 3, 32, 32, generator=g) * 2 - 1
    with torch.no_grad():
        feats, logits, stem, m6e = model(x)
        feats64 = model.double()(x.double())[0].float()  # the float64 truth, rounded
    model.float()
    ref = {"x": x, "feats": feats, "logits": logits, "probs": F.softmax(logits, 1),
           "stem": stem, "mixed_6e": m6e, "feats64": feats64}
    ref.update(resize_cases(g))
    safetensors_io.save(a.ref, {k: v.detach().contiguous().clone() for k, v in ref.items()},
                        dict(div=a.div, n_classes=n_classes, seed=a.seed, torch=torch.__version__))
    nparam = sum(p.numel() for p in model.parameters())
    print("wrote %s (%d parameters) and %s; feats std %.3g, |logits| max %.3g"
          % (a.weights, nparam, a.ref, feats.std().item(), logits.abs().max().item()))


if __name__ == "__main__":
    main()
