"""Reference side of `npm run bench`: runs one workload with plain PyTorch and prints JSON
{"times_ms": [...], "peak_rss_kb": N, ...} on stdout. Usage: torch_worker.py WORKLOAD REPS THREADS"""
import json
import os
import resource
import sys
import time

import torch

sys.path.insert(0, __file__.rsplit('/', 1)[0])
import tdnn_reference as T  # noqa: E402
import torch_reference as R  # noqa: E402
import workloads as W  # noqa: E402


class Phases:
    """Wall time per phase of the last step (the same phase names as our StepStats.phasesMs)."""
    def __init__(self):
        self.ms, self.last = {}, time.perf_counter()

    def start(self):
        self.ms, self.last = {}, time.perf_counter()

    def mark(self, name):
        now = time.perf_counter()
        self.ms[name] = (now - self.last) * 1000
        self.last = now


PHASES = Phases()
# NHWC on the PyTorch side too (set by hand to compare like with like; `npm run bench` runs the
# reference as it is, NCHW, against our MODEL.CHANNELS_LAST rows).
CHANNELS_LAST = os.environ.get('BENCH_CHANNELS_LAST') == '1'


CPU_MS = []


def timed(fn, reps):
    fn()  # warm-up (allocator, oneDNN primitive cache)
    times = []
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
        CPU_MS.append((time.process_time() - c0) * 1000)  # all threads of the process
    return times


def search_step(cfg):
    torch.manual_seed(0)
    model = R.SearchNetwork(cfg['C'], cfg['classes'], cfg['layers'])
    model.train()
    opt = torch.optim.Adam(model.weight_parameters(), lr=0.01)
    arch = torch.optim.Adam(model.arch_parameters(), lr=0.001, betas=(0.5, 0.999), weight_decay=0.001)
    x, y = W.batch(cfg['batch'], cfg['frames'], cfg['classes'], 1)
    xv, yv = W.batch(cfg['batch'], cfg['frames'], cfg['classes'], 2)

    def step():
        PHASES.start()
        arch.zero_grad()
        arch_loss = R.smoothed_ce(model(xv), yv)
        PHASES.mark('alpha forward')
        arch_loss.backward()
        PHASES.mark('alpha backward')
        arch.step()
        PHASES.mark('alpha update')
        loss = R.smoothed_ce(model(x), y)
        PHASES.mark('weight forward')
        opt.zero_grad()
        loss.backward()
        PHASES.mark('weight backward')
        opt.step()
        PHASES.mark('weight update')
    return step


def train_step(cfg):
    torch.manual_seed(0)
    model = R.Network(cfg['C'], cfg['classes'], cfg['layers'], R.README_GENOTYPE)
    model.train()
    if CHANNELS_LAST:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    x, y = W.batch(cfg['batch'], cfg['frames'], cfg['classes'], 1)

    def step():
        PHASES.start()
        loss = R.smoothed_ce(model(x), y)
        PHASES.mark('weight forward')
        opt.zero_grad()
        loss.backward()
        PHASES.mark('weight backward')
        opt.step()
        PHASES.mark('weight update')
    return step


def _eval_model(cfg):
    """The derived network in eval mode (NHWC with BENCH_CHANNELS_LAST)."""
    torch.manual_seed(0)
    model = R.Network(cfg['C'], cfg['classes'], cfg['layers'], R.README_GENOTYPE)
    model.eval()
    if CHANNELS_LAST:
        model = model.to(memory_format=torch.channels_last)
    return model


def _eval_network(cfg):
    """_eval_model and the workload's utterances."""
    return _eval_model(cfg), W.utterances(cfg)


def verify(cfg):
    """The reference's validate_verification: every trial re-embeds both utterances."""
    model, utts = _eval_network(cfg)
    trials = W.trials(cfg)

    def run():
        scores = []
        with torch.no_grad():
            for a, b in trials:
                e1 = model(utts[a]).mean(0, keepdim=True)
                e2 = model(utts[b]).mean(0, keepdim=True)
                scores.append(torch.nn.functional.cosine_similarity(e1, e2).item())
        return scores
    return run


def eval_forward(cfg):
    """The reference's per-utterance forward (eval, no grad): each utterance's windows as one batch,
    every utterance once (the verification cost per window, without the per-trial re-embedding)."""
    model, utts = _eval_network(cfg)

    def run():
        with torch.no_grad():
            return [model(u).mean(0) for u in utts]
    return run


def _spectrogram():
    """librosa 0.7.2's path: float32 wav, reflect pad, frames x periodic Hann (float64), numpy rfft,
    complex64, abs; plus the -30 dBFS increase-only gain."""
    import numpy as np
    win = np.zeros(512)
    win[56:456] = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(400) / 400)

    def one(w):
        rms = np.sqrt(np.mean((w * 32767) ** 2))
        change = -30 - 20 * np.log10(rms / 32767)
        if change >= 0:
            w = w * np.float32(10 ** (change / 20))
        y = np.pad(w, 256, mode='reflect')
        frames = np.lib.stride_tricks.as_strided(y, shape=(1 + (len(y) - 512) // 160, 512), strides=(y.strides[0] * 160, y.strides[0]))
        spec = np.fft.rfft(frames * win, axis=1).astype(np.complex64)
        return np.abs(spec).astype(np.float32)
    return one


def features(cfg):
    """The reference's |STFT| (_spectrogram) of every wav."""
    import numpy as np
    n = cfg['seconds'] * 16000
    wavs = [W._hash_floats(n, 1000 + f) * np.float32(0.01) for f in range(cfg['files'])]
    one = _spectrogram()

    def run():
        for w in wavs:
            one(w)
    return run


def _bench_pcm(n, seed):
    """16-bit PCM as node_worker.ts benchPcm writes it: floor(x * 327.67 + 0.5) in float64."""
    import numpy as np
    return np.floor(W._hash_floats(n, seed).astype(np.float64) * 327.67 + 0.5).astype('<i2')


def embed_files(cfg):
    """Embedding wav files as the reference would, end to end: read the wav (float32 in [-1, 1), as
    librosa.load through soundfile gives it), |STFT| (_spectrogram), test windows (frame repeat x2
    while T <= P, P-frame windows at hop P // 2), normalised with mean/std, eval forward of the
    utterance's windows as one batch, their mean."""
    import numpy as np
    import tempfile
    import wave
    d = tempfile.mkdtemp(prefix='bench-embed-')
    files = []
    for f in range(cfg['files']):
        path = os.path.join(d, f'{f}.wav')
        with wave.open(path, 'wb') as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(16000)
            w.writeframes(_bench_pcm(cfg['seconds'] * 16000, 1000 + f).tobytes())
        files.append(path)
    import atexit
    import shutil
    atexit.register(shutil.rmtree, d, True)
    model = _eval_model(cfg)
    one = _spectrogram()
    P = cfg['frames']
    mean, std = np.float32(0.5), np.float32(2)

    def embed(path):
        with wave.open(path, 'rb') as w:
            y = np.frombuffer(w.readframes(w.getnframes()), dtype='<i2').astype(np.float32) / np.float32(32768)
        x = one(y)
        while x.shape[0] <= P:
            x = np.repeat(x, 2, axis=0)
        windows = np.stack([x[s:s + P] for s in range(0, x.shape[0] - P + 1, P // 2)])
        windows = (windows - mean) / std
        with torch.no_grad():
            return model(torch.from_numpy(windows)).mean(0)

    def run():
        return [embed(f) for f in files]
    return run


CHECK = {}  # what the run compares between the two sides (tdnn workloads), from the warm-up call


def _tdnn(cfg):
    d = cfg['supernet']
    dims = dict(in_feats=d['in_feats'], embed=d['embed'], blocks=d['blocks'], channels=d['channels'], kernel=d['kernel'], cat=d['cat'])
    tensors = {}
    for key, shape in T.supernet_shapes(d['in_feats'], d['embed'], d['blocks'], d['channels'], d['kernel'], d['cat']).items():
        v = torch.from_numpy(T.bench_value(key, shape, W._hash_floats))
        buffer = key.endswith(('running_mean', 'running_var', 'num_batches_tracked'))
        tensors[key] = v if buffer else v.requires_grad_(True)
    net = T.DynamicTDNN(tensors, dims)
    x = torch.from_numpy(W._hash_floats(cfg['batch'] * d['in_feats'] * cfg['frames'], 1).reshape(cfg['batch'], d['in_feats'], cfg['frames']))
    return net, x, tuple(cfg['subnet'])


def tdnn_embed(cfg):
    """Subnet embedding extraction, eval mode, no autograd."""
    net, x, subnet = _tdnn(cfg)
    net.training = False

    def run():
        with torch.no_grad():
            e = net.embed(x, subnet)
        CHECK.setdefault('embedding', e.flatten().tolist())
    return run


def tdnn_fwd_bwd(cfg):
    """A supernet training step without the update: train-mode forward of the path, AAM-softmax
    + cross-entropy, backward into every supernet parameter and the AAM weight."""
    net, x, subnet = _tdnn(cfg)
    net.training = True
    d, classes = cfg['supernet'], cfg['classes']
    import math
    import numpy as np
    aam = torch.from_numpy(W._hash_floats(d['embed'] * classes, 2).reshape(d['embed'], classes) * np.float32(math.sqrt(2 / (d['embed'] + classes)))).requires_grad_(True)
    y = torch.arange(cfg['batch'], dtype=torch.long) * 7 % classes
    params = net.params() + [aam]

    def step():
        PHASES.start()
        for p in params:
            p.grad = None
        e = net.embed(x, subnet)
        loss, _ = T.aam_softmax_loss(e, aam, y, cfg['margin'], cfg['scale'])
        PHASES.mark('forward')
        loss.backward()
        PHASES.mark('backward')
        if not CHECK:
            norms = {k: v.grad.double().norm().item() for k, v in net.t.items() if v.requires_grad and v.grad is not None}
            norms['aam.W'] = aam.grad.double().norm().item()
            CHECK.update(loss=loss.item(), embedding=e.detach().flatten().tolist(), grad_norms=norms)
    return step


def _idx(n, k=8):
    """The k element indices whose updated values both sides report (bench/node_worker.ts sampleIdx)."""
    return sorted({min(n - 1, ((2 * j + 1) * n) // (2 * k)) for j in range(k)}) if n else []


def tdnn_train_step(cfg):
    """One supernet training step as sugar's dynamic_walks_train does it for one walk on a fixed
    path (native/train/tdnn_trainer.cc on our side): zero_grad, train-mode forward of the path,
    AAM-softmax + cross-entropy, backward, top-1/top-5 accuracy and loss.item() for the log,
    torch.optim.Adam(every supernet parameter incl. k53/k31 + the AAM weight, weight_decay) step,
    then the per-batch CyclicLR step. The input is the LogMelFbanks feature batch (B, 80, T): the
    features phase (no gradient) precedes the step on both sides and is excluded from both."""
    net, x, subnet = _tdnn(cfg)
    net.training = True
    d, classes, o, c = cfg['supernet'], cfg['classes'], cfg['adam'], cfg['cyclic']
    import math
    import numpy as np
    aam = torch.from_numpy(W._hash_floats(d['embed'] * classes, 2).reshape(d['embed'], classes) * np.float32(math.sqrt(2 / (d['embed'] + classes)))).requires_grad_(True)
    y = torch.arange(cfg['batch'], dtype=torch.long) * 7 % classes
    named = [(k, v) for k, v in net.t.items() if v.requires_grad] + [('aam.W', aam)]
    before = {k: v.detach().clone() for k, v in named}
    opt = torch.optim.Adam([v for _, v in named], lr=c['max_lr'], betas=(o['beta1'], o['beta2']), eps=o['eps'], weight_decay=o['weight_decay'])
    # CyclicLR resumed at global step c['start'] (sugar: base 1e-8, max 1e-3, triangular2, stepped per batch)
    for g in opt.param_groups:
        g['initial_lr'] = c['base_lr']
    sched = torch.optim.lr_scheduler.CyclicLR(opt, c['base_lr'], c['max_lr'], step_size_up=c['step_size_up'], mode=c['mode'],
                                              cycle_momentum=False, last_epoch=c['start'] - 1)
    lr0 = opt.param_groups[0]['lr']

    def step():
        PHASES.start()
        opt.zero_grad()
        e = net.embed(x, subnet)
        loss, logits = T.aam_softmax_loss(e, aam, y, cfg['margin'], cfg['scale'])
        loss.backward()
        top5 = logits.detach().topk(5, 1).indices
        acc1 = (top5[:, 0] == y).float().mean().item() * 100
        acc5 = (top5 == y.unsqueeze(1)).any(1).float().mean().item() * 100
        value = loss.item()
        PHASES.mark('forward+backward')
        opt.step()
        sched.step()
        PHASES.mark('update')
        if not CHECK:
            st = opt.state
            CHECK.update(loss=value, acc1=acc1, acc5=acc5, lr=lr0,
                         exp_avg_norms={k: st[v]['exp_avg'].double().norm().item() for k, v in named if v in st},
                         update_norms={k: (v.detach().double() - before[k].double()).norm().item() for k, v in named if v in st},
                         updated_samples={k: v.detach().flatten()[_idx(v.numel())].tolist() for k, v in named})
    return step


def peak(_cfg):
    """Peak float32 throughput through libtorch: a large GEMM and a large 3x3 convolution."""
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    x, w = torch.randn(16, 64, 128, 128), torch.randn(64, 64, 3, 3)
    out = {}
    for name, fn, flops in [('gemm', lambda: a @ b, 2 * 2048 ** 3), ('conv3x3', lambda: torch.nn.functional.conv2d(x, w, padding=1), 2 * 16 * 64 * 128 * 128 * 64 * 9)]:
        ts = timed(fn, 5)
        out[name] = flops / (sorted(ts)[2] / 1000) / 1e9
    return out


def model_flops(name):
    """Convolution + linear FLOPs of one training step of the workload (forward x3 for fwd+bwd)."""
    cfg = W.CONFIGS[name]
    torch.manual_seed(0)
    if cfg['kind'] == 'search_step':
        model = R.SearchNetwork(cfg['C'], cfg['classes'], cfg['layers'])
    else:
        model = R.Network(cfg['C'], cfg['classes'], cfg['layers'], R.README_GENOTYPE)
    total = [0]

    def hook(m, inp, out):
        if isinstance(m, torch.nn.Conv2d):
            total[0] += 2 * out.numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
        elif isinstance(m, torch.nn.Linear):
            total[0] += 2 * out.numel() * m.in_features
    for m in model.modules():
        m.register_forward_hook(hook)
    x, _ = W.batch(cfg['batch'], cfg['frames'], cfg['classes'], 1)
    model.train()
    with torch.no_grad():
        model(x)
    passes = 2 if cfg['kind'] == 'search_step' else 1  # alpha step + weight step
    return 3 * passes * total[0]


def main():
    if sys.argv[1] == 'peak':
        torch.set_num_threads(int(sys.argv[3]))
        print(json.dumps(peak(None)))
        return
    if sys.argv[1] == 'flops':
        print(json.dumps({'flops': model_flops(sys.argv[2])}))
        return
    name, reps, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(threads)
    cfg = W.CONFIGS[name]
    fn = {'search_step': search_step, 'train_step': train_step, 'verify': verify, 'eval_forward': eval_forward, 'features': features, 'embed_files': embed_files,
          'tdnn_embed': tdnn_embed, 'tdnn_fwd_bwd': tdnn_fwd_bwd, 'tdnn_train_step': tdnn_train_step}[cfg['kind']](cfg)
    if reps == 0:  # profile: one step after a warm-up, per operator and per phase
        fn()
        shapes = os.environ.get('BENCH_PROFILE_SHAPES') == '1'  # group by input shapes too, as ours does
        with torch.autograd.profiler.profile(record_shapes=shapes) as prof:
            fn()
        ops = [{'name': e.key, **({'shapes': ', '.join('[' + ', '.join(map(str, s)) + ']' for s in e.input_shapes)} if shapes else {}),
                'calls': e.count, 'selfMs': e.self_cpu_time_total / 1000, 'totalMs': e.cpu_time_total / 1000}
               for e in prof.key_averages(group_by_input_shape=shapes)]
        ops.sort(key=lambda o: -o['selfMs'])
        fn()  # phases without the profiler's overhead
        print(json.dumps({'ops': ops, 'phases': PHASES.ms}))
        return
    times = timed(fn, reps)
    print(json.dumps({'times_ms': times, 'cpu_ms': CPU_MS, 'peak_rss_kb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                      'threads': torch.get_num_threads(), 'torch': torch.__version__, **({'check': CHECK} if CHECK else {})}))


if __name__ == '__main__':
    main()
