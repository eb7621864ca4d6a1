// Recorded human voices from Debian main (see DEMO_DATA.md §1): 9 real speakers whose clips ship
// inside game, PBX and TTS packages. The packages are fetched with `apt-get download` into a cache
// and unpacked with `dpkg -x` (nothing is installed); clips are decoded with ffmpeg to 16 kHz
// mono. Each speaker is tied to one production and language, so these sets check behaviour on
// real voices; they cannot rank architectures on their own.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';

import { UserError } from '../errors.ts';
import { pcm16ToFloat64, runCommand } from '../util/run_command.ts';

export interface RealSpeaker {
  key: string;
  person: string;
  gender: 'f' | 'm';
  language: string;
  packages: string[];
  /** Clip directories inside the unpacked packages (relative to the cache dir), searched recursively. */
  dirs: string[];
  /** Which clips are this speaker's. */
  match: RegExp;
  /** The recording "session" of a clip: a game level, a prompt group, a block of database clips. */
  session(rel: string): string;
  /** Held out for verification testing (one per production, as DEMO_DATA.md recommends). */
  test: boolean;
}

const FILLETS = 'usr/share/games/fillets-ng/sound';
const ASTERISK = 'usr/share/asterisk/sounds';
// A level's directory, e.g. fillets-ng-data-cs/usr/share/games/fillets-ng/sound/city/cs/x.ogg -> city
const level = (rel: string) => rel.split('/').slice(-3, -2)[0];
// A prompt group: the subdirectory (digits, letters, ...) or the file-name prefix (vm-, conf-, ...)
const promptGroup = (rel: string) => {
  const parts = rel.split('/');
  const inSub = parts[parts.length - 2];
  return /_(f|m)_/.test(inSub) ? basename(rel).split(/[-_.]/)[0] : inSub;
};

export const REAL_SPEAKERS: RealSpeaker[] = [
  { key: 'fillets_cs_m', person: 'Fish Fillets NG Czech dub, small fish', gender: 'f', language: 'cs', packages: ['fillets-ng-data-cs'], dirs: [`fillets-ng-data-cs/${FILLETS}`], match: /\/cs\/[^/]+-m-[^/]+\.ogg$/, session: level, test: false },
  { key: 'fillets_cs_v', person: 'Fish Fillets NG Czech dub, big fish', gender: 'm', language: 'cs', packages: ['fillets-ng-data-cs'], dirs: [`fillets-ng-data-cs/${FILLETS}`], match: /\/cs\/[^/]+-v-[^/]+\.ogg$/, session: level, test: false },
  { key: 'fillets_nl_m', person: 'Fish Fillets NG Dutch dub, small fish', gender: 'f', language: 'nl', packages: ['fillets-ng-data-nl'], dirs: [`fillets-ng-data-nl/${FILLETS}`], match: /\/nl\/[^/]+-m-[^/]+\.ogg$/, session: level, test: false },
  { key: 'fillets_nl_v', person: 'Fish Fillets NG Dutch dub, big fish', gender: 'm', language: 'nl', packages: ['fillets-ng-data-nl'], dirs: [`fillets-ng-data-nl/${FILLETS}`], match: /\/nl\/[^/]+-v-[^/]+\.ogg$/, session: level, test: true },
  { key: 'asterisk_allison', person: 'Allison Smith (Asterisk prompts, en_US and es_MX)', gender: 'f', language: 'en+es', packages: ['asterisk-core-sounds-en-g722', 'asterisk-core-sounds-es-g722'],
    dirs: [`asterisk-core-sounds-en-g722/${ASTERISK}`, `asterisk-core-sounds-es-g722/${ASTERISK}`], match: /\.g722$/, session: (r) => `${r.includes('es_MX') ? 'es' : 'en'}-${promptGroup(r)}`, test: false },
  { key: 'asterisk_june', person: 'June Wallack (Asterisk prompts, fr_CA)', gender: 'f', language: 'fr', packages: ['asterisk-core-sounds-fr-g722'], dirs: [`asterisk-core-sounds-fr-g722/${ASTERISK}`], match: /\.g722$/, session: promptGroup, test: true },
  { key: 'asterisk_carlo', person: 'Carlo Flora (Asterisk prompts, it_IT)', gender: 'm', language: 'it', packages: ['asterisk-core-sounds-it-g722'], dirs: [`asterisk-core-sounds-it-g722/${ASTERISK}`], match: /\.g722$/, session: promptGroup, test: false },
  { key: 'asterisk_ivrvoiceru', person: 'IvrvoiceRU (Asterisk prompts, ru_RU)', gender: 'f', language: 'ru', packages: ['asterisk-core-sounds-ru-g722'], dirs: [`asterisk-core-sounds-ru-g722/${ASTERISK}`], match: /\.g722$/, session: promptGroup, test: false },
  { key: 'festvox_ru_nsh', person: 'nsh (festvox-ru unit-selection database)', gender: 'm', language: 'ru', packages: ['festvox-ru'], dirs: ['festvox-ru/usr/share/festival/voices/russian/msu_ru_nsh_clunits/wav'],
    match: /ru_\d{4}\.wav$/, session: (r) => `block${Math.floor(Number(/ru_(\d{4})/.exec(r)![1]) / 60)}`, test: true },
];

export interface Clip { file: string; rel: string; session: string; seconds: number }

/** Fetches and unpacks the packages the speakers need into `cache` (once; a marker records completion). */
export function ensureRealVoicePackages(cache: string, speakers = REAL_SPEAKERS, log?: (msg: string) => void): void {
  mkdirSync(cache, { recursive: true });
  for (const pkg of [...new Set(speakers.flatMap((s) => s.packages))]) {
    const marker = join(cache, pkg, '.unpacked');
    if (existsSync(marker)) continue;
    log?.(`fetching ${pkg} (apt-get download)`);
    const debs = join(cache, 'debs');
    mkdirSync(debs, { recursive: true });
    let deb = readdirSync(debs).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
    if (!deb) {
      const r = spawnSync('apt-get', ['download', pkg], { cwd: debs, encoding: 'utf8' });
      if (r.error) throw new UserError(`apt-get could not be run (${r.error.message}): --real needs Debian's apt to fetch ${pkg}`);
      deb = readdirSync(debs).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
      if (r.status !== 0 || !deb) throw new UserError(`apt-get download ${pkg} failed (run apt-get update?): ${(r.stderr || '').trim().split('\n').slice(-2).join(' ')}`);
    }
    const tmp = join(cache, `.${pkg}.unpacking-${process.pid}`);
    rmSync(tmp, { recursive: true, force: true });
    const x = spawnSync('dpkg', ['-x', join(debs, deb), tmp], { encoding: 'utf8' });
    if (x.error || x.status !== 0) {
      rmSync(join(debs, deb), { force: true }); // a broken download: fetch it again next time
      rmSync(tmp, { recursive: true, force: true });
      throw new UserError(`dpkg -x ${deb} failed (removed it; retry to fetch it again): ${x.error?.message ?? x.stderr.trim()}`);
    }
    rmSync(join(cache, pkg), { recursive: true, force: true });
    renameSync(tmp, join(cache, pkg));
    writeFileSync(marker, `${deb}\n`);
  }
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...walk(full));
    else out.push(full);
  }
  return out;
}

/** Duration of an Ogg Vorbis file from its last page's granule position and the identification header. */
export function oggSeconds(buf: Buffer): number {
  const id = buf.indexOf('\x01vorbis', 0, 'latin1');
  if (id < 0) throw new Error('not an Ogg Vorbis file');
  const rate = buf.readUInt32LE(id + 12);
  const last = buf.lastIndexOf('OggS', undefined, 'latin1');
  if (last < 0 || rate === 0) throw new Error('no Ogg page or zero sample rate');
  return Number(buf.readBigInt64LE(last + 6)) / rate;
}

function clipSeconds(file: string): number {
  if (file.endsWith('.g722')) return statSync(file).size / 8000; // 64 kbit/s
  if (file.endsWith('.ogg')) return oggSeconds(readFileSync(file));
  if (file.endsWith('.wav')) return (statSync(file).size - 44) / 32000; // 16 kHz 16-bit mono
  throw new Error(`unknown clip type ${file}`);
}

/** The speaker's clips with their sessions and durations (sorted by path). */
export function listClips(cache: string, sp: RealSpeaker): Clip[] {
  const clips: Clip[] = [];
  for (const d of sp.dirs) {
    const dir = join(cache, d);
    if (!existsSync(dir)) throw new UserError(`${dir} is missing from the voice cache (delete ${cache} and retry)`);
    for (const file of walk(dir)) {
      const rel = relative(cache, file);
      if (!sp.match.test(rel)) continue;
      clips.push({ file, rel, session: sp.session(rel), seconds: clipSeconds(file) });
    }
  }
  return clips;
}

/** Decodes a clip to 16 kHz mono samples in [-1, 1] with ffmpeg (deterministic resampling). */
export async function decodeClip(file: string): Promise<Float64Array> {
  const input = file.endsWith('.g722') ? ['-f', 'g722', '-i', file] : ['-i', file];
  return pcm16ToFloat64(await runCommand('ffmpeg', ['-v', 'error', '-nostdin', ...input, '-ac', '1', '-ar', '16000', '-f', 's16le', '-']));
}
