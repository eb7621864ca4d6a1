// Shared output helpers: every command that prints results offers --json the same way.
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** Prints `value` as JSON when asked, else the human form. */
export function emit<T>(value: T, json: boolean | undefined, human: (v: T) => string): void {
  if (json) printJson(value);
  else process.stdout.write(human(value).replace(/\n?$/, '\n'));
}

/** A plain text table with right-aligned numeric columns. */
export function table(rows: (string | number)[][], header?: string[]): string {
  const all = header ? [header, ...rows] : rows;
  const widths: number[] = [];
  for (const row of all) row.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, String(c).length)));
  const fmt = (row: (string | number)[]) =>
    row.map((c, i) => (typeof c === 'number' ? String(c).padStart(widths[i]) : String(c).padEnd(widths[i]))).join('  ').trimEnd();
  const lines = all.map(fmt);
  if (header) lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  return lines.join('\n');
}
