"""Minimal safetensors reader/writer for jempp's tools (no extra packages needed).

Format: 8-byte little-endian header length N, N bytes of JSON
{"name": {"dtype": "F32", "shape": [...], "data_offsets": [b, e]}, "__metadata__": {...}},
then the raw little-endian data. Used by the reference generators and converters.
"""
import json
import os
import struct

import numpy as np

_DT = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32,
       "U8": np.uint8, "U64": np.uint64, "BOOL": np.bool_}
_NAME = {np.dtype(v): k for k, v in _DT.items()}


def save(path, tensors, metadata=None):
    """tensors: dict name -> numpy array (or torch tensor); written in insertion order."""
    header, blobs, off = {}, [], 0
    for name, arr in tensors.items():
        if hasattr(arr, "detach"):
            arr = arr.detach().cpu().numpy()
        shape = list(np.shape(arr))  # keeps 0-d tensors (num_batches_tracked) at shape []
        arr = np.ascontiguousarray(arr)
        dt = _NAME[arr.dtype]
        raw = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    hj = json.dumps(header, separators=(",", ":")).encode()
    hj += b" " * ((8 - len(hj) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)


def _load_one(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    out = {}
    for name, e in header.items():
        b, en = e["data_offsets"]
        out[name] = np.frombuffer(data[b:en], dtype=np.dtype(_DT[e["dtype"]]).newbyteorder("<")).reshape(e["shape"]).copy()
    return out, meta


def load(path):
    """Returns (dict name -> numpy array, metadata dict). A file jempp saved in parts
    (--max_file_mb: metadata "jempp.parts" = N, "jempp.part.K" = the part files beside it,
    pieces of a split tensor with "jempp.rows.NAME" = their first row) is read with its
    parts, as one file."""
    out, meta = _load_one(path)
    if "jempp.parts" not in meta:
        return out, meta
    folder = os.path.dirname(path)
    pieces = {}
    for k in range(1, int(meta["jempp.parts"]) + 1):
        part, pmeta = _load_one(os.path.join(folder, meta[f"jempp.part.{k}"]))
        if pmeta.get("jempp.parts_id") != meta["jempp.parts_id"] or pmeta.get("jempp.part") != f"{k} of {meta['jempp.parts']}":
            raise ValueError(f"{path}: part {k} ({meta[f'jempp.part.{k}']}) belongs to another save")
        for name, arr in part.items():
            pieces.setdefault(name, []).append((int(pmeta.get("jempp.rows." + name, 0)), arr))
    for name, ps in pieces.items():
        ps.sort(key=lambda p: p[0])
        out[name] = ps[0][1] if len(ps) == 1 else np.concatenate([a for _, a in ps], axis=0)
    return out, {k: v for k, v in meta.items() if not k.startswith("jempp.part")}
