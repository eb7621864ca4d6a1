// `autospeech export --load_path <ckpt> --out model.pth`: the model weights of a checkpoint as a
// PyTorch state_dict file (state_dict names are already the reference's); `--format npy --out <dir>`
// writes one <key>.npy per state_dict tensor instead (the weights-directory format of forward
// --weights, tdnn --weights and embed --load_path).
import type { Command } from 'commander';

import { UserError } from '../errors.ts';
import { saveTorchStateDict, type TorchTensor } from '../io/torch_save.ts';
import { saveTensorDir } from '../models/weights.ts';
import { loadCheckpoint } from '../run/checkpoint.ts';
import { emit } from './output.ts';

export function register(program: Command): void {
  program
    .command('export')
    .description("write a checkpoint's weights as a .pth that torch.load + load_state_dict(strict=True) accepts on the reference model, or (--format npy) as a directory of <key>.npy")
    .requiredOption('--load_path <ckpt>', 'a .ckpt of a run')
    .requiredOption('--out <path>', 'output file (pth) or directory (npy)')
    .option('--format <fmt>', 'pth (torch.save zip) or npy (a directory: one <key>.npy per state_dict tensor)', 'pth')
    .option('--json', 'machine-readable summary')
    .action((opts: { load_path: string; out: string; format: string; json?: boolean }) => {
      if (opts.format !== 'pth' && opts.format !== 'npy') throw new UserError(`--format '${opts.format}': expected pth or npy`);
      const ckpt = loadCheckpoint(opts.load_path);
      const entries: [string, TorchTensor][] = [];
      for (const [name, t] of ckpt.tensors) if (name.startsWith('model/')) entries.push([name.slice(6), t]);
      if (entries.length === 0) throw new UserError(`${opts.load_path} holds no model tensors`);
      if (opts.format === 'npy') saveTensorDir(new Map(entries), opts.out);
      else saveTorchStateDict(opts.out, entries);
      emit({ out: opts.out, format: opts.format, tensors: entries.length }, opts.json, (r) => `wrote ${r.tensors} tensors to ${r.out}${r.format === 'npy' ? '/' : ''}`);
    });
}
