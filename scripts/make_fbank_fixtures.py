#!/usr/bin/python3
"""Writes test/fixtures/fbank/<name>.fbank.npy: torchaudio.compliance.kaldi.fbank (Debian's
python3-torchaudio 0.13.1) of the stft fixture waveforms (`<name>.waveform_loaded.npy`, exactly
what torchaudio.load returns for those int16 wavs), 80 mel bins, no dither, samples in the int16
range. The test compares the native fbank front-end against these files."""
import pathlib
import sys

import numpy as np
import torch
from torchaudio.compliance import kaldi

root = pathlib.Path(__file__).resolve().parent.parent
src = root / 'test/fixtures/reference/stft'
dst = root / 'test/fixtures/fbank'
dst.mkdir(parents=True, exist_ok=True)
for loaded in sorted(src.glob('*.waveform_loaded.npy')):
    x = torch.from_numpy(np.load(loaded)).unsqueeze(0)  # float32 int16/32768, 16 kHz mono
    feats = kaldi.fbank(x * 32768, num_mel_bins=80, frame_length=25, frame_shift=10, dither=0.0,
                        sample_frequency=16000, window_type='povey', use_energy=False)
    name = loaded.name[:-len('.waveform_loaded.npy')]
    np.save(dst / (name + '.fbank.npy'), feats.numpy().astype(np.float32))
    print(name, tuple(feats.shape), file=sys.stderr)
