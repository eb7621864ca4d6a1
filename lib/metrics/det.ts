// DET curve (miss vs false-alarm rates on normal-deviate axes) as a standalone SVG image.
import { rocCurve } from './roc.ts';

/** Inverse standard normal CDF (Acklam's rational approximation, |error| < 1.2e-9). */
export function probit(p: number): number {
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  if (p <= 0) return -Infinity;
  if (p >= 1) return Infinity;
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - lo) return -probit(1 - p);
  const q = p - 0.5, r = q * q;
  return ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

export function detSvg(scores: ArrayLike<number>, labels: ArrayLike<number>, eer: number, title: string): string {
  const roc = rocCurve(scores, labels, false);
  const ticks = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4];
  const lim = [probit(0.0005), probit(0.5)];
  const W = 480, M = 60;
  const pos = (p: number) => M + ((Math.min(Math.max(probit(p), lim[0]), lim[1]) - lim[0]) / (lim[1] - lim[0])) * (W - 2 * M);
  const pts = roc.fpr.map((f, i) => [pos(f), W - pos(1 - roc.tpr[i])]).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const grid = ticks.map((t) => {
    const v = pos(t);
    const label = `${+(100 * t).toPrecision(2)}`;
    return `<line x1="${v}" y1="${M}" x2="${v}" y2="${W - M}" stroke="#ddd"/><line x1="${M}" y1="${W - v}" x2="${W - M}" y2="${W - v}" stroke="#ddd"/>` +
      `<text x="${v}" y="${W - M + 16}" font-size="10" text-anchor="middle">${label}</text><text x="${M - 6}" y="${W - v + 3}" font-size="10" text-anchor="end">${label}</text>`;
  }).join('');
  const e = pos(eer);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${W}" viewBox="0 0 ${W} ${W}" font-family="sans-serif">` +
    `<rect width="${W}" height="${W}" fill="white"/>${grid}` +
    `<rect x="${M}" y="${M}" width="${W - 2 * M}" height="${W - 2 * M}" fill="none" stroke="black"/>` +
    `<polyline fill="none" stroke="#c0392b" stroke-width="1.5" points="${pts.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ')}"/>` +
    `<line x1="${M}" y1="${W - M}" x2="${W - M}" y2="${M}" stroke="#999" stroke-dasharray="4 3"/>` +
    `<circle cx="${e}" cy="${W - e}" r="4" fill="#2c3e50"/><text x="${e + 8}" y="${W - e - 6}" font-size="11">EER ${(100 * eer).toFixed(2)} %</text>` +
    `<text x="${W / 2}" y="${W - 18}" font-size="12" text-anchor="middle">false alarm rate (%)</text>` +
    `<text x="16" y="${W / 2}" font-size="12" text-anchor="middle" transform="rotate(-90 16 ${W / 2})">miss rate (%)</text>` +
    `<text x="${W / 2}" y="30" font-size="13" text-anchor="middle">${title.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</text></svg>\n`;
}
