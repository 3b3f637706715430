/**
 * A ColumnBlock into a DuckDB data chunk: each column's bytes are copied into the chunk's vector as
 * they are (the block is already in DuckDB's vector layout) and strings are assigned one by one.
 * The copy is unchecked memory access on DuckDB's side, so every block is checked against its
 * layout when it is taken (checkBlock); a block that does not fit is refused whole then, so that
 * filling a chunk from it later cannot fail.
 */
import duckdb from '@duckdb/node-bindings';
import { BLOCK_ROWS, blockLayout, type BlockLayout, type ColumnBlock } from './columns.js';
import { MAX_TIME_MS, MIN_TIME_MS } from './layout.js';
import { KINDS, TABLES, type TableName } from './schema.js';

/** Why a block was refused. */
export class BadBlockError extends Error {}

const TWO32 = 4294967296;

/**
 * Checks a block against its table's layout and repairs what a decoder may legitimately get
 * wrong: a timestamp outside 1970..9999 (an exporter's clock or a uptime wrap) becomes NULL (or,
 * in a column that is never NULL, the nearest end of the range), because DuckDB cannot convert such
 * a value and one of them would make the whole segment unwritable. Returns how many it repaired.
 * Throws BadBlockError for a block that does not match its layout (a bug upstream, not bad input).
 */
export function checkBlock(block: ColumnBlock): { layout: BlockLayout; repaired: number } {
  if (typeof block !== 'object' || block === null || !Object.hasOwn(TABLES, block.table)) throw new BadBlockError('unknown table');
  const { count, capacity, data } = block;
  if (!Number.isInteger(capacity) || capacity < 1 || capacity > BLOCK_ROWS) throw new BadBlockError(`capacity ${String(capacity)} outside 1..${BLOCK_ROWS}`);
  if (!Number.isInteger(count) || count < 0 || count > capacity) throw new BadBlockError(`row count ${String(count)} outside 0..${capacity}`);
  const layout = blockLayout(block.table, capacity);
  if (!(data instanceof ArrayBuffer) || data.byteLength < layout.bytes) throw new BadBlockError(`data of ${data instanceof ArrayBuffer ? data.byteLength : 'no'} bytes, layout needs ${layout.bytes}`);
  const stringColumns = layout.slots.filter((s) => s.stringIndex >= 0).length;
  if (!Array.isArray(block.strings) || block.strings.length !== stringColumns) throw new BadBlockError(`strings for ${Array.isArray(block.strings) ? block.strings.length : 0} columns, layout has ${stringColumns}`);
  for (const slot of layout.slots) {
    if (slot.stringIndex < 0) continue;
    const values: unknown = block.strings[slot.stringIndex];
    if (!Array.isArray(values) || values.length < count) throw new BadBlockError(`string column ${slot.column.name} is shorter than the row count`);
    for (let r = 0; r < count; r++) {
      const v: unknown = values[r];
      if (typeof v === 'string') continue;
      if (v !== null && v !== undefined) throw new BadBlockError(`a ${typeof v} at row ${r} of string column ${slot.column.name}`);
      if (!slot.column.nullable) throw new BadBlockError(`NULL at row ${r} of ${slot.column.name}, which is never NULL`);
    }
  }

  let repaired = 0;
  const bytes = new Uint8Array(data);
  for (const slot of layout.slots) {
    if (slot.column.type === 'KIND') {
      for (let r = 0; r < count; r++) if (bytes[slot.offset + r]! >= KINDS.length) throw new BadBlockError(`kind index ${bytes[slot.offset + r]} at row ${r}`);
    } else if (slot.column.type === 'TIMESTAMP_MS') {
      const words = new Int32Array(data, slot.offset, 2 * count);
      for (let r = 0; r < count; r++) {
        const v = words[2 * r + 1]! * TWO32 + (words[2 * r]! >>> 0);
        if (v >= MIN_TIME_MS && v <= MAX_TIME_MS) continue;
        repaired++;
        const keep = slot.validity < 0 ? (v < MIN_TIME_MS ? MIN_TIME_MS : MAX_TIME_MS) : 0;
        words[2 * r] = keep % TWO32 | 0;
        words[2 * r + 1] = Math.floor(keep / TWO32);
        if (slot.validity >= 0) bytes[slot.validity + (r >> 3)]! &= ~(1 << (r & 7));
      }
    }
  }
  return { layout, repaired };
}

/**
 * Fills DuckDB data chunk `chunk` (whose columns are the block's table's, in order, with room for
 * BLOCK_ROWS rows) with a block checked by checkBlock. Every validity mask is written, so a chunk
 * DuckDB hands over reused needs no reset.
 */
export function fillChunk(chunk: duckdb.DataChunk, block: ColumnBlock, layout: BlockLayout): void {
  const { count, data } = block;
  const validityBytes = Math.ceil(count / 64) * 8;
  for (let i = 0; i < layout.slots.length; i++) {
    const slot = layout.slots[i]!;
    const vector = duckdb.data_chunk_get_vector(chunk, i);
    if (slot.stringIndex >= 0) {
      fillStrings(vector, block.strings[slot.stringIndex]!, count, slot.column.nullable, validityBytes);
      continue;
    }
    duckdb.copy_data_to_vector(vector, 0, data, slot.offset, count * slot.width);
    if (slot.validity >= 0) {
      duckdb.vector_ensure_validity_writable(vector);
      duckdb.copy_data_to_vector_validity(vector, 0, data, slot.validity, validityBytes);
    }
  }
}

const stringBits = new Uint8Array(BLOCK_ROWS / 8);

function fillStrings(vector: duckdb.Vector, values: ReadonlyArray<string | null>, count: number, nullable: boolean, validityBytes: number): void {
  const bits = stringBits;
  bits.fill(0, 0, validityBytes);
  for (let r = 0; r < count; r++) {
    const v = values[r];
    if (v === null || v === undefined) continue; // checkBlock let a NULL through only where the column takes one
    bits[r >> 3]! |= 1 << (r & 7);
    duckdb.vector_assign_string_element(vector, r, v); // takes NUL characters and lone surrogates (as U+FFFD)
  }
  if (nullable) {
    duckdb.vector_ensure_validity_writable(vector);
    duckdb.copy_data_to_vector_validity(vector, 0, bits.buffer, 0, validityBytes);
  }
}
