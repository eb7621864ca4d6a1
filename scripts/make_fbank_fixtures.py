#!/usr/bin/python3
"""Writes test/fixtures/fbank/<name>.fbank.npy: torchaudio.compliance.kaldi.fbank (Debian's
python3-torchaudio 0.13.1) of the tracked stft fixture WAVs, 80 mel bins, no dither, samples in
the int16 range. The test compares the native fbank front-end against these files."""
import pathlib
import sys

import numpy as np
import torch
import torchaudio
from torchaudio.compliance import kaldi

root = pathlib.Path(__file__).resolve().parent.parent
src = root / 'test/fixtures/reference/stft'
dst = root / 'test/fixtures/fbank'
dst.mkdir(parents=True, exist_ok=True)
for wav in sorted(src.glob('*.wav')):
    x, sr = torchaudio.load(str(wav))  # float32 in [-1, 1)
    assert sr == 16000 and x.shape[0] == 1, (wav, sr, x.shape)
    feats = kaldi.fbank(x * 32768, num_mel_bins=80, frame_length=25, frame_shift=10, dither=0.0,
                        sample_frequency=16000, window_type='povey', use_energy=False)
    np.save(dst / (wav.stem + '.fbank.npy'), feats.numpy().astype(np.float32))
    print(wav.stem, tuple(feats.shape), file=sys.stderr)
