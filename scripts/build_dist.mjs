// `npm run build:js` (run by prepack): lib/*.ts -> dist/*.js + .d.ts (tsconfig.build.json), so the
// installed package runs on plain Node. tsc rewrites the relative `.ts` imports of the emitted
// JavaScript but leaves them in the declarations; they are rewritten to `.js` here, so a
// consumer's TypeScript resolves them under any moduleResolution that reads `exports`.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
rmSync(dist, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit', cwd: root });

let files = 0;
const walk = (d) => {
  for (const e of readdirSync(d, { withFileTypes: true })) {
    const p = join(d, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.name.endsWith('.d.ts')) {
      const s = readFileSync(p, 'utf8');
      const t = s.replace(/(from\s+|import\s*\(\s*)(['"])(\.{1,2}\/[^'"]*?)\.ts\2/g, '$1$2$3.js$2');
      if (t !== s) { writeFileSync(p, t); files++; }
    }
  }
};
walk(dist);
console.error(`dist/: built; .ts imports rewritten to .js in ${files} declaration files`);
