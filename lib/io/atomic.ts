// Atomic file writes: write to a temp name in the same directory, fsync, rename, then fsync the
// directory (so the rename itself survives a crash), so a reader (or a killed run) never sees a
// half-written file. A failed write or rename removes the temp file.
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

let counter = 0;

export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${counter++}`);
}

export function writeFileAtomic(path: string, data: string | Uint8Array | Uint8Array[]): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = tempPathFor(path);
  const fd = openSync(tmp, 'w');
  try {
    const chunks = Array.isArray(data) ? data : [typeof data === 'string' ? Buffer.from(data) : data];
    for (const chunk of chunks) {
      let off = 0;
      while (off < chunk.byteLength) off += writeSync(fd, chunk, off, chunk.byteLength - off);
    }
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  syncDir(dirname(path));
}

/** fsync of a directory: makes a rename in it durable. */
export function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch (err) {
    // Some file systems cannot fsync a directory (EINVAL/EISDIR/EPERM): the rename stands anyway.
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM' && code !== 'EBADF') throw err;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Several files written as one step: every file goes to its temp name and is fsynced first (a
 * failure removes them all and leaves the old files as they were), then they are renamed in the
 * given order, so a reader never sees a half-written file and the set changes within a few renames.
 */
export function writeFilesAtomic(files: [path: string, data: string | Uint8Array | Uint8Array[]][]): void {
  const temps: [tmp: string, path: string][] = [];
  try {
    for (const [path, data] of files) {
      mkdirSync(dirname(path), { recursive: true });
      const tmp = tempPathFor(path);
      temps.push([tmp, path]);
      const fd = openSync(tmp, 'w');
      try {
        for (const chunk of Array.isArray(data) ? data : [typeof data === 'string' ? Buffer.from(data) : data]) {
          let off = 0;
          while (off < chunk.byteLength) off += writeSync(fd, chunk, off, chunk.byteLength - off);
        }
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
  } catch (err) {
    for (const [tmp] of temps) rmSync(tmp, { force: true });
    throw err;
  }
  for (const [tmp, path] of temps) renameSync(tmp, path);
  for (const dir of new Set(temps.map(([, p]) => dirname(p)))) syncDir(dir);
}
