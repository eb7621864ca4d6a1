// geatpy's 'BG' chromosome for integer genes, as sugar's ea_solve builds it:
//   Field = ea.crtfld('BG', problem.varTypes, problem.ranges, problem.borders)   (no precisions,
//   codes or scales), Population.decoding() = ea.bs2ri(Chrom, Field).
// geatpy's core (crtfld, bs2ri, crtbp, mutbin, xovdp, tour, dup, scaling) is compiled and its source
// is not public; what follows was settled from geatpy's Python sources (Population.py: initChrom
// calls crtpc, decoding calls bs2ri for 'BG') and from the black-box outputs of the original 2.7.0
// core recorded in yangyachao/geatpy tests/fixtures/core_parity_orig_2_7_0.json (cases crtfld_BG*,
// bs2ri*, bs2int; the inputs regenerated from their numpy seeds). No geatpy code is used here.
//  * Field descriptor (crtfld 'BG'): one column per variable, rows lens, lb, ub, codes, scales, lbin,
//    ubin, varTypes. For an integer variable lens = ceil(log2(ub - lb + 1)) (precisions only apply to
//    continuous ones): [0,7] -> 3 bits, [0,8] -> 4, [0,9] -> 4, [0,100] -> 7. An excluded integer
//    border is moved inward and marked included ([0,9) -> [0,8]). codes defaults to 0, standard
//    binary, NOT Gray (crtfld_BG_default: codes row 0,0,0); scales defaults to 0 (arithmetic).
//    MinimizeError passes no codes, so its chromosome is plain binary; Gray is the named option.
//  * Decoding (bs2ri): each variable's bits are most significant first; a Gray variable is turned
//    into binary first (b0 = g0, b_k = b_(k-1) xor g_k: the 12-bit Gray genes of case bs2ri decode
//    to exactly the recorded reals only this way). With both borders included the integer v in
//    [0, 2^lens - 1] is SCALED onto the range, x = lb + v (ub - lb) / (2^lens - 1), and an integer
//    variable is rounded: nothing is clipped, every v lands in [lb, ub], and a range whose size is
//    not a power of two is covered unevenly (4 bits over [0,8]: 0101 -> 5*8/15 = 2.67 -> 3, 1111 ->
//    8; the recorded column 3,2,1,1,6,2,6,8,4,4,6,6 fits this and no clip-or-wrap rule). bs2int
//    floors instead (13*9/15 = 7.8 -> 7 in case bs2int), but decoding uses bs2ri. The rounding mode
//    at .5 cannot matter: (2^lens - 1) is odd, so v (ub - lb) / (2^lens - 1) is never k + 1/2.
//  * Not settled: whether geatpy 2.6.x (sugar's API generation; the recorded core is 2.7.0) had the
//    same crtfld defaults; what crtfld does for lb = ub (lens = 0?): here such a gene gets 1 bit that
//    decodes to its only value either way (MinimizeError has no such gene).
import { UserError } from '../errors.ts';

export const BG_CODES = ['binary', 'gray'] as const;
export type BgCode = (typeof BG_CODES)[number];

/** Bits of an integer gene with `count` values (index range [0, count - 1]): ceil(log2(count)). */
export function geneBits(count: number): number {
  if (!Number.isSafeInteger(count) || count < 1) throw new UserError(`BG gene with ${count} choices: expected at least one`);
  // ceil(log2(span + 1)) = bit length of span, exactly (no floating log2); a lone value gets 1 bit.
  return count === 1 ? 1 : (count - 1).toString(2).length;
}

/** The field descriptor of a chromosome of integer genes, each over [0, counts[i] - 1]. */
export interface BgField {
  counts: number[];
  bits: number[];
  /** where each gene's bits start */
  offsets: number[];
  /** chromosome length (geatpy's Lind) */
  length: number;
  gray: boolean;
}

export function bgField(counts: readonly number[], code: BgCode = 'binary'): BgField {
  if (code !== 'binary' && code !== 'gray') throw new UserError(`BG code '${code}': expected binary or gray`);
  const bits = counts.map(geneBits);
  const offsets: number[] = [];
  let length = 0;
  for (const b of bits) { offsets.push(length); length += b; }
  if (length > 1_000_000) throw new UserError(`BG chromosome of ${length} bits: too long`);
  return { counts: [...counts], bits, offsets, length, gray: code === 'gray' };
}

/** Gray to binary, most significant bit first: b0 = g0, b_k = b_(k-1) xor g_k. */
export function grayToBinary(gray: readonly number[]): number[] {
  const out: number[] = [];
  let prev = 0;
  for (const g of gray) { prev ^= g & 1; out.push(prev); }
  return out;
}

/** Binary to Gray, most significant bit first: g0 = b0, g_k = b_(k-1) xor b_k. */
export function binaryToGray(bin: readonly number[]): number[] {
  return bin.map((b, k) => (k === 0 ? b : bin[k - 1] ^ b) & 1);
}

/** The unsigned integer of bits, most significant first. */
export function bitsValue(bits: readonly number[]): number {
  let v = 0;
  for (const b of bits) v = v * 2 + (b & 1);
  return v;
}

/** v as `width` bits, most significant first. */
export function valueBits(v: number, width: number): number[] {
  const out = new Array<number>(width);
  for (let k = width - 1; k >= 0; k--) { out[k] = v % 2; v = Math.floor(v / 2); }
  return out;
}

/**
 * bs2ri for one closed integer variable over [0, count - 1]: round(v (count - 1) / (2^bits - 1)),
 * in exact integer arithmetic (the quotient is never a half, see the file comment).
 */
export function scaleValue(v: number, bits: number, count: number): number {
  const den = 2 ** bits - 1;
  const span = count - 1;
  if (span === 0) return 0;
  return Math.floor((2 * v * span + den) / (2 * den));
}

/** The genes (indices into each gene's choices) a chromosome decodes to. */
export function decodeChromosome(field: BgField, chrom: ArrayLike<number>): number[] {
  if (chrom.length !== field.length) throw new Error(`BG chromosome of ${chrom.length} bits, the field needs ${field.length}`);
  return field.counts.map((count, i) => {
    const bits = Array.from({ length: field.bits[i] }, (_, k) => chrom[field.offsets[i] + k]);
    const v = bitsValue(field.gray ? grayToBinary(bits) : bits);
    return scaleValue(v, field.bits[i], count);
  });
}

/**
 * A chromosome that decodes to the given genes (for prophets): per gene the smallest v whose
 * scaled value is the gene, in the field's code. (geatpy's ri2bs rounds the other way; only the
 * decoded genes matter here.)
 */
export function encodeGenes(field: BgField, genes: readonly number[]): number[] {
  if (genes.length !== field.counts.length) throw new UserError(`BG prophet of ${genes.length} genes, the field has ${field.counts.length}`);
  const chrom: number[] = [];
  genes.forEach((g, i) => {
    const count = field.counts[i], bits = field.bits[i];
    if (!Number.isInteger(g) || g < 0 || g >= count) throw new UserError(`BG prophet gene ${i} = ${g}: expected an integer in [0, ${count - 1}]`);
    // smallest v with round(v span / den) = g: v = ceil((2g - 1) den / (2 span)), clamped at 0.
    const span = count - 1, den = 2 ** bits - 1;
    const v = span === 0 ? 0 : Math.max(0, Math.ceil(((2 * g - 1) * den) / (2 * span)));
    const bin = valueBits(v, bits);
    chrom.push(...(field.gray ? binaryToGray(bin) : bin));
  });
  return chrom;
}
