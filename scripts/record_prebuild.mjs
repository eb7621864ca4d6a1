// After prebuildify: records, beside each prebuilt addon, the libtorch it was built against
// (prebuilds/<platform>-<arch>/libtorch.json): the version the addon reports (its build's CMake
// Torch_VERSION), the directory it finds libtorch in (RUNPATH) and the libtorch libraries it links.
// lib/native.ts reads it when a prebuild fails to load, to say which libtorch it wants.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
const addon = existsSync(dir) && readdirSync(dir).find((f) => f.endsWith('.node'));
if (!addon) { console.error(`record_prebuild: no prebuilt addon in ${dir} (run prebuildify first)`); process.exit(1); }
const file = join(dir, addon);
const info = createRequire(import.meta.url)(file).info();
const dyn = execFileSync('readelf', ['-d', file], { encoding: 'utf8' });
const needed = [...dyn.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
const runpath = /\((?:RUNPATH|RPATH)\)\s+Library (?:runpath|rpath): \[([^\]]+)\]/.exec(dyn)?.[1] ?? '';
// the distribution package that holds it (Debian's libtorch1.13 1.13.1+dfsg-4 reports 1.13.0 to CMake)
let packageName = null;
try {
  const lib = join(runpath, needed.find((n) => n.startsWith('libtorch_cpu')) ?? 'libtorch_cpu.so');
  const pkg = execFileSync('dpkg-query', ['-S', lib], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split(':')[0];
  packageName = `${pkg} ${execFileSync('dpkg-query', ['-W', '-f', '${Version}', pkg], { encoding: 'utf8' })}`;
} catch { /* not a Debian package */ }
const record = {
  package: packageName,
  torchVersion: info.torchVersion,
  torchLibDir: runpath,
  needed: needed.filter((n) => /^lib(torch|c10)/.test(n)),
  napiVersion: 8,
  node: process.version,
  built: new Date().toISOString(),
  addon,
};
writeFileSync(join(dir, 'libtorch.json'), JSON.stringify(record, null, 2) + '\n');
console.error(`record_prebuild: ${join(dir, 'libtorch.json')}: libtorch ${record.torchVersion} (${record.torchLibDir}; ${record.needed.join(', ')})`);
