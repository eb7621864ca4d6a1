#!/usr/bin/env node
// The Node API in a dozen lines: load a trained model, embed two utterances, score them.
//   node examples/verify.mjs <model: checkpoint | run dir | state_dict dir | .bwn> <a.wav> <b.wav> [threshold]
// In a project that installed autospeech this runs as is (`import ... from 'autospeech'`); in a
// checkout of autospeech itself run `npm run build:js` first (the package imports itself by name).
import { cosine, loadModel } from 'autospeech';

const [modelPath, a, b, given] = process.argv.slice(2);
if (!modelPath || !a || !b) {
  console.error('usage: node examples/verify.mjs <model> <a.wav> <b.wav> [threshold]');
  process.exit(2);
}
try {
  const model = await loadModel(modelPath);
  const { kind, name, dims, params, genotype, subnet } = model.info;
  console.log(`model: ${kind} (${name}), ${params.total} parameters, ${dims.embedding}-d embeddings${genotype ? `, genotype ${genotype}` : ''}${subnet ? `, subnet ${subnet}` : ''}`);

  // Both embeddings run on the addon's compute thread; the event loop stays free meanwhile.
  const [ea, eb] = [await model.embed(a), await model.embed(b)];
  const score = cosine(ea, eb); // the same number as: await model.score(a, b)
  const threshold = given !== undefined ? Number(given) : model.info.threshold;
  const decision = threshold === null ? 'no decision (the model records no threshold; pass one)' : score >= threshold ? 'same speaker' : 'different speakers';
  console.log(JSON.stringify({ score, threshold, decision, embedding: Array.from(ea.subarray(0, 4)) }));
} catch (err) {
  console.error(`verify: ${err instanceof Error ? err.message : err}`);
  process.exit(1);
}
