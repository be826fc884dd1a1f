#!/usr/bin/python3
"""Exports a jempp checkpoint to a torch.save file that the reference JEM++ code loads.

    /usr/bin/python3 tools/export_to_pytorch.py IN.safetensors OUT.pt [--no-aliases] [--no-buffer]

Writes torch.save({"model_state_dict": state_dict, "replay_buffer": tensor}) with the
reference's names in its order. The YOPO model of the reference registers some modules
twice, so the aliases f.layer_one.* (= f.conv1.*) and f.other_layers.{0,1,2,3}.*
(= f.layer{1,2,3}.*, f.bn1.*) are added back, sharing storage with their canonical tensors
as in PyTorch; --no-aliases leaves them out (for the plain, non-YOPO WRN of JEM).
num_batches_tracked becomes an int64 scalar, everything else float32. Tensors of the
checkpoint that are not model weights (e.g. optimizer state) are not exported. The
architecture is inferred and checked as in convert_reference_ckpt.py.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import convert_reference_ckpt as conv  # noqa: E402
import safetensors_io  # noqa: E402

MODEL_PREFIXES = ("f.",) + conv.HEADS


def export(in_path, out_path, aliases=True, keep_buffer=True, log=print):
    """Exports; returns the state_dict written. Raises conv.ConvertError on bad input."""
    import torch
    tensors, meta = safetensors_io.load(in_path)
    fmt = meta.get("format")
    if fmt != "jempp-checkpoint":
        raise conv.ConvertError(f"{in_path}: metadata format is {fmt!r}, expected "
                                "'jempp-checkpoint'")
    model = {k: v for k, v in tensors.items() if k.startswith(MODEL_PREFIXES)}
    skipped = [k for k in tensors if k not in model and k != "replay_buffer"]
    if skipped:
        log(f"note: not exported ({len(skipped)} tensors that are not model weights): "
            + ", ".join(skipped[:6]) + (" ..." if len(skipped) > 6 else ""))
    arch = conv.infer_arch({k: tuple(v.shape) for k, v in model.items()})
    for key, val in zip(("depth", "width", "n_classes", "in_channels", "norm"),
                        (arch[0], arch[1], arch[3], arch[2], arch[4])):
        if key in meta and meta[key] != str(val):
            raise conv.ConvertError(f"{in_path}: metadata says {key}={meta[key]} but the "
                                    f"tensors are those of {key}={val}")
    layout = conv.check_layout(model, arch, in_path)

    sd = {}
    for name, shape, dt in layout:
        a = model[name]
        if dt == "I64":
            t = torch.tensor(int(a.reshape(-1)[0]), dtype=torch.int64)
        else:
            t = torch.from_numpy(a.astype("float32", copy=True))
        sd[name] = t
    ordered = {}
    for name in sd:  # the reference's order: f.*, then the aliases, then the heads
        if name.startswith(conv.HEADS):
            continue
        ordered[name] = sd[name]
    if aliases:
        for alias_prefix, canon_prefix in conv.ALIASES:
            for name in sd:
                if name.startswith(canon_prefix):
                    ordered[alias_prefix + name[len(canon_prefix):]] = sd[name]
    for name in sd:
        if name.startswith(conv.HEADS):
            ordered[name] = sd[name]
    out = {"model_state_dict": ordered}
    if keep_buffer and "replay_buffer" in tensors:
        out["replay_buffer"] = torch.from_numpy(tensors["replay_buffer"].astype("float32"))
    tmp = f"{out_path}.tmp.{os.getpid()}"
    try:
        torch.save(out, tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, out_path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    log(f"wrote {out_path}: WRN-{arch[0]}-{arch[1]}, {len(ordered)} state_dict entries"
        + (" (with YOPO aliases)" if aliases else "")
        + (", replay buffer" if "replay_buffer" in out else ""))
    return ordered


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("input", help="jempp checkpoint (.safetensors)")
    ap.add_argument("output", help="torch.save file to write (.pt)")
    ap.add_argument("--no-aliases", action="store_true",
                    help="omit f.layer_one.* and f.other_layers.* (plain WRN, not YOPO)")
    ap.add_argument("--no-buffer", action="store_true", help="leave the replay buffer out")
    a = ap.parse_args(argv)
    try:
        export(a.input, a.output, aliases=not a.no_aliases, keep_buffer=not a.no_buffer)
    except (conv.ConvertError, OSError, KeyError, ValueError) as e:
        print(f"export_to_pytorch: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
