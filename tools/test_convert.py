#!/usr/bin/python3
"""Tests tools/convert_reference_ckpt.py and tools/export_to_pytorch.py without the C code.

Builds a replica of the reference YOPO Wide-ResNet (depth 10, width 2: the same module
tree, so the same state_dict names, aliases and dtypes), checks that its names follow the
documented WRN naming, saves a reference-style checkpoint, converts it, reads the result
with tools/safetensors_io.py (names, values, dtypes, shapes, metadata), exports it back
and loads that with load_state_dict(strict=True) into a fresh replica. Also checks the
refusals: aliases that differ, a checkpoint of another architecture, and norm "none"; and
the image size: --image_size, inferred from the replay buffer, else 32 said in the output.
Prints "N passed, N failed"; exits non-zero on failure. Run: /usr/bin/python3 tools/test_convert.py
"""
import io
import os
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import convert_reference_ckpt as conv  # noqa: E402
import export_to_pytorch as export  # noqa: E402
import safetensors_io  # noqa: E402


# ---- a replica of the reference model's module tree ---------------------------------
class WideBasic(nn.Module):
    def __init__(self, in_planes, planes, stride, norm):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes, momentum=0.9) if norm else nn.Identity()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, padding=1, bias=True)
        self.dropout = nn.Dropout(0.0)
        self.bn2 = nn.BatchNorm2d(planes, momentum=0.9) if norm else nn.Identity()
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=True)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride=stride, bias=True))


class WideResNetYopo(nn.Module):
    def __init__(self, depth, width, in_channels, norm):
        super().__init__()
        n = (depth - 4) // 6
        stages = [16, 16 * width, 32 * width, 64 * width]
        self.in_planes = 16
        self.conv1 = nn.Conv2d(in_channels, 16, 3, padding=1, bias=True)
        self.layer1 = self._layer(stages[1], n, 1, norm)
        self.layer2 = self._layer(stages[2], n, 2, norm)
        self.layer3 = self._layer(stages[3], n, 2, norm)
        self.bn1 = nn.BatchNorm2d(stages[3], momentum=0.9) if norm else nn.Identity()
        self.layer_one = self.conv1  # YOPO: the same modules registered twice
        self.other_layers = nn.ModuleList([self.layer1, self.layer2, self.layer3, self.bn1])
        self.last_dim = stages[3]

    def _layer(self, planes, n, stride, norm):
        blocks = []
        for s in [stride] + [1] * (n - 1):
            blocks.append(WideBasic(self.in_planes, planes, s, norm))
            self.in_planes = planes
        return nn.Sequential(*blocks)


class F(nn.Module):
    def __init__(self, depth=10, width=2, in_channels=3, n_classes=10, norm=True):
        super().__init__()
        self.f = WideResNetYopo(depth, width, in_channels, norm)
        self.energy_output = nn.Linear(self.f.last_dim, 1)
        self.class_output = nn.Linear(self.f.last_dim, n_classes)


def randomise(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if t.is_floating_point():
                t.copy_(torch.randn(t.shape, generator=g))
                if name.endswith("running_var"):
                    t.abs_().add_(0.1)
            else:
                t.fill_(17 + seed)


# ---- the checks ------------------------------------------------------------------------
class Ctx:
    def __init__(self):
        self.passed = self.failed = 0

    def check(self, ok, what):
        print(("  ok   " if ok else "  FAIL ") + what)
        if ok:
            self.passed += 1
        else:
            self.failed += 1


def expected_names(depth, width, norm):
    """The documented naming, written out independently of conv.wrn_layout."""
    bn = ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"] if norm else []
    names = ["f.conv1.weight", "f.conv1.bias"]
    n = (depth - 4) // 6
    for g in (1, 2, 3):
        for i in range(n):
            p = f"f.layer{g}.{i}."
            names += [p + "bn1." + x for x in bn] + [p + "conv1.weight", p + "conv1.bias"]
            names += [p + "bn2." + x for x in bn] + [p + "conv2.weight", p + "conv2.bias"]
            if i == 0 and (g > 1 or width != 1):
                names += [p + "shortcut.0.weight", p + "shortcut.0.bias"]
    names += ["f.bn1." + x for x in bn]
    names += ["class_output.weight", "class_output.bias", "energy_output.weight",
              "energy_output.bias"]
    return names


def quiet(*_a, **_k):
    pass


def test_round_trip(t, tmp, norm):
    tag = "batch" if norm else "none"
    model = F(norm=norm)
    randomise(model, 1)
    sd = model.state_dict()
    canon = [k for k in sd if conv.alias_of(k) is None]
    t.check(sorted(canon) == sorted(expected_names(10, 2, norm)),
            f"[{tag}] the replica's canonical names follow the documented WRN naming "
            f"({len(canon)} tensors, {len(sd) - len(canon)} aliases)")
    t.check(sorted(n for n, _, _ in conv.wrn_layout(10, 2, 3, 10, tag)) == sorted(canon),
            f"[{tag}] wrn_layout lists exactly those names")
    buf = torch.rand(7, 3, 32, 32) * 2 - 1
    pt = os.path.join(tmp, f"ref-{tag}.pt")
    torch.save({"model_state_dict": sd, "replay_buffer": buf}, pt)

    st = os.path.join(tmp, f"ck-{tag}.safetensors")
    if norm:
        rc = conv.main([pt, st])  # the command line
    else:
        conv.convert(pt, st, log=quiet)  # the function
        rc = 0
    t.check(rc == 0 and os.path.exists(st), f"[{tag}] convert exits 0")
    tensors, meta = safetensors_io.load(st)
    t.check(sorted(tensors) == sorted(canon + ["replay_buffer"]),
            f"[{tag}] converted file holds the canonical names and replay_buffer, no aliases")
    same = all(np.array_equal(tensors[k], sd[k].numpy()) and tensors[k].shape == tuple(sd[k].shape)
               for k in canon)
    t.check(same, f"[{tag}] every value and shape identical (num_batches_tracked stays shape [])")
    dt_ok = all(tensors[k].dtype == (np.int64 if k.endswith("num_batches_tracked") else np.float32)
                for k in tensors)
    t.check(dt_ok, f"[{tag}] dtypes: I64 for num_batches_tracked, F32 for the rest")
    t.check(np.array_equal(tensors["replay_buffer"], buf.numpy()),
            f"[{tag}] replay buffer [7,3,32,32] identical")
    want = {"format": "jempp-checkpoint", "source": "pytorch-reference", "depth": "10",
            "width": "2", "n_classes": "10", "in_channels": "3", "image_size": "32",
            "norm": tag, "uncond": "0"}
    t.check(meta == want, f"[{tag}] metadata {meta}")
    with open(st, "rb") as f:
        hlen = int.from_bytes(f.read(8), "little")
    t.check(hlen % 8 == 0 and not [p for p in os.listdir(tmp) if ".tmp." in p],
            f"[{tag}] header padded to 8, no temporary left")

    back = os.path.join(tmp, f"back-{tag}.pt")
    ordered = export.export(st, back, log=quiet)
    ck = torch.load(back)
    fresh = F(norm=norm)
    res = fresh.load_state_dict(ck["model_state_dict"], strict=True)
    t.check(not res.missing_keys and not res.unexpected_keys,
            f"[{tag}] exported file loads with load_state_dict(strict=True)")
    sd2 = fresh.state_dict()
    t.check(list(ck["model_state_dict"].keys()) == list(sd.keys()),
            f"[{tag}] exported keys are the reference's, aliases included, in its order")
    t.check(all(torch.equal(sd2[k], sd[k]) and sd2[k].dtype == sd[k].dtype for k in sd),
            f"[{tag}] every tensor equal after the round trip")
    t.check(ordered["f.layer_one.weight"] is ordered["f.conv1.weight"],
            f"[{tag}] aliases share their canonical tensor")
    t.check(torch.equal(ck["replay_buffer"], buf), f"[{tag}] replay buffer exported")

    back2 = os.path.join(tmp, f"back-noalias-{tag}.pt")
    export.export(st, back2, aliases=False, keep_buffer=False, log=quiet)
    ck2 = torch.load(back2)
    t.check(sorted(ck2["model_state_dict"]) == sorted(canon) and "replay_buffer" not in ck2,
            f"[{tag}] --no-aliases --no-buffer export holds the canonical names only")


def test_parts(t, tmp):
    """A checkpoint jempp saved in parts (--max_file_mb), written here by its documented
    layout: safetensors_io.load joins it, the split tensor's rows in order, and refuses a
    part of another save."""
    buf = np.arange(5 * 3, dtype=np.float32).reshape(5, 3)
    w = np.full((2, 2), 7.0, dtype=np.float32)
    pid = "00000000deadbeef"
    names = [f"last.{pid}.part-{k}-of-2.safetensors" for k in (1, 2)]
    safetensors_io.save(os.path.join(tmp, names[0]), {"w": w, "replay_buffer": buf[:2]},
                        {"jempp.parts_id": pid, "jempp.part": "1 of 2", "jempp.rows.replay_buffer": "0"})
    safetensors_io.save(os.path.join(tmp, names[1]), {"replay_buffer": buf[2:]},
                        {"jempp.parts_id": pid, "jempp.part": "2 of 2", "jempp.rows.replay_buffer": "2"})
    main = os.path.join(tmp, "last.safetensors")
    safetensors_io.save(main, {}, {"dataset": "fashionmnist", "jempp.parts": "2", "jempp.parts_id": pid,
                                   "jempp.part.1": names[0], "jempp.part.2": names[1]})
    tensors, meta = safetensors_io.load(main)
    t.check(np.array_equal(tensors["replay_buffer"], buf) and np.array_equal(tensors["w"], w)
            and meta == {"dataset": "fashionmnist"}, "a checkpoint in parts loads as one file")
    safetensors_io.save(os.path.join(tmp, names[1]), {"replay_buffer": buf[2:]},
                        {"jempp.parts_id": "1111111111111111", "jempp.part": "2 of 2", "jempp.rows.replay_buffer": "2"})
    try:
        safetensors_io.load(main)
        t.check(False, "a part of another save refused")
    except ValueError as e:
        t.check("another save" in str(e), f"a part of another save refused: {e}")


def test_refusals(t, tmp):
    model = F()
    randomise(model, 2)
    sd = dict(model.state_dict())
    sd["f.other_layers.1.0.conv1.bias"] = sd["f.layer2.0.conv1.bias"].clone() + 1
    pt = os.path.join(tmp, "bad-alias.pt")
    torch.save({"model_state_dict": sd}, pt)
    out = os.path.join(tmp, "bad.safetensors")
    try:
        conv.convert(pt, out, log=quiet)
        t.check(False, "differing alias refused")
    except conv.ConvertError as e:
        t.check("f.other_layers.1.0.conv1.bias" in str(e) and "f.layer2.0.conv1.bias" in str(e)
                and not os.path.exists(out), f"differing alias refused: {e}")

    sd = dict(F().state_dict())
    del sd["f.layer3.0.shortcut.0.weight"]  # its alias alone stands in for it
    pt2 = os.path.join(tmp, "alias-only.pt")
    torch.save({"model_state_dict": sd}, pt2)
    conv.convert(pt2, out, log=quiet)
    tensors, _ = safetensors_io.load(out)
    t.check(np.array_equal(tensors["f.layer3.0.shortcut.0.weight"],
                           sd["f.other_layers.2.0.shortcut.0.weight"].numpy()),
            "a tensor present only under its alias is kept under the canonical name")
    os.unlink(out)
    del sd["f.layer3.0.shortcut.0.bias"], sd["f.other_layers.2.0.shortcut.0.bias"]
    sd["f.extra.weight"] = torch.zeros(3)
    torch.save({"model_state_dict": sd}, pt)
    err = io.StringIO()
    old, sys.stderr = sys.stderr, err
    try:
        rc = conv.main([pt, out])
    finally:
        sys.stderr = old
    msg = err.getvalue()
    t.check(rc == 1 and "f.layer3.0.shortcut.0.bias" in msg and "f.extra.weight" in msg
            and not os.path.exists(out), f"missing/unexpected tensors refused: {msg.strip()}")

    sd = dict(F().state_dict())
    sd["class_output.bias"] = torch.zeros(11)
    torch.save({"model_state_dict": sd}, pt)
    try:
        conv.convert(pt, out, log=quiet)
        t.check(False, "wrong head shape refused")
    except conv.ConvertError as e:
        t.check("class_output.bias" in str(e) and "[11]" in str(e), f"wrong shape refused: {e}")

    # export refuses files that are not jempp checkpoints
    safetensors_io.save(out, {"x": np.zeros(2, np.float32)}, {"format": "other"})
    try:
        export.export(out, os.path.join(tmp, "x.pt"), log=quiet)
        t.check(False, "export refuses a non-checkpoint")
    except conv.ConvertError as e:
        t.check("jempp-checkpoint" in str(e), f"export refuses a non-checkpoint: {e}")


def test_image_size(t, tmp):
    """--image_size, the size inferred from the replay buffer, and the assumed 32 said."""
    model = F(in_channels=1)  # a Fashion-MNIST-like model: 1 channel, 28x28 images
    randomise(model, 3)
    sd = model.state_dict()
    pt = os.path.join(tmp, "gray.pt")
    out = os.path.join(tmp, "gray.safetensors")
    torch.save({"model_state_dict": sd}, pt)

    lines = []
    conv.convert(pt, out, log=lines.append)
    _, meta = safetensors_io.load(out)
    note = " ".join(lines)
    t.check(meta["image_size"] == "32" and "32 assumed" in note and "--image_size" in note,
            f"no buffer, no --image_size: 32 assumed and said, with the override: {lines[0]}")

    rc = conv.main([pt, out, "--image_size", "28"])
    _, meta = safetensors_io.load(out)
    t.check(rc == 0 and meta["image_size"] == "28" and meta["in_channels"] == "1",
            f"--image_size 28 (command line): image_size {meta['image_size']}, "
            f"in_channels {meta['in_channels']}")

    buf = torch.rand(5, 1, 28, 28) * 2 - 1
    torch.save({"model_state_dict": sd, "replay_buffer": buf}, pt)
    lines = []
    conv.convert(pt, out, log=lines.append)
    tensors, meta = safetensors_io.load(out)
    t.check(meta["image_size"] == "28" and tensors["replay_buffer"].shape == (5, 1, 28, 28)
            and not any("assumed" in x for x in lines),
            "image_size 28 inferred from the replay buffer [5,1,28,28], nothing assumed")
    conv.convert(pt, out, log=quiet, image_size=28)
    _, meta = safetensors_io.load(out)
    t.check(meta["image_size"] == "28", "--image_size equal to the buffer's is accepted")

    os.unlink(out)
    try:
        conv.convert(pt, out, log=quiet, image_size=32)
        t.check(False, "--image_size other than the kept buffer's refused")
    except conv.ConvertError as e:
        t.check("28x28" in str(e) and "--no-buffer" in str(e) and not os.path.exists(out),
                f"--image_size other than the kept buffer's refused: {e}")
    lines = []
    conv.convert(pt, out, keep_buffer=False, log=lines.append, image_size=32)
    tensors, meta = safetensors_io.load(out)
    t.check(meta["image_size"] == "32" and "replay_buffer" not in tensors
            and any("not the replay buffer's 28" in x for x in lines),
            "--image_size with --no-buffer overrides the buffer's size, with a note")

    err = io.StringIO()
    old, sys.stderr = sys.stderr, err
    try:
        rc = conv.main([pt, os.path.join(tmp, "bad-size.safetensors"), "--no-buffer",
                        "--image_size", "30"])
    finally:
        sys.stderr = old
    t.check(rc == 1 and "--image_size 30" in err.getvalue() and "multiple of 4" in err.getvalue(),
            f"--image_size 30 refused: {err.getvalue().strip()}")


def main():
    t = Ctx()
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        test_round_trip(t, tmp, norm=True)
        test_round_trip(t, tmp, norm=False)
        test_refusals(t, tmp)
        test_parts(t, tmp)
        test_image_size(t, tmp)
    print(f"test_convert: {t.passed} passed, {t.failed} failed")
    return 1 if t.failed else 0


if __name__ == "__main__":
    sys.exit(main())
