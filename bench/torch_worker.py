"""Reference side of `npm run bench`: runs one workload with plain PyTorch and prints JSON
{"times_ms": [...], "peak_rss_kb": N, ...} on stdout. Usage: torch_worker.py WORKLOAD REPS THREADS"""
import json
import resource
import sys
import time

import torch

sys.path.insert(0, __file__.rsplit('/', 1)[0])
import torch_reference as R  # noqa: E402
import workloads as W  # noqa: E402


def timed(fn, reps):
    fn()  # warm-up (allocator, oneDNN primitive cache)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
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
        arch.zero_grad()
        R.smoothed_ce(model(xv), yv).backward()
        arch.step()
        loss = R.smoothed_ce(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step


def train_step(cfg):
    torch.manual_seed(0)
    model = R.Network(cfg['C'], cfg['classes'], cfg['layers'], R.README_GENOTYPE)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    x, y = W.batch(cfg['batch'], cfg['frames'], cfg['classes'], 1)

    def step():
        loss = R.smoothed_ce(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step


def verify(cfg):
    """The reference's validate_verification: every trial re-embeds both utterances."""
    torch.manual_seed(0)
    model = R.Network(cfg['C'], cfg['classes'], cfg['layers'], R.README_GENOTYPE)
    model.eval()
    utts = W.utterances(cfg)
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


def main():
    name, reps, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(threads)
    cfg = W.CONFIGS[name]
    fn = {'search_step': search_step, 'train_step': train_step, 'verify': verify}[cfg['kind']](cfg)
    times = timed(fn, reps)
    print(json.dumps({'times_ms': times, 'peak_rss_kb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                      'threads': torch.get_num_threads(), 'torch': torch.__version__}))


if __name__ == '__main__':
    main()
