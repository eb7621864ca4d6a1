// The bench's reference side (bench/torch_reference.py, plain PyTorch written from the reference's
// description) computes the real reference's math: loaded with the golden fixtures' weights (saved by
// running VITA-Group/AutoSpeech itself), one training step's forward, loss, gradients and BN
// buffers, and the eval embedding, equal the fixtures within their stated float32 tolerances. So a
// bench ratio against the port is a ratio against the reference's computation.
import test from 'ava';
import { spawnSync } from 'node:child_process';

import { FIXTURES, manifest } from './helpers/fixtures.ts';

function python(script: string, ...args: string[]) {
  const r = spawnSync('/usr/bin/python3', ['-c', script, ...args], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' } });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

const COMMON = `
import sys, os, json, collections, numpy as np, torch
sys.path.insert(0, 'bench')
import torch_reference as R
torch.set_num_threads(1)
F = sys.argv[1]
def load_sd(model, d):
    keys = [e['key'] for e in json.load(open(os.path.join(d, '..', 'state_dict_keys.json')))]
    sd = collections.OrderedDict()
    for k in keys:
        a = np.load(os.path.join(d, k + '.npy'))
        sd[k] = torch.from_numpy(a.reshape(()) if k.endswith('num_batches_tracked') else a)
    model.load_state_dict(sd, strict=True)
    return keys
def rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    # an all-zero reference (an op hard mixing did not select): compare absolutely
    return float(np.abs(a - b).max() / (np.abs(b).max() or 1.0))
`;

test('bench port: derived network, one training step and the eval embedding equal the reference fixtures', (t) => {
  const r = python(`${COMMON}
Genotype = collections.namedtuple('Genotype', 'normal normal_concat reduce reduce_concat')
m = json.load(open(F + '/manifest.json'))['scalars']
g = eval(m['genotype']['value'])
net = R.Network(m['C']['value'], m['num_classes']['value'], m['layers']['value'], dict(normal=g.normal, normal_concat=list(g.normal_concat), reduce=g.reduce, reduce_concat=list(g.reduce_concat)))
load_sd(net, F + '/state_dict')
x = torch.from_numpy(np.load(F + '/input.npy')); y = torch.from_numpy(np.load(F + '/labels.npy')).long()
net.eval()
with torch.no_grad():
    emb = net(x)
net.train()
logits = net(x)
loss = R.smoothed_ce(logits, y)
loss.backward()
grads = {n: rel(p.grad, np.load(F + '/grads/' + n + '.npy')) for n, p in net.named_parameters()}
bufs = {n: rel(b, np.load(F + '/after_train_forward/' + n + '.npy').reshape(b.shape)) for n, b in net.named_buffers() if not n.endswith('num_batches_tracked')}
print(json.dumps(dict(embedding=rel(emb, np.load(F + '/eval_embedding.npy')), logits=rel(logits.detach(), np.load(F + '/train_logits.npy')),
  loss=abs(loss.item() - m['train_loss']['value']) / m['train_loss']['value'], grads=len(grads), grad_max=max(grads.values()), bufs=len(bufs), buf_max=max(bufs.values()))))
`, `${FIXTURES}/derived`);
  t.true(r.embedding <= 1e-5, `embedding ${r.embedding}`);
  t.true(r.logits <= 1e-5, `train logits ${r.logits}`);
  t.true(r.loss <= 1e-6, `loss ${r.loss}`);
  t.is(r.grads, 204, 'a gradient for every parameter the fixture has');
  t.true(r.grad_max <= 1e-4, `gradients ${r.grad_max}`);
  t.true(r.bufs > 100);
  t.true(r.buf_max <= 1e-5, `BN running stats ${r.buf_max}`);
});

// In float64 (the port's own float32 rounding is the fixture's float32_vs_float64: up to 1.5e-2 on
// some gradients), so agreement within the fixture's tolerances shows the math, not luck.
test('bench port: search supernet (float64), softmax mixing and the straight-through hard Gumbel with the recorded noise, equal the reference fixtures', (t) => {
  const r = python(`${COMMON}
m = json.load(open(F + '/manifest.json'))['scalars']
x = torch.from_numpy(np.load(F + '/input.npy')); y = torch.from_numpy(np.load(F + '/labels.npy')).long()
out = {}
for case in ['a_softmax', 'b_gumbel_hard']:
    net = R.SearchNetwork(m['C']['value'], m['num_classes']['value'], m['layers']['value'])
    load_sd(net, F + '/state_dict')
    net = net.double()  # float64: the alpha gradients are sums of cancelling terms, float32 rounding alone moves them by ~6e-3
    calls = [0]
    def mix(logits, case=case):
        i = calls[0]; calls[0] += 1
        if case == 'a_softmax':
            return logits.softmax(-1)
        y = (logits + torch.from_numpy(np.load(F + '/b_gumbel_hard/gumbel_noise_%d.npy' % i)).double()).softmax(-1)
        hard = torch.zeros_like(logits).scatter_(-1, y.max(-1, keepdim=True)[1], 1.0)
        return hard - y.detach() + y
    R.gumbel_hard = mix
    net.train()
    logits = net(x.double())
    loss = R.smoothed_ce(logits, y)
    loss.backward()
    d = F + '/' + case
    grads = [rel(p.grad, np.load(d + '/grads/' + n + '.npy')) for n, p in net.named_parameters() if os.path.exists(d + '/grads/' + n + '.npy')]
    out[case] = dict(logits=rel(logits.detach(), np.load(d + '/logits.npy')), loss=abs(loss.item() - m[case + '_loss']['value']) / m[case + '_loss']['value'],
        alphas=max(rel(net.alphas_normal.grad, np.load(d + '/grad_alphas_normal.npy')), rel(net.alphas_reduce.grad, np.load(d + '/grad_alphas_reduce.npy'))),
        grads=len(grads), grad_max=max(grads), calls=calls[0])
print(json.dumps(out))
`, `${FIXTURES}/search`);
  // Case a's fixture values are float32 and the manifest states how far float32 was from float64
  // there (float32_vs_float64_case_a): the port in float64 may differ from them by that plus the tolerance.
  const f32 = manifest('search').scalars.float32_vs_float64_case_a.value as Record<string, number>;
  for (const c of ['a_softmax', 'b_gumbel_hard']) {
    const v = r[c];
    const own = (k: string) => (c === 'a_softmax' ? f32[k] : 0);
    t.is(v.calls, 5, `${c}: one mixing call per cell`);
    t.true(v.logits <= 1e-5, `${c} logits ${v.logits}`);
    t.true(v.loss <= 1e-6, `${c} loss ${v.loss}`);
    t.true(v.alphas <= 1e-4 + Math.max(own('grad_alphas_normal'), own('grad_alphas_reduce')), `${c} alpha gradients ${v.alphas}`);
    t.is(v.grads, 6, `${c}: the fixture's weight gradients`);
    t.true(v.grad_max <= 1e-4 + own('grads_max_over_tensors'), `${c} weight gradients ${v.grad_max}`);
  }
});
