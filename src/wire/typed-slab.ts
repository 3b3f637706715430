/**
 * Small zero-filled typed arrays carved out of shared ArrayBuffers, for the per-batch arrays of the
 * decoder (record starts, derived times). A typed array of more than 64 bytes made with
 * `new Float64Array(n)` gets a backing store of its own outside the JS heap, which costs
 * microseconds to allocate and to collect: per data set, that was more than the decoding. A view
 * on a slab is an ordinary heap object.
 *
 * Carved memory is never handed out twice, so a batch a consumer keeps stays valid; it keeps its
 * slab alive (at most SLAB_BYTES), as a Buffer from Node's pool keeps its pool alive.
 */

const SLAB_BYTES = 32 * 1024;
/** Requests above this get an ArrayBuffer of their own, so one cannot waste most of a slab. */
const MAX_CARVE = 4 * 1024;

let slab = new ArrayBuffer(SLAB_BYTES);
let used = 0;

/** Offset of `bytes` fresh bytes (8-aligned) in `slab`, replacing the slab when it is full. */
function carve(bytes: number): number {
  if (used + bytes > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    used = 0;
  }
  const at = used;
  used += (bytes + 7) & ~7;
  return at;
}

export function int32s(n: number): Int32Array {
  const bytes = 4 * n;
  if (bytes > MAX_CARVE) return new Int32Array(n);
  const at = carve(bytes);
  return new Int32Array(slab, at, n);
}

export function float64s(n: number): Float64Array {
  const bytes = 8 * n;
  if (bytes > MAX_CARVE) return new Float64Array(n);
  const at = carve(bytes);
  return new Float64Array(slab, at, n);
}
