#!/usr/bin/python3
"""Writes the PyTorch reference files for tests/test_wrn_wide.c: a WRN-16-2 (two blocks
per group, batch norm, 10 classes, batch 8) at real sizes, with and without dropout.

Needs Debian's python3-torch (PyTorch 1.13): run with /usr/bin/python3:

    /usr/bin/python3 tools/gen_wrn_wide_ref.py      # both files into tests/data/

Files (one per input shape):
  wrn_ref_wide_fmnist.safetensors   1 x 28 x 28 (Fashion-MNIST's shape)
  wrn_ref_wide_cifar.safetensors    3 x 32 x 32 (CIFAR's shape)

The model is tools/gen_wrn_ref.py's CCF (the reference's module tree and state_dict
names). The files stay small (a full copy of the ~0.7 M parameters is 2.8 MB) because
neither the weights nor the dropout masks are stored: both sides compute them.

Formula initial state (the same in C, bit for bit: uint64 wraparound, doubles, one
rounding to float32). With fnv1a64 the 64-bit FNV-1a hash of a string's bytes and
splitmix64(z) = mix(z + 0x9E3779B97F4A7C15) (Steele et al.'s splitmix64 step), for
state_dict tensor `name` and its element i (PyTorch order):
  u = splitmix64(fnv1a64(name) ^ (i * 0x9E3779B97F4A7C15)) >> 40   (24 bits)
  v = u / 2^24 * 2 - 1                                              (in [-1, 1))
  conv / linear weight and bias:  (float)(v * bound), bound = 1 / sqrt(fan_in)
  BN weight (float)(1 + 0.1 v), BN bias (float)(0.1 v), running_mean 0, running_var 1,
  num_batches_tracked 0.
Formula dropout masks (p = 0.3, on each block's conv1 output): block b (0-based over
all blocks in order), element i of the whole (N, C, H, W) tensor in NCHW order is kept
when  splitmix64(fnv1a64("dropout") ^ (b * 0x100000001B3) ^ (i * 0x9E3779B97F4A7C15))
>> 40  >=  p * 2^24; kept elements are scaled by (float)(1 / (1 - p)) (torch's inverted
dropout), the others are 0.

Gradients: a tensor of at most 1024 elements is stored whole; a larger one as the
strided subset g.flatten()[::s], s = ceil(count / 1024), plus "gradsum.<name>" (F64
[2]: the sum and the sum of squares of the whole tensor, in double).

Tensors written in each file:
  x (F32 [8, C, H, W], uniform(-1, 1) from torch's seeded generator), y (I64 [8])
  initcheck.<name>, initcheck.<name>.index   a few formula init values (F32) of some
                       tensors and their flat indices (I64): C must match them exactly
  and for each configuration <cfg> = nodrop (no dropout) and drop (the formula masks):
  <cfg>.logits [8, 10], <cfg>.loss [1]   train-mode forward, F.cross_entropy (mean)
  <cfg>.grad.<param>   d loss / d param (energy_output: zeros, it gets no gradient),
                       whole or strided subset as above, <cfg>.gradsum.<param> for
                       the subsetted ones
  <cfg>.grad.x, <cfg>.gradsum.x   d loss / d x (strided subset + sums)
  <cfg>.after_fwd.<buffer>   BN running statistics (F32) and num_batches_tracked
                       (I64, shape []) after that one train forward
  <cfg>.eval.logits    eval-mode forward after the train forward (its running stats)
  <cfg>.kink.index (I64), <cfg>.kink.value (F32)   the LeakyReLU inputs of that train
                       forward within kink_window of 0: index into all inputs
                       concatenated in call order (per block bn1's then bn2's, then the
                       head's; each (N, C, H, W)), and the value
  drop.mask_kept (I64 [6])   how many elements each block's mask keeps
Metadata: depth, width, in_channels, image_size, n_classes, norm, batch, dropout, seed
(the batch's: the seed of --tries whose LeakyReLU inputs lie farthest from 0),
kink_margin (that distance), kink_window (2e-4), grad_subset (1024), torch.
"""
import argparse
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_wrn_ref  # noqa: E402  (CCF, save_keeping_0d)

DEPTH, WIDTH, N_CLASSES, BATCH, DROPOUT = 16, 2, 10, 8, 0.3
GRAD_SUBSET = 1024
KINK_WINDOW = 2e-4  # LeakyReLU inputs this close to 0 are stored (put_kinks)
M64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
FNV_PRIME = 0x100000001B3
SHAPES = {"fmnist": (1, 28, 1100), "cifar": (3, 32, 1200)}  # in_channels, image_size, first seed


# ---- the formulas (numpy uint64 arithmetic wraps; every constant is a np.uint64 so
# that no operand is promoted to float64)

def fnv1a64(s):
    h = 0xCBF29CE484222325
    for byte in s.encode():
        h = ((h ^ byte) * FNV_PRIME) & M64
    return h


def splitmix64(z):
    """splitmix64 of a uint64 array (the state step included)."""
    with np.errstate(over="ignore"):
        z = z + np.uint64(GOLDEN)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def splitmix64_scalar(z):
    """The same on Python integers, to check the numpy version."""
    z = (z + GOLDEN) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def u24(key, count):
    """splitmix64(key ^ (i * GOLDEN)) >> 40 for i = 0 .. count-1 (uint64 array)."""
    i = np.arange(count, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = np.uint64(key) ^ (i * np.uint64(GOLDEN))
    return splitmix64(z) >> np.uint64(40)


def uniform_pm1(name, count):
    """v = u / 2^24 * 2 - 1 in double (exact: u has 24 bits)."""
    u = u24(fnv1a64(name), count)
    # self-check of the vectorised uint64 arithmetic on a few elements
    for i in {0, count // 2, count - 1}:
        assert int(u[i]) == splitmix64_scalar(fnv1a64(name) ^ ((i * GOLDEN) & M64)) >> 40, name
    return u.astype(np.float64) / 16777216.0 * 2.0 - 1.0


def formula_state_dict(model):
    """The formula initial state of every state_dict tensor of the model."""
    sd = {}
    for mod_name, mod in model.named_modules():
        pre = mod_name + "."
        if isinstance(mod, (nn.Conv2d, nn.Linear)):
            bound = 1.0 / math.sqrt(float(mod.weight[0].numel()))  # fan_in
            for k in ("weight", "bias"):
                t = getattr(mod, k)
                v = uniform_pm1(pre + k, t.numel())
                sd[pre + k] = (v * bound).astype(np.float32).reshape(t.shape)
        elif isinstance(mod, nn.BatchNorm2d):
            c = mod.num_features
            sd[pre + "weight"] = (1.0 + 0.1 * uniform_pm1(pre + "weight", c)).astype(np.float32)
            sd[pre + "bias"] = (0.1 * uniform_pm1(pre + "bias", c)).astype(np.float32)
            sd[pre + "running_mean"] = np.zeros(c, np.float32)
            sd[pre + "running_var"] = np.ones(c, np.float32)
            sd[pre + "num_batches_tracked"] = np.zeros((), np.int64)
    assert set(sd) == set(model.state_dict()), set(model.state_dict()) ^ set(sd)
    return {k: torch.from_numpy(sd[k]) for k in model.state_dict()}


def blocks(model):
    """The WideBasic blocks in order (layer1.0, layer1.1, layer2.0, ...)."""
    return [b for layer in (model.f.layer1, model.f.layer2, model.f.layer3) for b in layer]


def dropout_masks(model, x):
    """The formula mask of every block's conv1 output (shapes from an eval forward)."""
    shapes = {}
    hooks = [b.conv1.register_forward_hook(lambda mod, inp, out, i=i: shapes.__setitem__(i, out.shape))
             for i, b in enumerate(blocks(model))]
    model.eval()
    with torch.no_grad():
        model.classify(x)
    for h in hooks:
        h.remove()
    base = fnv1a64("dropout")
    scale = np.float32(1.0 / (1.0 - DROPOUT))
    masks = []
    for b in range(len(shapes)):
        count = int(np.prod(shapes[b]))
        u = u24(base ^ ((b * FNV_PRIME) & M64), count)
        keep = u.astype(np.float64) >= DROPOUT * 16777216.0
        masks.append(torch.from_numpy(np.where(keep, scale, np.float32(0)).reshape(shapes[b])))
    return masks


# ---- LeakyReLU's kink: the backward's slope (1 or 0.2) jumps where an input crosses 0.
# An input closer to 0 than the two codes' forward rounding differences (up to ~5e-6
# with direct convolutions, ~5e-5 with Winograd) may take the other slope in C and move
# gradient elements upstream of it by a few percent of their tensor's largest value.
# So the batch is the one of several seeds whose inputs all lie farthest from 0, and the
# inputs within KINK_WINDOW of 0 are stored for C to see which slopes it took.

def lrelu_inputs(model, sd0, x, mask):
    """Every LeakyReLU input of a train forward from the formula state, flattened (NCHW),
    in call order: per block bn1's then bn2's, then the head's; BN statistics restored."""
    model.load_state_dict(sd0)
    for b, blk in enumerate(blocks(model)):
        blk.dropout.mask = mask[b] if mask is not None else None
    ins = []
    hooks = [m.register_forward_hook(lambda mod, inp, out: ins.append(inp[0].detach().reshape(-1).clone()))
             for m in model.modules() if isinstance(m, nn.LeakyReLU)]
    model.train()
    with torch.no_grad():
        model.classify(x)
    for h in hooks:
        h.remove()
    for blk in blocks(model):
        blk.dropout.mask = None
    model.load_state_dict(sd0)
    return torch.cat(ins).numpy()


def kink_margin(model, sd0, x, masks):
    """The smallest |LeakyReLU input| over both configurations."""
    return min(float(np.abs(lrelu_inputs(model, sd0, x, mk)).min()) for mk in (None, masks))


def put_kinks(out, prefix, model, sd0, x, mask):
    """<prefix>kink.index (I64, into the concatenated inputs of lrelu_inputs) and
    <prefix>kink.value (F32): the LeakyReLU inputs within KINK_WINDOW of 0."""
    v = lrelu_inputs(model, sd0, x, mask)
    idx = np.flatnonzero(np.abs(v) < KINK_WINDOW)
    out[prefix + "kink.index"] = idx.astype(np.int64)
    out[prefix + "kink.value"] = v[idx].copy()


def batch(seed, in_channels, image_size):
    """x ~ uniform(-1, 1) and labels from torch's generator seeded with seed."""
    torch.manual_seed(seed)
    x = torch.rand(BATCH, in_channels, image_size, image_size) * 2 - 1
    return x, torch.randint(0, N_CLASSES, (BATCH,))


def pick_seed(model, sd0, masks, in_channels, image_size, first_seed, tries):
    """Of the seeds first_seed .. first_seed + tries - 1, the one whose batch keeps every
    LeakyReLU input farthest from 0 (with ~2.6 M inputs the closest is typically ~3e-7
    away; the best of 64 seeds ~1e-6). Returns (seed, margin)."""
    best = (first_seed, -1.0)
    for seed in range(first_seed, first_seed + tries):
        margin = kink_margin(model, sd0, batch(seed, in_channels, image_size)[0], masks)
        if margin > best[1]:
            best = (seed, margin)
    return best


# ---- writing

def put_grad(out, key, g):
    """Gradient g under key: whole when small, else the strided subset + gradsum."""
    flat = g.detach().reshape(-1).numpy()
    if flat.size <= GRAD_SUBSET:
        out[key] = g.detach().clone().numpy()
        return
    stride = -(-flat.size // GRAD_SUBSET)
    out[key] = flat[::stride].copy()
    d = flat.astype(np.float64)
    out[key.replace(".grad.", ".gradsum.", 1)] = np.array([d.sum(), (d * d).sum()])


def run_config(model, sd0, x0, y, masks, prefix, out):
    """One train-mode forward/backward of the cross-entropy from the formula state, the
    running statistics after it, an eval forward; masks None: no dropout."""
    model.load_state_dict(sd0)
    for b, blk in enumerate(blocks(model)):
        blk.dropout.mask = masks[b] if masks is not None else None
    model.train()
    model.zero_grad(set_to_none=True)
    x = x0.clone().requires_grad_(True)
    logits = model.classify(x)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    out[prefix + "logits"] = logits.detach().clone().numpy()
    out[prefix + "loss"] = loss.detach().reshape(1).clone().numpy()
    for name, p in model.named_parameters():
        put_grad(out, prefix + "grad." + name, p.grad if p.grad is not None else torch.zeros_like(p))
    put_grad(out, prefix + "grad.x", x.grad)
    params = {name for name, _ in model.named_parameters()}
    for k, v in model.state_dict().items():
        if k not in params:
            out[prefix + "after_fwd." + k] = v.detach().clone().numpy()
    model.eval()
    with torch.no_grad():
        out[prefix + "eval.logits"] = model.classify(x0).clone().numpy()
    for blk in blocks(model):
        blk.dropout.mask = None
    return loss.item()


def init_samples(sd0, out):
    """A few formula values of some tensors, for C's exact check of its formula."""
    for name in ("f.conv1.weight", "f.conv1.bias", "f.layer2.0.shortcut.0.weight", "f.layer3.1.bn2.weight",
                 "f.layer3.1.bn2.bias", "class_output.weight", "energy_output.bias"):
        flat = sd0[name].reshape(-1).numpy()
        n = flat.size
        idx = np.array(sorted({i for i in (0, 1, 2, n // 3, n // 2, n - 2, n - 1) if 0 <= i < n}), np.int64)
        out["initcheck." + name] = flat[idx].copy()
        out["initcheck." + name + ".index"] = idx


def generate(path, in_channels, image_size, first_seed, tries):
    model = gen_wrn_ref.CCF(DEPTH, WIDTH, in_channels, N_CLASSES, "batch")
    sd0 = formula_state_dict(model)
    model.load_state_dict(sd0)
    masks = dropout_masks(model, batch(first_seed, in_channels, image_size)[0])  # shapes only
    seed, margin = pick_seed(model, sd0, masks, in_channels, image_size, first_seed, tries)
    x0, y = batch(seed, in_channels, image_size)
    out = {"x": x0.clone().numpy(), "y": y.clone().numpy()}
    init_samples(sd0, out)
    losses = [run_config(model, sd0, x0, y, None, "nodrop.", out),
              run_config(model, sd0, x0, y, masks, "drop.", out)]
    put_kinks(out, "nodrop.", model, sd0, x0, None)
    put_kinks(out, "drop.", model, sd0, x0, masks)
    out["drop.mask_kept"] = np.array([int((m != 0).sum()) for m in masks], np.int64)
    meta = dict(depth=DEPTH, width=WIDTH, in_channels=in_channels, image_size=image_size,
                n_classes=N_CLASSES, norm="batch", batch=BATCH, dropout=DROPOUT, seed=seed,
                kink_margin=f"{margin:.3g}", kink_window=KINK_WINDOW, grad_subset=GRAD_SUBSET, torch=torch.__version__)
    for k, v in out.items():
        assert v.dtype in (np.float32, np.float64, np.int64), (k, v.dtype)
    gen_wrn_ref.save_keeping_0d(path, out, meta)
    n_params = sum(p.numel() for p in model.parameters())
    kept = out["drop.mask_kept"] / np.array([m.numel() for m in masks])
    print(f"{path}: {len(out)} tensors, {n_params} parameters, {os.path.getsize(path)} bytes, "
          f"loss {losses[0]:.6f} (dropout {losses[1]:.6f}, kept {kept.min():.4f}..{kept.max():.4f}), "
          f"seed {seed}, smallest |LeakyReLU input| {margin:.3g}, "
          f"{out['nodrop.kink.index'].size}+{out['drop.kink.index'].size} within {KINK_WINDOW:g} of 0")


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(root, "tests", "data"),
                    help="folder the files wrn_ref_wide_{fmnist,cifar}.safetensors are written into")
    ap.add_argument("--only", choices=sorted(SHAPES), help="write one of the two files")
    ap.add_argument("--tries", type=int, default=64,
                    help="seeds tried for the batch (the one farthest from LeakyReLU's kink is kept)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(a.out, exist_ok=True)
    for tag, (in_channels, image_size, seed) in SHAPES.items():
        if a.only in (None, tag):
            generate(os.path.join(a.out, f"wrn_ref_wide_{tag}.safetensors"), in_channels, image_size, seed,
                     a.tries)


if __name__ == "__main__":
    main()
