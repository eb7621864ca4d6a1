// `autospeech export` writes a .pth that PyTorch loads with load_state_dict(strict=True) into an
// independently written PyTorch model of the same architecture, which then reproduces the fixture.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { NpyData, NpyDType } from '../lib/io/npy.ts';
import { readWeightsDir } from '../lib/models/weights.ts';
import { saveCheckpoint } from '../lib/run/checkpoint.ts';
import { cli } from './helpers/cli.ts';
import { FIXTURES, manifest } from './helpers/fixtures.ts';

test('exported weights load strictly in PyTorch and reproduce the reference embedding', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'export-'));
  const tensors = new Map<string, { data: NpyData; shape: number[]; dtype: NpyDType }>();
  for (const [name, a] of readWeightsDir(`${FIXTURES}/derived/state_dict`)) tensors.set(`model/${name}`, { data: a.data, shape: name.endsWith('num_batches_tracked') ? [] : a.shape, dtype: a.dtype });
  saveCheckpoint(join(dir, 'fixture.ckpt'), { meta: {}, tensors });
  const r = cli(['export', '--load_path', join(dir, 'fixture.ckpt'), '--out', join(dir, 'model.pth')]);
  t.is(r.status, 0, r.stderr);
  const S = manifest('derived').scalars;
  const py = `
import sys, collections, numpy as np, torch
sys.path.insert(0, 'bench')
import torch_reference as R
Genotype = collections.namedtuple('Genotype', 'normal normal_concat reduce reduce_concat')
g = eval(sys.argv[2])
m = R.Network(${S.C.value}, ${S.num_classes.value}, ${S.layers.value}, dict(normal=g.normal, normal_concat=list(g.normal_concat), reduce=g.reduce, reduce_concat=list(g.reduce_concat)))
sd = torch.load(sys.argv[1])
m.load_state_dict(sd, strict=True)
m.eval()
with torch.no_grad():
    e = m(torch.from_numpy(np.load(sys.argv[3])))
ref = np.load(sys.argv[4])
print(float(np.abs(e.numpy() - ref).max() / np.abs(ref).max()))
`;
  const out = spawnSync('/usr/bin/python3', ['-c', py, join(dir, 'model.pth'), S.genotype.value, `${FIXTURES}/derived/input.npy`, `${FIXTURES}/derived/eval_embedding.npy`], { encoding: 'utf8' });
  t.is(out.status, 0, out.stderr);
  t.true(Number(out.stdout.trim()) <= 1e-5, out.stdout);
});
