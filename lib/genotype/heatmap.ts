// softmax(alphas) as an SVG heat map (edges x ops, normal and reduce side by side), one per search
// epoch, so the architecture's evolution can be watched.
import { PRIMITIVES } from './types.ts';

export function alphaHeatmapSvg(probsNormal: Float32Array, probsReduce: Float32Array, title: string, primitives: readonly string[] = PRIMITIVES): string {
  const ops = primitives.length, edges = probsNormal.length / ops;
  const cell = 22, left = 70, top = 120, gap = 40;
  const W = left + 2 * ops * cell + gap + 20, H = top + edges * cell + 30;
  const block = (p: Float32Array, x0: number, name: string) => {
    let s = `<text x="${x0 + (ops * cell) / 2}" y="${top - 96}" text-anchor="middle" font-size="13">${name}</text>`;
    primitives.forEach((op, k) => {
      s += `<text transform="translate(${x0 + k * cell + cell / 2 + 4},${top - 6}) rotate(-60)" font-size="10">${op}</text>`;
    });
    for (let e = 0; e < edges; e++)
      for (let k = 0; k < ops; k++) {
        const v = p[e * ops + k];
        const shade = Math.round(255 * (1 - Math.min(1, v * 2)));
        s += `<rect x="${x0 + k * cell}" y="${top + e * cell}" width="${cell - 1}" height="${cell - 1}" fill="rgb(${shade},${shade},255)"><title>${op(e, k)} ${v.toFixed(4)}</title></rect>`;
      }
    return s;
    function op(e: number, k: number) { return `edge ${e} ${primitives[k]}`; }
  };
  let rows = '';
  for (let e = 0; e < edges; e++) rows += `<text x="${left - 8}" y="${top + e * cell + 15}" text-anchor="end" font-size="10">edge ${e}</text>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif"><rect width="${W}" height="${H}" fill="white"/>` +
    `<text x="10" y="18" font-size="13">${title}</text>${rows}${block(probsNormal, left, 'normal')}${block(probsReduce, left + ops * cell + gap, 'reduce')}</svg>\n`;
}
