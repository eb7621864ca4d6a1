// `autospeech export --load_path <ckpt> --out model.pth`: the model weights of a checkpoint as a
// PyTorch state_dict file (state_dict names are already the reference's).
import type { Command } from 'commander';

import { UserError } from '../errors.ts';
import { saveTorchStateDict, type TorchTensor } from '../io/torch_save.ts';
import { loadCheckpoint } from '../run/checkpoint.ts';
import { emit } from './output.ts';

export function register(program: Command): void {
  program
    .command('export')
    .description("write a checkpoint's weights as a .pth that torch.load + load_state_dict(strict=True) accepts on the reference model")
    .requiredOption('--load_path <ckpt>', 'a .ckpt of a run')
    .requiredOption('--out <pth>', 'output file')
    .option('--json', 'machine-readable summary')
    .action((opts: { load_path: string; out: string; json?: boolean }) => {
      const ckpt = loadCheckpoint(opts.load_path);
      const entries: [string, TorchTensor][] = [];
      for (const [name, t] of ckpt.tensors) if (name.startsWith('model/')) entries.push([name.slice(6), t]);
      if (entries.length === 0) throw new UserError(`${opts.load_path} holds no model tensors`);
      saveTorchStateDict(opts.out, entries);
      emit({ out: opts.out, tensors: entries.length }, opts.json, (r) => `wrote ${r.tensors} tensors to ${r.out}`);
    });
}
