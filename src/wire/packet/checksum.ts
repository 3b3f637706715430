/** The Internet checksum (RFC 1071): ones' complement of the ones' complement sum of 16-bit words. */

/**
 * Adds `buf[start..end)` as big-endian 16-bit words to `sum` (an odd last byte is padded with zero)
 * and returns the unfolded total. Chain calls to cover a pseudo-header and a segment, then `fold`.
 */
export function sumWords(buf: Buffer, start: number, end: number, sum = 0): number {
  let i = start;
  for (; i + 1 < end; i += 2) sum += (buf[i]! << 8) | buf[i + 1]!;
  if (i < end) sum += buf[i]! << 8;
  // A double sums 2^37 words exactly, far beyond any packet, so folding waits for `fold`.
  return sum;
}

/** Folds carries into 16 bits and complements: the value to store in a checksum field. */
export function fold(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 65536);
  return ~sum & 0xffff;
}

/** The checksum of `buf[start..end)`; 0 when the range holds a correct checksum already. */
export function internetChecksum(buf: Buffer, start: number, end: number): number {
  return fold(sumWords(buf, start, end));
}
