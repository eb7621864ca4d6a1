// WAV decoding of every supported encoding, and a corpus of broken files each getting its error
// record while preprocessing goes on with the rest and exits non-zero.
import test from 'ava';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { WavError, decodeWav, encodeWav16 } from '../lib/data/wav.ts';
import { cli } from './helpers/cli.ts';

function wav(opts: { tag?: number; channels?: number; rate?: number; bits?: number; data: Buffer; dataSize?: number; riff?: string; wave?: string; noFmt?: boolean; noData?: boolean }): Buffer {
  const { tag = 1, channels = 1, rate = 16000, bits = 16 } = opts;
  const fmt = Buffer.alloc(24);
  fmt.write('fmt ', 0, 'latin1');
  fmt.writeUInt32LE(16, 4);
  fmt.writeUInt16LE(tag, 8);
  fmt.writeUInt16LE(channels, 10);
  fmt.writeUInt32LE(rate, 12);
  fmt.writeUInt32LE((rate * channels * bits) / 8, 16);
  fmt.writeUInt16LE((channels * bits) / 8, 20);
  fmt.writeUInt16LE(bits, 22);
  const dataHeader = Buffer.alloc(8);
  dataHeader.write('data', 0, 'latin1');
  dataHeader.writeUInt32LE(opts.dataSize ?? opts.data.length, 4);
  const body = Buffer.concat([opts.noFmt ? Buffer.alloc(0) : fmt, opts.noData ? Buffer.alloc(0) : Buffer.concat([dataHeader, opts.data])]);
  const head = Buffer.alloc(12);
  head.write(opts.riff ?? 'RIFF', 0, 'latin1');
  head.writeUInt32LE(4 + body.length, 4);
  head.write(opts.wave ?? 'WAVE', 8, 'latin1');
  return Buffer.concat([head, body]);
}

const N = 8000;
const tone = Float64Array.from({ length: N }, (_, i) => 0.3 * Math.sin(i / 7));

test('PCM 16/24/32-bit and float32 decode to the same waveform', (t) => {
  const p16 = Buffer.alloc(2 * N), p24 = Buffer.alloc(3 * N), p32 = Buffer.alloc(4 * N), f32 = Buffer.alloc(4 * N);
  tone.forEach((v, i) => {
    p16.writeInt16LE(Math.round(v * 32767), 2 * i);
    p24.writeIntLE(Math.round(v * 8388607), 3 * i, 3);
    p32.writeInt32LE(Math.round(v * 2147483647), 4 * i);
    f32.writeFloatLE(v, 4 * i);
  });
  const decoded = [wav({ data: p16 }), wav({ data: p24, bits: 24 }), wav({ data: p32, bits: 32 }), wav({ data: f32, tag: 3, bits: 32 })].map((b) => decodeWav(b, 'x'));
  t.deepEqual(decoded.map((d) => d.format), ['pcm16', 'pcm24', 'pcm32', 'float32']);
  for (const d of decoded) for (let i = 0; i < N; i += 97) t.true(Math.abs(d.samples[i] - tone[i]) < 1e-4);
  t.is(decoded[0].samples[1], p16.readInt16LE(2) / 32768);
});

const good = encodeWav16(Int16Array.from({ length: 64000 }, (_, i) => Math.round(8000 * Math.sin(i / 9) + 300 * Math.sin(i * 1.3))));
const pcm = (n: number) => Buffer.alloc(2 * n, 1);
const nanData = Buffer.alloc(4 * 1000);
nanData.writeFloatLE(NaN, 40);

const broken: [string, Buffer, RegExp][] = [
  ['empty', Buffer.alloc(0), /empty file/],
  ['text', Buffer.from('this is not audio at all'), /not a RIFF\/WAVE file/],
  ['riff-not-wave', wav({ data: pcm(1000), wave: 'AVI ' }), /not a RIFF\/WAVE file/],
  ['stereo', wav({ data: pcm(2000), channels: 2 }), /2 channels; only mono/],
  ['8khz', wav({ data: pcm(1000), rate: 8000 }), /sample rate 8000 Hz; 16000 Hz is required/],
  ['2hz', wav({ data: pcm(1000), rate: 2 }), /sample rate 2 Hz is outside 1-384 kHz \(corrupt header\?\)/],
  ['1ghz', wav({ data: pcm(1000), rate: 1_000_000_000 }), /sample rate 1000000000 Hz is outside 1-384 kHz/],
  ['8bit', wav({ data: Buffer.alloc(1000, 128), bits: 8 }), /unsupported encoding \(format tag 1, 8 bits\)/],
  ['alaw', wav({ data: Buffer.alloc(1000), tag: 6, bits: 8 }), /unsupported encoding \(format tag 6/],
  ['truncated', wav({ data: pcm(1000), dataSize: 100000 }), /truncated data chunk: header says 100000 bytes/],
  ['no-data', wav({ data: pcm(10), noData: true }), /no data chunk/],
  ['no-fmt', wav({ data: pcm(1000), noFmt: true }), /no fmt chunk/],
  ['nan', wav({ data: nanData, tag: 3, bits: 32 }), /sample 10 is NaN/],
  ['partial-sample', wav({ data: Buffer.alloc(1001), bits: 24 }), /not a multiple of the 3-byte sample size/],
  ['no-samples', wav({ data: Buffer.alloc(0) }), /no samples/],
];

test(`${broken.length} kinds of broken files each get a specific error`, (t) => {
  for (const [name, bytes, message] of broken) {
    const err = t.throws(() => decodeWav(bytes, `${name}.wav`), { instanceOf: WavError }, name);
    t.regex(err!.message, message, name);
    t.true(err!.message.startsWith(`${name}.wav: `));
  }
});

test('preprocess records every broken file, keeps the good ones, and exits non-zero', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'broken-'));
  const dir = join(root, 'dev', 'wav', 'id00001', 'vid');
  mkdirSync(dir, { recursive: true });
  broken.forEach(([name, bytes], i) => writeFileSync(join(dir, `${String(i + 1).padStart(5, '0')}_${name}.wav`), bytes));
  writeFileSync(join(dir, '00100.wav'), good);
  writeFileSync(join(dir, '00101.wav'), good);
  const r = cli(['preprocess', root, '--json']);
  t.is(r.status, 1, r.stderr);
  const summary = JSON.parse(r.stdout);
  t.is(summary.utterances, 2);
  t.is(summary.errors.length, broken.length);
  for (const [name, , message] of broken) {
    const e = summary.errors.find((x: { file: string }) => x.file.endsWith(`_${name}.wav`));
    t.truthy(e, name);
    t.regex(`${name}: ${e.reason}`, message);
  }
  t.regex(r.stderr, new RegExp(`${broken.length} file\\(s\\) could not be read`));
});
