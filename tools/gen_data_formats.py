#!/usr/bin/python3
"""Writes the small reference files of the data-pipeline tests into tests/data/.

Run with Debian's /usr/bin/python3 (python3-numpy, python3-scipy):
    /usr/bin/python3 tools/gen_data_formats.py

1. SVHN-format MATLAB v5 files written by scipy.io.savemat (real MATLAB files, not
   our own writer), read back by tests/test_data_formats.c:
     svhn_small.mat        X uint8 (32, 32, 3, 5), y uint8 (5, 1), uncompressed
     svhn_small_z.mat      the same with do_compression=True (miCOMPRESSED + zlib)
     svhn_small_ydouble.mat  y stored as double (as a MATLAB user's conversion would)
     svhn_bad_xdouble.mat  X is double: must be refused (wrong type)
     svhn_bad_shape.mat    X is (32, 32, 1, 2): must be refused (wrong shape)
     svhn_bad_label.mat    y holds 11: must be refused (label out of range)
     svhn_bad_noy.mat      no y variable: must be refused
   Pixel X[r, c, ch, i] = (7 r + 13 c + 61 ch + 17 i) % 256, labels y = 10, 1, 2, 9, 5, so
   the test checks the column-major to NCHW transposition value by value.

2. data_gauss_ref.safetensors: a small labelled image set (uint8, 3x4x4, 3 classes of
   300/200/100 images with correlated pixels) and numpy's float64 per-class mean,
   covariance (X - mu)^T (X - mu) / n and Cholesky factor of cov + 1e-4 I, computed from
   the float32 images (u8 / 255 - 0.5) / 0.5 exactly as jempp converts them.
"""
import os
import sys

import numpy as np
import scipy.io

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import safetensors_io  # noqa: E402

OUT = os.path.join(HERE, "..", "tests", "data")


def svhn_pattern(n, ch=3):
    r, c, k, i = np.indices((32, 32, ch, n))
    return ((7 * r + 13 * c + 61 * k + 17 * i) % 256).astype(np.uint8)


def write_svhn():
    X = svhn_pattern(5)
    y = np.array([[10], [1], [2], [9], [5]], dtype=np.uint8)
    scipy.io.savemat(os.path.join(OUT, "svhn_small.mat"), {"X": X, "y": y})
    scipy.io.savemat(os.path.join(OUT, "svhn_small_z.mat"), {"X": X, "y": y}, do_compression=True)
    scipy.io.savemat(os.path.join(OUT, "svhn_small_ydouble.mat"),
                     {"X": X, "y": y.astype(np.float64)})
    scipy.io.savemat(os.path.join(OUT, "svhn_bad_xdouble.mat"),
                     {"X": svhn_pattern(1).astype(np.float64), "y": y[:1]})
    scipy.io.savemat(os.path.join(OUT, "svhn_bad_shape.mat"), {"X": svhn_pattern(2, 1), "y": y[:2]})
    scipy.io.savemat(os.path.join(OUT, "svhn_bad_label.mat"),
                     {"X": svhn_pattern(2), "y": np.array([[3], [11]], dtype=np.uint8)})
    scipy.io.savemat(os.path.join(OUT, "svhn_bad_noy.mat"), {"X": svhn_pattern(1)})
    # Read back with scipy as a sanity check of what was written.
    m = scipy.io.loadmat(os.path.join(OUT, "svhn_small_z.mat"))
    assert m["X"].shape == (32, 32, 3, 5) and m["X"].dtype == np.uint8
    assert (m["X"] == X).all() and (m["y"] == y).all()


def write_gauss_ref():
    rng = np.random.RandomState(7)
    counts = [300, 200, 100]
    D = 48
    pix, lab = [], []
    for k, n in enumerate(counts):
        base = rng.uniform(40, 215, size=D)
        mix = rng.normal(0, 1, size=(6, D)) * 18.0
        z = rng.normal(0, 1, size=(n, 6))
        img = base + z @ mix + rng.normal(0, 6.0, size=(n, D))
        pix.append(np.clip(np.rint(img), 0, 255).astype(np.uint8))
        lab.append(np.full(n, k, dtype=np.int64))
    pix = np.concatenate(pix)
    lab = np.concatenate(lab)
    order = rng.permutation(len(lab))  # interleave the classes
    pix, lab = pix[order], lab[order]
    x = ((pix.astype(np.float32) / np.float32(255) - np.float32(0.5)) / np.float32(0.5))
    x = x.astype(np.float64)
    K = len(counts)
    mean = np.zeros((K, D))
    cov = np.zeros((K, D, D))
    chol = np.zeros((K, D, D))
    prior = np.zeros(K)
    for k in range(K):
        xk = x[lab == k]
        mu = xk.mean(axis=0)
        sub = xk - mu
        mean[k] = mu
        cov[k] = sub.T @ sub / len(xk)
        chol[k] = np.linalg.cholesky(cov[k] + 1e-4 * np.eye(D))
        prior[k] = len(xk) / len(lab)
    safetensors_io.save(os.path.join(OUT, "data_gauss_ref.safetensors"), {
        "pixels": pix.reshape(-1, 3, 4, 4), "labels": lab, "mean": mean, "cov": cov,
        "chol": chol, "prior": prior,
    }, metadata={"generator": "tools/gen_data_formats.py", "numpy": np.__version__})


def main():
    os.makedirs(OUT, exist_ok=True)
    write_svhn()
    write_gauss_ref()
    print("wrote SVHN .mat files and data_gauss_ref.safetensors to", os.path.normpath(OUT))


if __name__ == "__main__":
    main()
