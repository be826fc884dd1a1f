#!/usr/bin/python3
"""Converts a checkpoint of the reference PyTorch JEM++ code into a jempp checkpoint.

    /usr/bin/python3 tools/convert_reference_ckpt.py IN.pt OUT.safetensors [--no-buffer]
        [--image_size N] [--uncond]

The reference saves torch.save({"model_state_dict": state_dict, "replay_buffer": tensor}).
This writes a safetensors file (docs/formats.md) with:
- the canonical state_dict names of the WRN (f.conv1.*, f.layer{1,2,3}.{i}.{bn1,conv1,bn2,
  conv2,shortcut.0}.*, f.bn1.*) and the heads (class_output.*, energy_output.*). The YOPO
  aliases the reference also stores (f.layer_one.* = f.conv1.*, f.other_layers.{0,1,2}.* =
  f.layer{1,2,3}.*, f.other_layers.3.* = f.bn1.*) are checked to be equal and dropped;
- num_batches_tracked as I64 (shape [], as in PyTorch), every other tensor as F32;
- the replay buffer as "replay_buffer" (F32, [N, C, H, W]) unless --no-buffer;
- metadata format=jempp-checkpoint, source=pytorch-reference, depth, width, n_classes,
  in_channels, image_size (--image_size N; else the replay buffer's when the file holds
  one; else 32, the reference's CIFAR size, said in the output: a 28x28 Fashion-MNIST or
  MNIST model without a buffer needs --image_size 28), norm ("batch" when BN running
  statistics exist, else "none"), uncond (1 with --uncond: a JEM model trained with
  --uncond, whose log p(x) is energy_output).
The architecture is inferred from the tensors and every expected name and shape is
checked, so a checkpoint of another model is refused with a message saying what differs.
The file is written atomically (temporary file, fsync, rename).
"""
import argparse
import json
import os
import re
import struct
import sys

import numpy as np

# (alias prefix, canonical prefix): the YOPO model registers these modules twice.
ALIASES = [
    ("f.layer_one.", "f.conv1."),
    ("f.other_layers.0.", "f.layer1."),
    ("f.other_layers.1.", "f.layer2."),
    ("f.other_layers.2.", "f.layer3."),
    ("f.other_layers.3.", "f.bn1."),
]
BN_FIELDS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
HEADS = ("energy_output.", "class_output.")


class ConvertError(Exception):
    """A checkpoint that cannot be converted; the message says what and why."""


def wrn_layout(depth, width, in_channels, n_classes, norm):
    """[(name, shape, dtype)] of the reference model's canonical state_dict, in its order.

    Pre-activation WRN: conv1 3x3 in->16; three groups of n = (depth-4)/6 blocks with
    16k, 32k, 64k channels and strides 1, 2, 2; block = bn1, conv1 3x3, bn2, conv2 3x3
    (carries the stride), 1x1 shortcut conv in a Sequential when stride or channels change;
    final bn1; heads energy_output Linear(64k, 1) and class_output Linear(64k, C).
    """
    if (depth - 4) % 6 or depth < 10:
        raise ConvertError(f"depth {depth} is not 6n+4 with n >= 1")
    out = []

    def conv(name, cout, cin, k):
        out.append((name + ".weight", (cout, cin, k, k), "F32"))
        out.append((name + ".bias", (cout,), "F32"))

    def bn(name, c):
        if norm == "batch":
            for fld in BN_FIELDS:
                out.append((f"{name}.{fld}", () if fld == "num_batches_tracked" else (c,),
                            "I64" if fld == "num_batches_tracked" else "F32"))

    n = (depth - 4) // 6
    conv("f.conv1", 16, in_channels, 3)
    in_planes = 16
    for g, (planes, stride) in enumerate([(16 * width, 1), (32 * width, 2), (64 * width, 2)], 1):
        for i in range(n):
            s = stride if i == 0 else 1
            p = f"f.layer{g}.{i}"
            bn(p + ".bn1", in_planes)
            conv(p + ".conv1", planes, in_planes, 3)
            bn(p + ".bn2", planes)
            conv(p + ".conv2", planes, planes, 3)
            if s != 1 or in_planes != planes:
                conv(p + ".shortcut.0", planes, in_planes, 1)
            in_planes = planes
    bn("f.bn1", in_planes)
    out.append(("energy_output.weight", (1, in_planes), "F32"))
    out.append(("energy_output.bias", (1,), "F32"))
    out.append(("class_output.weight", (n_classes, in_planes), "F32"))
    out.append(("class_output.bias", (n_classes,), "F32"))
    return out


def alias_of(name):
    """The canonical name for an alias name, or None if name is not an alias."""
    for a, c in ALIASES:
        if name.startswith(a):
            return c + name[len(a):]
    return None


def aliases_for(name):
    """The alias names that duplicate canonical `name` in the reference state_dict."""
    return [a + name[len(c):] for a, c in ALIASES if name.startswith(c)]


def infer_arch(shapes):
    """(depth, width, in_channels, n_classes, norm) from {name: shape} of canonical names."""
    for need in ("f.conv1.weight", "f.layer1.0.conv1.weight", "class_output.weight"):
        if need not in shapes:
            raise ConvertError(f"no tensor '{need}': not a checkpoint of the reference WRN")
    in_channels = shapes["f.conv1.weight"][1]
    planes = shapes["f.layer1.0.conv1.weight"][0]
    if planes % 16:
        raise ConvertError(f"f.layer1.0.conv1.weight has {planes} output channels, "
                           "expected a multiple of 16 (16 * width)")
    width = planes // 16
    blocks = {int(m.group(1)) for k in shapes for m in [re.match(r"f\.layer1\.(\d+)\.", k)] if m}
    depth = 6 * len(blocks) + 4
    n_classes = shapes["class_output.weight"][0]
    if "f.bn1.running_mean" in shapes:
        norm = "batch"
    elif any(re.search(r"\.bn[12]\.", k) or k.startswith("f.bn1.") for k in shapes):
        raise ConvertError("the norm layers have parameters but no running statistics "
                           "(instance/group/act norm?); jempp converts 'batch' and 'none' only")
    else:
        norm = "none"
    return depth, width, in_channels, n_classes, norm


def check_layout(tensors, arch, what):
    """Raises ConvertError unless {name: array} holds exactly wrn_layout(*arch)."""
    layout = wrn_layout(*arch)
    expected = {n for n, _, _ in layout}
    missing = [n for n, _, _ in layout if n not in tensors]
    extra = [n for n in tensors if n not in expected]
    desc = "depth {}, width {}, {} input channels, {} classes, norm {}".format(*arch)
    if missing or extra:
        msg = f"{what} does not hold the reference WRN ({desc}):"
        if missing:
            msg += f" {len(missing)} tensors missing (e.g. {', '.join(missing[:4])})"
        if extra:
            msg += ";" if missing else ""
            msg += f" {len(extra)} unexpected tensors (e.g. {', '.join(extra[:4])})"
        raise ConvertError(msg)
    for name, shape, _ in layout:
        got = tuple(tensors[name].shape)
        if got != shape and not (shape == () and got == (1,)):
            raise ConvertError(f"{what}: tensor '{name}' has shape {list(got)}, "
                               f"the WRN ({desc}) expects {list(shape)}")
    return layout


def save_exact(path, tensors, metadata):
    """Writes a safetensors file like tools/safetensors_io.save, but keeps 0-d shapes
    (shape []) and replaces `path` atomically: temporary file, fsync, rename."""
    dt_name = {np.dtype(np.float32): "F32", np.dtype(np.int64): "I64"}
    header, off = {}, 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    arrays = []
    for name, arr in tensors.items():
        arr = np.asarray(arr)
        raw_arr = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<"), copy=False)
        n = raw_arr.nbytes
        header[name] = {"dtype": dt_name[arr.dtype], "shape": list(arr.shape),
                        "data_offsets": [off, off + n]}
        arrays.append(raw_arr)
        off += n
    hj = json.dumps(header, separators=(",", ":")).encode()
    hj += b" " * ((8 - len(hj) % 8) % 8)
    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            f.write(struct.pack("<Q", len(hj)))
            f.write(hj)
            for a in arrays:
                f.write(a.tobytes())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    dfd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def load_torch(path):
    import torch
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except TypeError:  # a torch without weights_only
        return torch.load(path, map_location="cpu")


def canonical_state(sd, log=print):
    """Drops the YOPO aliases after checking they equal their canonical tensors."""
    import torch
    keys = list(sd.keys())
    if keys and all(k.startswith("module.") for k in keys):
        sd = {k[len("module."):]: v for k, v in sd.items()}  # saved from DataParallel
    out = {}
    for k, v in sd.items():
        if alias_of(k) is None:
            out[k] = v
    for k, v in sd.items():
        c = alias_of(k)
        if c is None:
            continue
        if c not in out:
            log(f"note: '{k}' has no canonical twin '{c}'; kept under the canonical name")
            out[c] = v
            continue
        w = out[c]
        if tuple(v.shape) != tuple(w.shape) or v.dtype != w.dtype or not torch.equal(v, w):
            how = ("its values" if tuple(v.shape) == tuple(w.shape) and v.dtype == w.dtype
                   else f"{v.dtype} {list(v.shape)} vs {w.dtype} {list(w.shape)}")
            raise ConvertError(f"alias '{k}' differs from '{c}' ({how}): the checkpoint is "
                               "inconsistent")
    return out


# The size assumed when neither --image_size nor a replay buffer gives one: the
# reference's CIFAR images (it pools with avg_pool2d(8) after two stride-2 groups).
DEFAULT_IMAGE_SIZE = 32


def choose_image_size(image_size, buf, keep_buffer, log):
    """The image size to write: image_size (the --image_size flag) when given, else the
    replay buffer's, else DEFAULT_IMAGE_SIZE with a note saying so and how to override.
    A kept buffer of another size than --image_size is refused (the file would hold images
    its model does not take)."""
    buf_size = int(buf.shape[2]) if buf is not None else None
    if image_size is not None:
        if image_size < 4 or image_size % 4 or image_size > 1024:
            raise ConvertError(f"--image_size {image_size}: must be a multiple of 4 between 4 and 1024")
        if buf_size is not None and buf_size != image_size:
            if keep_buffer:
                raise ConvertError(f"--image_size {image_size} but the replay buffer holds {buf_size}x{buf_size} "
                                   "images (leave --image_size out, or the buffer with --no-buffer)")
            log(f"note: image_size {image_size} (--image_size), not the replay buffer's {buf_size}")
        return image_size
    if buf_size is not None:
        return buf_size
    log(f"note: image_size {DEFAULT_IMAGE_SIZE} assumed (no replay buffer to infer it from; the reference's "
        f"CIFAR size): pass --image_size N to set it, e.g. --image_size 28 for Fashion-MNIST or MNIST")
    return DEFAULT_IMAGE_SIZE


def convert(in_path, out_path, keep_buffer=True, log=print, uncond=False, image_size=None):
    """Converts; returns the metadata written. Raises ConvertError on bad input.
    image_size: the model's image size (None: the replay buffer's, else 32 with a note)."""
    import torch
    ck = load_torch(in_path)
    if isinstance(ck, dict) and "model_state_dict" in ck:
        sd = ck["model_state_dict"]
        for k in ck:
            if k not in ("model_state_dict", "replay_buffer"):
                log(f"note: ignoring top-level entry '{k}'")
    elif isinstance(ck, dict) and ck and all(torch.is_tensor(v) for v in ck.values()):
        sd, ck = ck, {}
    else:
        raise ConvertError(f"{in_path}: expected a dict with 'model_state_dict' "
                           "(torch.save of the reference JEM++ code)")
    sd = canonical_state(sd, log)
    arch = infer_arch({k: tuple(v.shape) for k, v in sd.items()})
    layout = check_layout(sd, arch, in_path)
    depth, width, in_channels, n_classes, norm = arch

    tensors = {}
    for name, shape, dt in layout:  # the reference's order
        t = sd[name].detach().cpu()
        if dt == "I64":
            if t.is_floating_point():
                raise ConvertError(f"{in_path}: '{name}' is {t.dtype}, expected an integer")
            tensors[name] = t.to(torch.int64).reshape(shape).numpy()
        else:
            if not t.is_floating_point():
                raise ConvertError(f"{in_path}: '{name}' is {t.dtype}, expected floating point")
            if t.dtype != torch.float32:
                log(f"note: '{name}' converted from {t.dtype} to float32")
            tensors[name] = t.to(torch.float32).numpy()
    buf = ck.get("replay_buffer") if isinstance(ck, dict) else None
    if buf is not None and (not torch.is_tensor(buf) or buf.dim() != 4
                            or buf.shape[1] != in_channels or buf.shape[2] != buf.shape[3]):
        shape = list(buf.shape) if torch.is_tensor(buf) else type(buf).__name__
        raise ConvertError(f"{in_path}: replay_buffer is {shape}, expected a tensor "
                           f"[N, {in_channels}, H, H]")
    image_size = choose_image_size(image_size, buf, keep_buffer, log)
    meta = {"format": "jempp-checkpoint", "source": "pytorch-reference", "depth": depth,
            "width": width, "n_classes": n_classes, "in_channels": in_channels,
            "image_size": image_size, "norm": norm, "uncond": int(bool(uncond))}
    if buf is not None and keep_buffer:
        tensors["replay_buffer"] = buf.detach().cpu().to(torch.float32).contiguous().numpy()
    save_exact(out_path, tensors, meta)
    log(f"wrote {out_path}: WRN-{depth}-{width}, {in_channels} input channels, {n_classes} "
        f"classes, norm {norm}, image size {image_size}, {len(layout)} model tensors"
        + (f", replay buffer {list(tensors['replay_buffer'].shape)}" if "replay_buffer" in tensors
           else ", no replay buffer"))
    return {k: str(v) for k, v in meta.items()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("input", help="torch.save file of the reference code (.pt)")
    ap.add_argument("output", help="jempp checkpoint to write (.safetensors)")
    ap.add_argument("--no-buffer", action="store_true", help="leave the replay buffer out")
    ap.add_argument("--uncond", action="store_true",
                    help="the model was trained with JEM's --uncond: log p(x) is energy_output")
    ap.add_argument("--image_size", type=int, default=None, metavar="N",
                    help="the model's image size (default: the replay buffer's, else "
                         f"{DEFAULT_IMAGE_SIZE}; 28 for Fashion-MNIST or MNIST)")
    a = ap.parse_args(argv)
    try:
        convert(a.input, a.output, keep_buffer=not a.no_buffer, uncond=a.uncond,
                image_size=a.image_size)
    except (ConvertError, OSError) as e:
        print(f"convert_reference_ckpt: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
