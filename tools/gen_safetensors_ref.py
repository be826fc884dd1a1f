#!/usr/bin/python3
"""Writes tests/data/st_python.safetensors with tools/safetensors_io.py, so that
tests/test_safetensors.c can check that jempp reads files written by Python exactly.

Every value follows from a formula that the C test repeats; change both together.
Run from the repository root:  /usr/bin/python3 tools/gen_safetensors_ref.py
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data",
                   "st_python.safetensors")


def main():
    t = {}
    # F32 [2,3,3,3]: (i - 27) / 8, exact in binary
    t["f.conv1.weight"] = ((np.arange(54) - 27) / 8.0).astype(np.float32).reshape(2, 3, 3, 3)
    # F32 specials: 0.1, -0.0, a denormal, the largest float, 1/3, inf, -inf, nan
    t["floats"] = np.array([0.1, -0.0, 1e-40, 3.4028234663852886e38, 1.0 / 3.0,
                            np.inf, -np.inf, np.nan], dtype=np.float32)
    t["doubles"] = np.array([np.pi, np.e, -1e300, 5e-324], dtype=np.float64)
    t["f.layer1.0.bn1.num_batches_tracked"] = np.array(7, dtype=np.int64)  # 0-d: shape []
    t["int64s"] = np.array([[-(2 ** 63), 2 ** 63 - 1], [-1, 123456789012345]], dtype=np.int64)
    t["int32s"] = np.array([-(2 ** 31), 2 ** 31 - 1, 0, -5], dtype=np.int32)
    t["bytes"] = np.arange(256, dtype=np.uint8)[::51].copy()  # 0, 51, 102, 153, 204, 255
    t["uint64s"] = np.array([0, 2 ** 64 - 1, 2 ** 40], dtype=np.uint64)
    t["bools"] = np.array([True, False, True], dtype=np.bool_)
    t["empty"] = np.zeros((0, 4), dtype=np.float32)
    meta = {
        "format": "jempp-test",
        "depth": "10",
        "text": "h\u00e9llo \"quoted\" back\\slash tab\t newline\n \U0001F642",
    }
    safetensors_io.save(OUT, t, meta)
    back, _ = safetensors_io.load(OUT)
    assert back["f.layer1.0.bn1.num_batches_tracked"].shape == (), "0-d arrays must keep shape []"
    print("wrote", os.path.normpath(OUT), os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
