// DARTS-style drawings of the normal and reduction cells as SVG: inputs c_{k-2}, c_{k-1}, the
// intermediate nodes, the output c_{k}; every gene is an edge labelled with its op.
import type { Genotype } from './types.ts';

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
}

export function cellSvg(g: Genotype, cell: 'normal' | 'reduce'): string {
  const genes = g[cell];
  const concat = cell === 'normal' ? g.normalConcat : g.reduceConcat;
  const steps = genes.length / 2;
  const W = 220 + 170 * steps, H = 120 + 70 * steps;
  const pos = new Map<number, [number, number]>();
  pos.set(0, [70, H * 0.3]);
  pos.set(1, [70, H * 0.7]);
  for (let i = 0; i < steps; i++) pos.set(i + 2, [230 + 170 * i, 70 + ((H - 140) * (i % 2 === 0 ? 0.25 + 0.1 * i / steps : 0.75 - 0.1 * i / steps))]);
  const out: [number, number] = [W - 60, H / 2];
  const node = (id: number) => {
    const [x, y] = pos.get(id)!;
    const label = id === 0 ? 'c_{k-2}' : id === 1 ? 'c_{k-1}' : String(id - 2);
    const fill = id < 2 ? '#a9dfbf' : '#aed6f1';
    return `<ellipse cx="${x}" cy="${y}" rx="${id < 2 ? 42 : 22}" ry="20" fill="${fill}" stroke="#333"/><text x="${x}" y="${y + 4}" text-anchor="middle" font-size="13">${label}</text>`;
  };
  const edges = genes.map(([op, input], i) => {
    const [x1, y1] = pos.get(input)!;
    const [x2, y2] = pos.get(Math.floor(i / 2) + 2)!;
    // label a little before the middle, with a white halo so crossing edges stay readable
    const f = 0.42 + 0.08 * (i % 2);
    const mx = x1 + f * (x2 - x1), my = y1 + f * (y2 - y1) - 5;
    return `<line x1="${x1}" y1="${y1}" x2="${x2 - 22}" y2="${y2}" stroke="#555" marker-end="url(#arrow)"/>` +
      `<text x="${mx}" y="${my}" text-anchor="middle" font-size="11" fill="#c0392b" stroke="white" stroke-width="3" paint-order="stroke">${esc(op)}</text>`;
  }).join('');
  const outs = concat.map((c) => {
    const [x, y] = pos.get(c)!;
    return `<line x1="${x + 22}" y1="${y}" x2="${out[0] - 30}" y2="${out[1]}" stroke="#999" stroke-dasharray="3 3" marker-end="url(#arrow)"/>`;
  }).join('');
  // edges first, then labels, so that no line crosses a label
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">` +
    `<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>` +
    `<rect width="${W}" height="${H}" fill="white"/><text x="12" y="22" font-size="14">${cell} cell</text>` +
    edges.replace(/<text[^>]*>[^<]*<\/text>/g, '') + outs + [...pos.keys()].map(node).join('') + (edges.match(/<text[^>]*>[^<]*<\/text>/g) ?? []).join('') +
    `<ellipse cx="${out[0]}" cy="${out[1]}" rx="30" ry="20" fill="#f9e79f" stroke="#333"/><text x="${out[0]}" y="${out[1] + 4}" text-anchor="middle" font-size="13">c_{k}</text></svg>\n`;
}
