// Progress: a bar with rate and ETA redrawn in place on a TTY, periodic plain lines otherwise.
export class Progress {
  private start = Date.now();
  private lastDraw = 0;
  private lastLine = 0;

  constructor(private label: string, private total: number, private stream: NodeJS.WriteStream = process.stderr,
    private plainEveryMs = 30000) {}

  update(done: number, extra = ''): void {
    const now = Date.now();
    const elapsed = (now - this.start) / 1000;
    const rate = done / Math.max(elapsed, 1e-9);
    const eta = rate > 0 ? (this.total - done) / rate : 0;
    const fmt = (s: number) => (s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m` : s >= 60 ? `${Math.floor(s / 60)}m${String(Math.floor(s % 60)).padStart(2, '0')}s` : `${s.toFixed(0)}s`);
    const speed = elapsed < 0.5 || done === 0 ? '' : rate >= 1 ? `${rate.toFixed(1)}/s ` : `${(1 / rate).toFixed(2)}s/it `;
    const text = `${this.label} ${done}/${this.total} ${speed}${speed ? `ETA ${fmt(eta)} ` : ''}${extra}`.trimEnd();
    if (this.stream.isTTY) {
      if (now - this.lastDraw < 100 && done < this.total) return;
      this.lastDraw = now;
      const width = 24;
      const filled = Math.round((width * done) / Math.max(this.total, 1));
      this.stream.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}\x1b[K`);
      if (done >= this.total) this.stream.write('\n');
    } else if (now - this.lastLine >= this.plainEveryMs || done >= this.total) {
      this.lastLine = now;
      this.stream.write(`${text}\n`);
    }
  }
}
