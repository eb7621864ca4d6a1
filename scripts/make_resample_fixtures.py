#!/usr/bin/python3
"""Writes test/fixtures/resample/<rate>.{in,out}.npy: float32 test signals at 44.1k, 22.05k and
8 kHz and what librosa.load(sr=16000) makes of them: resampy.resample(x, rate, 16000,
filter='kaiser_best') (Debian's python3-resampy 0.4.2), zero-padded to ceil(n * 16000 / rate)
as librosa's fix_length. The test compares the native --resample path against these files."""
import math
import pathlib

import numpy as np
import resampy

root = pathlib.Path(__file__).resolve().parent.parent
dst = root / 'test/fixtures/resample'
dst.mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng(7)
for rate in (44100, 22050, 8000):
    n = int(0.45 * rate) + 3
    t = np.arange(n) / rate
    x = (0.4 * np.sin(2 * np.pi * (200 + 3000 * t) * t) + 0.05 * rng.standard_normal(n)).astype(np.float32)
    y = resampy.resample(x, rate, 16000, filter='kaiser_best')
    want = int(math.ceil(n * 16000 / rate))
    y = np.pad(y, (0, max(0, want - len(y))))[:want].astype(np.float32)
    np.save(dst / f'{rate}.in.npy', x)
    np.save(dst / f'{rate}.out.npy', y)
    print(rate, n, len(y))
