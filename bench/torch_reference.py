"""The AutoSpeech math in plain PyTorch, written for this repo from the reference description
(../README.md "Parity"; the facts are those of VITA-Group/AutoSpeech, but no code is taken from it).
It is the "reference side" of `npm run bench`: the same networks, steps and evaluation, run by
Python on the same libtorch build, so that the ratio measures the implementations, not the math.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

PRIMITIVES = ['none', 'max_pool_3x3', 'avg_pool_3x3', 'skip_connect',
              'sep_conv_3x3', 'sep_conv_5x5', 'dil_conv_3x3', 'dil_conv_5x5']

README_GENOTYPE = dict(
    normal=[('dil_conv_5x5', 1), ('dil_conv_3x3', 0), ('dil_conv_5x5', 0), ('sep_conv_3x3', 1),
            ('sep_conv_3x3', 1), ('sep_conv_3x3', 2), ('dil_conv_3x3', 2), ('max_pool_3x3', 1)],
    normal_concat=[2, 3, 4, 5],
    reduce=[('max_pool_3x3', 1), ('max_pool_3x3', 0), ('dil_conv_5x5', 2), ('max_pool_3x3', 1),
            ('dil_conv_5x5', 3), ('dil_conv_3x3', 2), ('dil_conv_5x5', 4), ('dil_conv_5x5', 2)],
    reduce_concat=[2, 3, 4, 5])


class Zero(nn.Module):
    def __init__(self, stride):
        super().__init__()
        self.stride = stride

    def forward(self, x):
        return x.mul(0.) if self.stride == 1 else x[:, :, ::self.stride, ::self.stride].mul(0.)


class Identity(nn.Module):
    def forward(self, x):
        return x


class FactorizedReduce(nn.Module):
    """ReLU, two 1x1 stride-2 convs on the SAME (un-shifted) input, concat, BN."""
    def __init__(self, cin, cout, affine):
        super().__init__()
        self.relu = nn.ReLU()
        self.conv_1 = nn.Conv2d(cin, cout // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(cin, cout // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(cout, affine=affine)

    def forward(self, x):
        x = self.relu(x)
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(x)], 1))


class Wrapped(nn.Module):
    def __init__(self, *layers):
        super().__init__()
        self.op = nn.Sequential(*layers)

    def forward(self, x):
        return self.op(x)


def relu_conv_bn(cin, cout, k, s, p, affine):
    return Wrapped(nn.ReLU(), nn.Conv2d(cin, cout, k, s, p, bias=False), nn.BatchNorm2d(cout, affine=affine))


def dil_conv(c, k, s, p, d, affine):
    return Wrapped(nn.ReLU(), nn.Conv2d(c, c, k, s, p, dilation=d, groups=c, bias=False),
                   nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c, affine=affine))


def sep_conv(c, k, s, p, affine):
    return Wrapped(nn.ReLU(), nn.Conv2d(c, c, k, s, p, groups=c, bias=False), nn.Conv2d(c, c, 1, bias=False),
                   nn.BatchNorm2d(c, affine=affine), nn.ReLU(), nn.Conv2d(c, c, k, 1, p, groups=c, bias=False),
                   nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c, affine=affine))


def make_op(name, c, stride, affine):
    if name == 'none':
        return Zero(stride)
    if name == 'max_pool_3x3':
        return nn.MaxPool2d(3, stride, 1)
    if name == 'avg_pool_3x3':
        return nn.AvgPool2d(3, stride, 1, count_include_pad=False)
    if name == 'skip_connect':
        return Identity() if stride == 1 else FactorizedReduce(c, c, affine)
    if name.startswith('sep_conv'):
        k = int(name[-1])
        return sep_conv(c, k, stride, k // 2, affine)
    if name.startswith('dil_conv'):
        k = int(name[-1])
        return dil_conv(c, k, stride, k - 1, 2, affine)
    raise ValueError(name)


def gumbel_hard(logits):
    g = -torch.empty_like(logits).exponential_().log()
    y = (logits + g).softmax(-1)
    hard = torch.zeros_like(logits).scatter_(-1, y.max(-1, keepdim=True)[1], 1.0)
    return hard - y.detach() + y


def drop_path(x, p):
    if p > 0:
        mask = torch.empty(x.size(0), 1, 1, 1).bernoulli_(1 - p)
        x.div_(1 - p)
        x.mul_(mask)
    return x


class MixedOp(nn.Module):
    def __init__(self, c, stride):
        super().__init__()
        self._ops = nn.ModuleList()
        for name in PRIMITIVES:
            op = make_op(name, c, stride, False)
            if 'pool' in name:
                op = nn.Sequential(op, nn.BatchNorm2d(c, affine=False))
            self._ops.append(op)

    def forward(self, x, w):
        out = 0
        for k, op in enumerate(self._ops):
            out = out + w[k] * op(x)
        return out


class SearchCell(nn.Module):
    def __init__(self, cpp, cp, c, reduction, reduction_prev):
        super().__init__()
        self.reduction = reduction
        self.preprocess0 = FactorizedReduce(cpp, c, False) if reduction_prev else relu_conv_bn(cpp, c, 1, 1, 0, False)
        self.preprocess1 = relu_conv_bn(cp, c, 1, 1, 0, False)
        self._ops = nn.ModuleList(MixedOp(c, 2 if reduction and j < 2 else 1) for i in range(4) for j in range(2 + i))

    def forward(self, s0, s1, w, drop):
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        off = 0
        for i in range(4):
            s = 0
            for j, h in enumerate(states):
                o = self._ops[off + j](h, w[off + j])
                s = s + (drop_path(o, drop) if self.training and drop > 0 else o)
            off += len(states)
            states.append(s)
        return torch.cat(states[-4:], 1)


class SearchNetwork(nn.Module):
    def __init__(self, C, classes, layers):
        super().__init__()
        cc = 3 * C
        self.stem = nn.Sequential(nn.Conv2d(1, cc, 3, padding=1, bias=False), nn.BatchNorm2d(cc), nn.MaxPool2d(3, 2, 1))
        cpp, cp, cc = cc, cc, C
        self.cells = nn.ModuleList()
        rp = False
        for i in range(layers):
            red = i in (layers // 3, 2 * layers // 3)
            if red:
                cc *= 2
            self.cells.append(SearchCell(cpp, cp, cc, red, rp))
            rp = red
            cpp, cp = cp, 4 * cc
        self.classifier = nn.Linear(cp, classes)
        self.alphas_normal = nn.Parameter(1e-3 * torch.randn(14, 8))
        self.alphas_reduce = nn.Parameter(1e-3 * torch.randn(14, 8))
        self.drop_path_prob = 0.0

    def arch_parameters(self):
        return [self.alphas_normal, self.alphas_reduce]

    def weight_parameters(self):
        return [p for n, p in self.named_parameters() if not n.startswith('alphas_')]

    def forward(self, x):
        s0 = s1 = self.stem(x.unsqueeze(1))
        for cell in self.cells:
            w = gumbel_hard(F.log_softmax(self.alphas_reduce if cell.reduction else self.alphas_normal, -1))
            s0, s1 = s1, cell(s0, s1, w, self.drop_path_prob)
        v = F.adaptive_avg_pool2d(s1, 1).flatten(1)
        return self.classifier(v) if self.training else v


class Cell(nn.Module):
    def __init__(self, genotype, cpp, cp, c, reduction, reduction_prev):
        super().__init__()
        self.preprocess0 = FactorizedReduce(cpp, c, True) if reduction_prev else relu_conv_bn(cpp, c, 1, 1, 0, True)
        self.preprocess1 = relu_conv_bn(cp, c, 1, 1, 0, True)
        genes = genotype['reduce' if reduction else 'normal']
        self.concat = genotype['reduce_concat' if reduction else 'normal_concat']
        self._ops = nn.ModuleList(make_op(n, c, 2 if reduction and i < 2 else 1, True) for n, i in genes)
        self.indices = [i for _, i in genes]

    def forward(self, s0, s1, drop):
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for i in range(len(self._ops) // 2):
            hs = []
            for k in (2 * i, 2 * i + 1):
                h = self._ops[k](states[self.indices[k]])
                if self.training and drop > 0 and not isinstance(self._ops[k], Identity):
                    h = drop_path(h, drop)
                hs.append(h)
            states.append(hs[0] + hs[1])
        return torch.cat([states[i] for i in self.concat], 1)


class Network(nn.Module):
    def __init__(self, C, classes, layers, genotype):
        super().__init__()
        self.stem0 = nn.Sequential(nn.Conv2d(1, C // 2, 3, 2, 1, bias=False), nn.BatchNorm2d(C // 2), nn.ReLU(inplace=True),
                                   nn.Conv2d(C // 2, C, 3, 2, 1, bias=False), nn.BatchNorm2d(C))
        self.stem1 = nn.Sequential(nn.ReLU(inplace=True), nn.Conv2d(C, C, 3, 2, 1, bias=False), nn.BatchNorm2d(C))
        cpp, cp, cc = C, C, C
        self.cells = nn.ModuleList()
        rp = True
        for i in range(layers):
            red = i in (layers // 3, 2 * layers // 3)
            if red:
                cc *= 2
            cell = Cell(genotype, cpp, cp, cc, red, rp)
            self.cells.append(cell)
            rp = red
            cpp, cp = cp, len(cell.concat) * cc
        self.classifier = nn.Linear(cp, classes)
        self.drop_path_prob = 0.0

    def forward(self, x):
        s0 = self.stem0(x.unsqueeze(1))
        s1 = self.stem1(s0)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1, self.drop_path_prob)
        v = F.adaptive_avg_pool2d(s1, 1).flatten(1)
        return self.classifier(v) if self.training else v


def smoothed_ce(logits, y, eps=0.1):
    logp = F.log_softmax(logits, 1)
    q = torch.zeros_like(logp).scatter_(1, y.unsqueeze(1), 1)
    q = (1 - eps) * q + eps / logits.size(1)
    return (-q * logp).mean(0).sum()
