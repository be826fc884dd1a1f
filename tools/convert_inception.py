#!/usr/bin/python3
"""Converts the standard FID Inception weights to jempp's safetensors file.

The input is pytorch-fid's pt_inception-2015-12-05-6726825d.pth (the TensorFlow FID
Inception ported to PyTorch: a state_dict of torchvision's Inception3 with the FID blocks,
1008 classes, no aux classifier), which users download themselves (docs/evaluation.md,
"FID weights"). The output holds the same tensors under the same names (float tensors as
F32, num_batches_tracked as I64), which src/nn/inception.c reads.

    /usr/bin/python3 tools/convert_inception.py pt_inception-2015-12-05-6726825d.pth \\
        inception_fid.safetensors

Needs Debian's python3-torch (torch.load), not torchvision. Every name and shape is
checked against the architecture (tools/gen_inception_ref.py builds it); a file of another
network is refused with the names that differ. The SHA-256 of the input is printed and
stored in the metadata; a file whose hash does not start with the 6726825d of the
standard file's name gets a warning (FID values would not be comparable to published
ones).
"""
import argparse
import hashlib
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_inception_ref  # noqa: E402
import safetensors_io  # noqa: E402

STANDARD_SHA256_PREFIX = "6726825d"


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_state_dict(path):
    obj = torch.load(path, map_location="cpu")
    if isinstance(obj, torch.nn.Module):
        obj = obj.state_dict()
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise ValueError("%s: not a state_dict (a %s)" % (path, type(obj).__name__))
    sd = {}
    for k, v in obj.items():
        if not torch.is_tensor(v):
            raise ValueError("%s: entry '%s' is not a tensor (%s)" % (path, k, type(v).__name__))
        sd[k[len("module."):] if k.startswith("module.") else k] = v
    return sd


def check_names(sd, path):
    """Same names and shapes as the FID architecture; num_batches_tracked may be absent
    (files saved before PyTorch 0.4.1 have none)."""
    want = gen_inception_ref.FIDInception3(1, 1008).state_dict()
    missing = [k for k in want if k not in sd and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in sd if k not in want]
    shapes = ["%s %s (expected %s)" % (k, list(sd[k].shape), list(want[k].shape))
              for k in want if k in sd and sd[k].shape != want[k].shape]
    problems = []
    if missing:
        problems.append("%d missing tensors: %s" % (len(missing), ", ".join(missing[:8])))
    if unexpected:
        problems.append("%d unexpected tensors: %s" % (len(unexpected), ", ".join(unexpected[:8])))
    if shapes:
        problems.append("%d tensors of the wrong shape: %s" % (len(shapes), "; ".join(shapes[:8])))
    if problems:
        raise ValueError("%s is not the FID Inception-v3 state_dict: %s" % (path, "; ".join(problems)))
    for k, v in sd.items():
        if v.is_floating_point() and not torch.isfinite(v).all():
            raise ValueError("%s: tensor '%s' holds NaN or infinite values" % (path, k))


def convert(src, dst):
    digest = sha256(src)
    sd = load_state_dict(src)
    check_names(sd, src)
    out = {}
    for k, v in sd.items():
        v = v.detach().cpu()
        out[k] = (v.float() if v.is_floating_point() else v.long()).contiguous()
    meta = {"format": "jempp-inception", "source": os.path.basename(src), "source_sha256": digest,
            "n_classes": str(out["fc.weight"].shape[0]), "div": "1"}
    tmp = dst + ".tmp.%d" % os.getpid()
    safetensors_io.save(tmp, out, meta)
    os.replace(tmp, dst)
    return digest, len(out), sum(v.numel() for v in out.values() if v.is_floating_point())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src", help="pt_inception-2015-12-05-6726825d.pth")
    ap.add_argument("dst", help="output .safetensors")
    a = ap.parse_args()
    try:
        digest, n, count = convert(a.src, a.dst)
    except (OSError, ValueError, RuntimeError) as e:
        sys.exit("convert_inception: %s" % e)
    print("wrote %s: %d tensors, %d weights; input sha256 %s" % (a.dst, n, count, digest))
    if not digest.startswith(STANDARD_SHA256_PREFIX):
        print("warning: %s is not the standard pt_inception-2015-12-05-%s.pth (sha256 %s...): FID values "
              "will not be comparable to published ones" % (a.src, STANDARD_SHA256_PREFIX, digest[:8]),
              file=sys.stderr)


if __name__ == "__main__":
    main()
