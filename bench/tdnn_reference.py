"""The EfficientTDNN supernet math (sugar's DynamicTDNN on a fixed subnet) in plain PyTorch, written
for this repo from ../shared/reference/efficienttdnn.md (§2 forward, §5 weight sharing, §6 BN, §9
AAM); no reference code. It is the reference side of the bench's tdnn workloads: the supernet's
full tensors under the reference's state_dict keys, and one functional forward that slices them
as the reference does (first-k, per-group Res2 mid indices, cat/bnpool index layouts, kernel
transforms W[:, :, 1:-1] @ k, train-mode BN write-back through views only).
"""
import math

import numpy as np
import torch
import torch.nn.functional as F

EPS, MOMENTUM = 1e-5, 0.1


def fnv1a(text):
    """32-bit FNV-1a of a key, so both sides seed a tensor's values from its name (bench/inputs.ts)."""
    h = 2166136261
    for b in text.encode():
        h = ((h ^ b) * 16777619) % 2 ** 32
    return h


def supernet_shapes(in_feats, embed, blocks, c, k, cat):
    """Every tensor of tdnn8m2g-like DynamicTDNN (§2.3 order) as {key: shape}."""
    s = {}

    def dconv(p, cin, cout, kk):
        if kk > 3:
            s[p + '.k53'] = (3, 3)
        if kk > 1:
            s[p + '.k31'] = (1, 1)
        s[p + '.conv.weight'] = (cout, cin, kk)

    def bn(p, n):
        for t in ('weight', 'bias', 'running_mean', 'running_var'):
            s[f'{p}.{t}'] = (n,)
        s[p + '.num_batches_tracked'] = ()

    def lin(p, cin, cout):
        s[p + '.linear.weight'] = (cout, cin)
        s[p + '.linear.bias'] = (cout,)

    dconv('layer1.conv', in_feats, c, k)
    bn('layer1.bn.bn', c)
    w = c // 8
    for i in range(blocks):
        b = f'blocks.{i}'
        dconv(b + '.first_conv.conv', c, c, 1)
        bn(b + '.first_conv.bn.bn', c)
        for j in range(7):
            dconv(f'{b}.resconv.convs.{j}.conv', w, w, k)
            bn(f'{b}.resconv.convs.{j}.bn.bn', w)
        dconv(b + '.last_conv.conv', c, c, 1)
        bn(b + '.last_conv.bn.bn', c)
        lin(b + '.se.reduce', c, c // 4)
        lin(b + '.se.expand', c // 4, c)
    dconv('catconv', c * blocks, cat, 1)
    dconv('pooling.linear1', cat, 128, 1)
    dconv('pooling.linear2', 128, cat, 1)
    bn('bnpool.bn', 2 * cat)
    lin('linear', 2 * cat, embed)
    bn('bnembed', embed)
    return s


def bench_value(key, shape, hash_floats):
    """The bench's deterministic supernet tensor for `key` (same rule as bench/node_worker.ts):
    non-identity kernel transforms and BN statistics, so every sliced path is exercised."""
    n = int(np.prod(shape)) if shape else 1
    h = hash_floats(n, fnv1a(key) % 1000003).reshape(shape)
    leaf = key.rsplit('.', 1)[-1]
    is_bn = '.bn.' in key or key.startswith('bnpool.') or key.startswith('bnembed.')
    if leaf == 'num_batches_tracked':
        return np.zeros(shape, np.int64)
    if leaf in ('k53', 'k31', 'k75'):
        return (np.eye(shape[0], dtype=np.float32) + np.float32(0.05) * h).astype(np.float32)
    if leaf == 'running_mean':
        return np.float32(0.1) * h
    if leaf == 'running_var':
        return np.float32(1) + np.float32(0.25) * (h + np.float32(1))
    if is_bn and leaf == 'weight':
        return np.float32(1) + np.float32(0.1) * h
    if leaf == 'bias':
        return np.float32(0.1) * h
    fan_in = int(np.prod(shape[1:]))
    return h * np.float32(1 / math.sqrt(fan_in))


class DynamicTDNN:
    """The supernet's tensors (params require grad) and a subnet forward (depth, channels, kernels, cat)."""

    def __init__(self, tensors, dims):
        self.t = tensors
        self.dims = dims  # dict: in_feats, embed, blocks, channels, kernel, cat
        self.training = False

    def params(self):
        return [v for v in self.t.values() if v.requires_grad]

    # --- leaf layers ---
    def conv(self, p, x, in_sel, out_sel, k, dilation=1):
        """DynamicConv1d: channel slices first, then 5->3 (k53) and 3->1 (k31) on the shared kernel."""
        W = self.t[p + '.conv.weight']
        full = W.shape[2]
        w = W
        if not (_full(in_sel, W.shape[1]) and _full(out_sel, W.shape[0]) and k == full):
            w = _sel(_sel(W, in_sel, 1), out_sel, 0)
            if full > 3 and k < 5:
                w = torch.matmul(w[:, :, 1:-1], self.t[p + '.k53'])
            if full > 1 and k < 3:
                w = torch.matmul(w[:, :, 1:-1], self.t[p + '.k31'])
        return F.conv1d(x, w, None, 1, (k - 1) // 2 * dilation, dilation)

    def bn(self, p, x, sel):
        """DynamicBatchNorm1d: first-k slices are views (a train update writes back), index lists copies."""
        n = self.t[p + '.weight'].shape[0]
        if self.training:
            with torch.no_grad():
                self.t[p + '.num_batches_tracked'].add_(1)
        if _full(sel, n):
            return F.batch_norm(x, self.t[p + '.running_mean'], self.t[p + '.running_var'], self.t[p + '.weight'],
                                self.t[p + '.bias'], self.training, MOMENTUM, EPS)
        return F.batch_norm(x, _sel(self.t[p + '.running_mean'], sel, 0), _sel(self.t[p + '.running_var'], sel, 0),
                            _sel(self.t[p + '.weight'], sel, 0), _sel(self.t[p + '.bias'], sel, 0), self.training, MOMENTUM, EPS)

    def linear(self, p, x, in_sel, out_sel):
        W, b = self.t[p + '.linear.weight'], self.t[p + '.linear.bias']
        if not (_full(in_sel, W.shape[1]) and _full(out_sel, W.shape[0])):
            W, b = _sel(_sel(W, in_sel, 1), out_sel, 0), _sel(b, out_sel, 0)
        return F.linear(x, W, b)

    def conv_relu_bn(self, p, x, in_sel, out_sel, k, dilation=1):
        return self.bn(p + '.bn.bn', F.relu(self.conv(p + '.conv', x, in_sel, out_sel, k, dilation)), out_sel)

    # --- blocks ---
    def block(self, i, x, c0, mid, k):
        b = f'blocks.{i}'
        full_mid = self.dims['channels']
        mid_idx = torch.arange(full_mid).view(8, -1)[:, :mid // 8].flatten()
        h = self.conv_relu_bn(b + '.first_conv', x, c0, mid_idx, 1)
        w = mid // 8
        xs = torch.split(h, w, 1)
        ys, sp = [], None
        for j in range(7):
            inp = xs[0] if j == 0 else xs[j] + sp
            sp = self.conv_relu_bn(f'{b}.resconv.convs.{j}', inp, w, w, k, i + 2)
            ys.append(sp)
        ys.append(xs[7])  # the pass-through chunk is the last one
        h = self.conv_relu_bn(b + '.last_conv', torch.cat(ys, 1), mid_idx, c0, 1)
        s = self.linear(b + '.se.reduce', h.mean(2), c0, c0 // 4)
        s = torch.sigmoid(self.linear(b + '.se.expand', F.relu(s), c0 // 4, c0))
        return h * s.unsqueeze(2)

    def embed(self, x, subnet):
        depth, ch, ks, cat = subnet
        d = self.dims
        c0 = ch[0]
        out = self.conv_relu_bn('layer1', x, d['in_feats'], c0, ks[0])
        s, hs = out, []
        for i in range(depth):
            out = self.block(i, out, c0, ch[i + 1], ks[i + 1]) + s
            hs.append(out)
            s = s + out
        cat_idx = torch.arange(d['blocks'] * d['channels']).view(d['blocks'], -1)[:depth, :c0].flatten()
        z = F.relu(self.conv('catconv', torch.cat(hs, 1), cat_idx, cat, 1))
        a = self.conv('pooling.linear1', z, cat, 128, 1)
        alpha = torch.softmax(self.conv('pooling.linear2', torch.tanh(a), 128, cat, 1), 2)
        mu = torch.sum(alpha * z, 2)
        sigma = torch.sqrt(torch.clamp(torch.sum(alpha * z ** 2, 2) - mu ** 2, min=1e-9))
        pool_idx = torch.arange(2 * d['cat']).view(2, -1)[:, :cat].flatten()
        p = self.bn('bnpool.bn', torch.cat([mu, sigma], 1), pool_idx)
        e = self.linear('linear', p, pool_idx, d['embed'])
        return self.bn('bnembed', e, d['embed'])


def aam_softmax_loss(x, W, y, margin, scale):
    """AAM-softmax (not easy_margin) + mean cross-entropy (§9)."""
    cos = F.normalize(x, dim=1) @ F.normalize(W, dim=0)
    sin = torch.sqrt(torch.clamp(1 - cos * cos, 0, 1))
    phi = cos * math.cos(margin) - sin * math.sin(margin)
    phi = torch.where(cos - math.cos(math.pi - margin) > 0, phi, cos - math.sin(math.pi - margin) * margin)
    one = torch.zeros_like(cos).scatter_(1, y.unsqueeze(1), 1)
    logits = scale * (one * phi + (1 - one) * cos)
    return F.cross_entropy(logits, y), logits


def _full(sel, n):
    return isinstance(sel, int) and sel == n or (torch.is_tensor(sel) and sel.numel() == n)


def _sel(t, sel, dim):
    return t.narrow(dim, 0, sel) if isinstance(sel, int) else t.index_select(dim, sel)
