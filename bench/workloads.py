"""Workload definitions shared with the Node side (workloads.json) and deterministic inputs that
both sides generate identically (a simple integer hash, so no RNG streams need to agree)."""
import json
import os

import numpy as np
import torch

CONFIGS = json.load(open(os.path.join(os.path.dirname(__file__), 'workloads.json')))


def _hash_floats(n, seed):
    i = np.arange(n, dtype=np.uint64)
    x = (i * np.uint64(2654435761) + np.uint64(seed * 40503)) % np.uint64(2 ** 32)
    x ^= x >> np.uint64(13)
    x = (x * np.uint64(1274126177)) % np.uint64(2 ** 32)
    return ((x % np.uint64(20000)).astype(np.float32) / np.float32(10000.0) - np.float32(1.0))


def batch(b, frames, classes, seed):
    x = torch.from_numpy(_hash_floats(b * frames * 257, seed).reshape(b, frames, 257))
    y = torch.arange(b, dtype=torch.long) * 7 % classes
    return x, y


def utterances(cfg):
    w, f = cfg['windows'], cfg['frames']
    return [torch.from_numpy(_hash_floats(w * f * 257, 100 + u).reshape(w, f, 257)) for u in range(cfg['utterances'])]


def trials(cfg):
    n = cfg['utterances']
    return [((7 * t) % n, (7 * t + 1 + t % (n - 1)) % n) for t in range(cfg['trials'])]
