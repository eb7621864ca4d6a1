// `autospeech doctor`: what libtorch this is, which devices and threads it has, where the addon is.
import type { Command } from 'commander';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';

import { PROJECT_ROOT, loadNative } from '../native.ts';
import { emit, table } from './output.ts';

export function register(program: Command): void {
  program
    .command('doctor')
    .description('print libtorch version, CUDA/cuDNN availability, devices, threads, BLAS, ABI, native-kernel self-checks and addon path')
    .option('--json', 'machine-readable output')
    .action((opts: { json?: boolean }) => {
      const native = loadNative();
      const info = native.info();
      const require = createRequire(import.meta.url);
      const addonPath = (require('node-gyp-build') as { resolve(dir: string): string }).resolve(PROJECT_ROOT);
      const blas = /BLAS_INFO=([^,\s]+)/.exec(info.config)?.[1] ?? 'unknown';
      const lapack = /LAPACK_INFO=([^,\s]+)/.exec(info.config)?.[1] ?? 'unknown';
      const report = {
        torchVersion: info.torchVersion,
        cuda: { available: info.cudaAvailable, devices: info.cudaDeviceCount, cudnn: info.cudnnAvailable, linkedTorchCuda: info.linkedTorchCuda },
        threads: { intraop: info.threads, interop: info.interopThreads, cores: availableParallelism() },
        blas,
        lapack,
        mkldnn: info.mkldnnAvailable,
        openmp: info.openmp,
        cxx11Abi: info.cxx11Abi,
        addon: addonPath,
        node: process.version,
        glibcTunables: process.env.GLIBC_TUNABLES ?? null,
        hugePageAllocator: info.hugePageAllocator,
        mallocTuning: info.mallocTuning,
        nativeKernels: native.nativeKernelChecks(),
        dataParallel: native.distBackends(),
      };
      emit(report, opts.json, (r) =>
        table([
          ['libtorch', r.torchVersion],
          ['CUDA', r.cuda.available ? `yes (${r.cuda.devices} device(s), cuDNN ${r.cuda.cudnn ? 'yes' : 'no'})` : `no${r.cuda.linkedTorchCuda ? ' (torch_cuda linked, no GPU visible)' : ' (CPU-only libtorch)'}`],
          ['threads', `${r.threads.intraop} intra-op, ${r.threads.interop} inter-op, ${r.threads.cores ?? '?'} cores`],
          ['BLAS / LAPACK', `${r.blas} / ${r.lapack}`],
          ['oneDNN (mkldnn)', r.mkldnn ? 'yes' : 'no'],
          ['OpenMP', r.openmp ? 'yes' : 'no'],
          ['C++11 ABI', r.cxx11Abi ? 'yes' : 'no'],
          ['huge-page allocator', r.hugePageAllocator ? 'on' : 'off (AUTOSPEECH_HUGEPAGES=1 turns it on)'],
          ['malloc tuning', r.mallocTuning ? 'on (32 MiB mmap threshold, 1 GiB trim; AUTOSPEECH_MALLOC_TUNING=0 turns it off)' : 'off (malloc tuned by the environment or AUTOSPEECH_MALLOC_TUNING=0)'],
          ['native kernels', r.nativeKernels.enabled ? 'on (exact; AUTOSPEECH_NATIVE_KERNELS=0 turns them off)' : 'off (AUTOSPEECH_NATIVE_KERNELS=0)'],
          ['  depthwise conv', r.nativeKernels.depthwise],
          ['  batch norm', r.nativeKernels.batchNorm],
          ['  batch norm backward', r.nativeKernels.batchNormBackward],
          ['  Adam update', r.nativeKernels.adam],
          ['data parallel', r.dataParallel.length ? `${r.dataParallel.join(', ')} (c10d; --nproc N or torchrun)` : 'none (the addon was built without Gloo headers: libgloo-dev)'],
          ['addon', r.addon],
          ['node', r.node],
        ]),
      );
    });
}
