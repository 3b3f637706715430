/**
 * Rows of a store table in transferable, columnar form: what decode workers post to the store
 * writer. A block's buffer already holds each column in DuckDB's in-memory vector layout
 * (little-endian), so the writer appends it to a data chunk by plain copy, with no per-value work.
 *
 * Layout of `data` for a block of `capacity` rows, column after column in schema order:
 *   values:   capacity * width bytes (see typeWidth); VARCHAR columns have none (their values are in
 *             `strings`);
 *   validity: for nullable columns, capacity / 8 bytes rounded up to whole 64-bit words; bit i
 *             (byte i >> 3, bit i & 7) set = row i has a value. New blocks start all-NULL.
 * UUID (addresses): DuckDB's hugeint with the top bit flipped, i.e. the 16 address bytes reversed
 * with the last byte xor 0x80. TIMESTAMP_MS: int64 milliseconds. KIND: the enum index (one byte).
 */
import { KINDS, TABLES, type ColumnDef, type ColumnType, type Kind, type TableName } from './schema.js';

/** Rows per block: DuckDB's vector size, so one block is one data chunk. */
export const BLOCK_ROWS = 2048;

export function typeWidth(t: ColumnType): number {
  switch (t) {
    case 'UTINYINT':
    case 'KIND':
      return 1;
    case 'USMALLINT':
      return 2;
    case 'UINTEGER':
      return 4;
    case 'UBIGINT':
    case 'TIMESTAMP_MS':
      return 8;
    case 'UUID':
      return 16;
    case 'VARCHAR':
      return 0;
  }
}

export interface ColumnSlot {
  readonly column: ColumnDef;
  /** Byte offset of the values in `data` (VARCHAR: -1). */
  readonly offset: number;
  readonly width: number;
  /** Byte offset of the validity bitmap, -1 for columns that are never NULL. */
  readonly validity: number;
  /** Index into ColumnBlock.strings for VARCHAR columns, else -1. */
  readonly stringIndex: number;
}

export interface BlockLayout {
  readonly table: TableName;
  readonly capacity: number;
  readonly slots: readonly ColumnSlot[];
  readonly bytes: number;
  /** Column name -> index into slots. */
  readonly index: ReadonlyMap<string, number>;
}

const layouts = new Map<string, BlockLayout>();

/** The layout of a table's blocks of `capacity` rows (cached). */
export function blockLayout(table: TableName, capacity = BLOCK_ROWS): BlockLayout {
  const key = `${table}/${capacity}`;
  let l = layouts.get(key);
  if (l !== undefined) return l;
  const slots: ColumnSlot[] = [];
  const index = new Map<string, number>();
  let at = 0;
  let strings = 0;
  const validityBytes = Math.ceil(capacity / 64) * 8;
  for (const column of TABLES[table]) {
    const width = typeWidth(column.type);
    index.set(column.name, slots.length);
    if (column.type === 'VARCHAR') {
      slots.push({ column, offset: -1, width: 0, validity: -1, stringIndex: strings++ });
      continue;
    }
    at = (at + 7) & ~7; // 8-aligned, so typed-array views can be made on any column
    const offset = at;
    at += capacity * width;
    let validity = -1;
    if (column.nullable) {
      at = (at + 7) & ~7;
      validity = at;
      at += validityBytes;
    }
    slots.push({ column, offset, width, validity, stringIndex: -1 });
  }
  l = { table, capacity, slots, bytes: (at + 7) & ~7, index };
  layouts.set(key, l);
  return l;
}

/** A block of rows, as posted between threads (data is transferred, not copied). */
export interface ColumnBlock {
  readonly table: TableName;
  readonly count: number;
  readonly capacity: number;
  readonly data: ArrayBuffer;
  /** One array per VARCHAR column, in schema order, of `count` values (null: NULL). */
  readonly strings: ReadonlyArray<ReadonlyArray<string | null>>;
}

const KIND_INDEX = new Map<Kind, number>(KINDS.map((k, i) => [k, i]));

/** The enum index a kind is stored as. */
export function kindIndex(k: Kind): number {
  return KIND_INDEX.get(k)!;
}

/** Typed views of one block's bytes (see BlockBuilder.views). */
export interface BlockViews {
  readonly u8: Uint8Array;
  readonly u16: Uint16Array;
  readonly u32: Uint32Array;
}

/**
 * The stored form of the IPv4 address at buf[q] into the four u32 words from index w: ::ffff:a.b.c.d
 * as a UUID, i.e. the 16 bytes reversed with the top bit flipped: d c b a ff ff 0 ... 0 80.
 */
export function storeAddress4(u32: Uint32Array, w: number, buf: Uint8Array, q: number): void {
  u32[w] = ((buf[q]! << 24) | (buf[q + 1]! << 16) | (buf[q + 2]! << 8) | buf[q + 3]!) >>> 0;
  u32[w + 1] = 0xffff;
  u32[w + 2] = 0;
  u32[w + 3] = 0x80000000;
}

/** The stored form of the IPv6 address at buf[q] into the 16 bytes from u8[at]: reversed, the top bit flipped. */
export function storeAddress16(u8: Uint8Array, at: number, buf: Uint8Array, q: number): void {
  for (let i = 0; i < 16; i++) u8[at + i] = buf[q + 15 - i]!;
  u8[at + 15]! ^= 0x80;
}

function viewsOf(data: ArrayBuffer): BlockViews {
  return { u8: new Uint8Array(data), u16: new Uint16Array(data, 0, data.byteLength >> 1), u32: new Uint32Array(data, 0, data.byteLength >> 2) };
}

// Blocks are written in the host's order for DuckDB's vectors, and read as little-endian by the
// checks and tests; sluice runs on little-endian hosts only (x86-64, arm64).
if (new Uint8Array(Uint16Array.of(1).buffer)[0] !== 1) throw new Error("sluice's store needs a little-endian host");

/**
 * Fills one block row by row. Setters take the column's slot index (from layout.index, looked
 * up once per compiled plan, never per row) and the row. A row's columns that are not set stay NULL.
 */
export class BlockBuilder {
  readonly layout: BlockLayout;
  #data: ArrayBuffer;
  #bytes: Uint8Array;
  #view: DataView;
  #views: BlockViews;
  #strings: (string | null)[][];
  count = 0;

  constructor(table: TableName, capacity = BLOCK_ROWS) {
    this.layout = blockLayout(table, capacity);
    this.#data = new ArrayBuffer(this.layout.bytes);
    this.#bytes = new Uint8Array(this.#data);
    this.#view = new DataView(this.#data);
    this.#views = viewsOf(this.#data);
    this.#strings = this.#newStrings();
  }

  #newStrings(): (string | null)[][] {
    return this.layout.slots.filter((s) => s.stringIndex >= 0).map(() => []);
  }

  get full(): boolean {
    return this.count >= this.layout.capacity;
  }

  /** Starts the next row and returns its index (call only when not full). */
  addRow(): number {
    const row = this.count++;
    for (const s of this.#strings) s.push(null);
    return row;
  }

  /** Rows still free in this block. */
  get room(): number {
    return this.layout.capacity - this.count;
  }

  /** Starts the next `n` rows (n <= room) and returns the first one's index. */
  addRows(n: number): number {
    const row = this.count;
    this.count += n;
    for (const s of this.#strings) for (let i = 0; i < n; i++) s.push(null);
    return row;
  }

  /**
   * Views of the whole block for column-at-a-time writers (store/encode.ts): a column's values
   * start at slot.offset bytes, i.e. index offset >> 1 in u16, >> 2 in u32 (offsets are 8-aligned).
   * Host byte order, which is DuckDB's vector layout too. New views after take().
   */
  get views(): BlockViews {
    return this.#views;
  }

  /** Marks rows [from, from + n) of column `col` as having a value. */
  validRange(col: number, from: number, n: number): void {
    const v = this.layout.slots[col]!.validity;
    if (v < 0) return;
    const b = this.#bytes;
    const end = from + n;
    let r = from;
    for (; r < end && (r & 7) !== 0; r++) b[v + (r >> 3)]! |= 1 << (r & 7);
    // Whole bytes at once.
    const whole = (end - r) >> 3;
    if (whole > 0) {
      b.fill(0xff, v + (r >> 3), v + (r >> 3) + whole);
      r += whole << 3;
    }
    for (; r < end; r++) b[v + (r >> 3)]! |= 1 << (r & 7);
  }

  /** Marks row `row` of column `col` as having a value. */
  valid(col: number, row: number): void {
    this.#valid(this.layout.slots[col]!, row);
  }

  #valid(slot: ColumnSlot, row: number): void {
    if (slot.validity >= 0) this.#bytes[slot.validity + (row >> 3)]! |= 1 << (row & 7);
  }

  u8(col: number, row: number, v: number): void {
    const s = this.layout.slots[col]!;
    this.#bytes[s.offset + row] = v;
    this.#valid(s, row);
  }

  u16(col: number, row: number, v: number): void {
    const s = this.layout.slots[col]!;
    this.#view.setUint16(s.offset + 2 * row, v, true);
    this.#valid(s, row);
  }

  u32(col: number, row: number, v: number): void {
    const s = this.layout.slots[col]!;
    this.#view.setUint32(s.offset + 4 * row, v, true);
    this.#valid(s, row);
  }

  /** An unsigned 64-bit value given as a number (exact below 2^53). */
  u64(col: number, row: number, v: number): void {
    const s = this.layout.slots[col]!;
    const at = s.offset + 8 * row;
    this.#view.setUint32(at, v >>> 0, true);
    this.#view.setUint32(at + 4, Math.floor(v / 4294967296) >>> 0, true);
    this.#valid(s, row);
  }

  /** An unsigned 64-bit value as the 8 big-endian bytes at buf[off] (counters of any size up to 2^64). */
  u64Bytes(col: number, row: number, buf: Uint8Array, off: number, len: number): void {
    const s = this.layout.slots[col]!;
    const at = s.offset + 8 * row;
    // Big-endian wire bytes of `len` <= 8 bytes to little-endian 8 bytes.
    for (let i = 0; i < len; i++) this.#bytes[at + i] = buf[off + len - 1 - i]!;
    for (let i = len; i < 8; i++) this.#bytes[at + i] = 0;
    this.#valid(s, row);
  }

  /** Milliseconds since the epoch (an integer; fractions are truncated). */
  timestamp(col: number, row: number, ms: number): void {
    const s = this.layout.slots[col]!;
    const at = s.offset + 8 * row;
    const v = Math.trunc(ms);
    const hi = Math.floor(v / 4294967296);
    this.#view.setUint32(at, v - hi * 4294967296, true);
    this.#view.setInt32(at + 4, hi, true);
    this.#valid(s, row);
  }

  /** An address: 4 bytes (stored IPv4-mapped) or 16 bytes at buf[off]. */
  address(col: number, row: number, buf: Uint8Array, off: number, len: 4 | 16): void {
    const s = this.layout.slots[col]!;
    const at = s.offset + 16 * row;
    if (len === 4) storeAddress4(this.#views.u32, at >> 2, buf, off);
    else storeAddress16(this.#bytes, at, buf, off);
    this.#valid(s, row);
  }

  kind(col: number, row: number, k: Kind): void {
    this.u8(col, row, KIND_INDEX.get(k)!);
  }

  string(col: number, row: number, v: string): void {
    const s = this.layout.slots[col]!;
    this.#strings[s.stringIndex]![row] = v;
  }

  /** The filled rows as a block; the builder starts a fresh buffer. */
  take(): ColumnBlock {
    const block: ColumnBlock = { table: this.layout.table, count: this.count, capacity: this.layout.capacity, data: this.#data, strings: this.#strings };
    this.#data = new ArrayBuffer(this.layout.bytes);
    this.#bytes = new Uint8Array(this.#data);
    this.#view = new DataView(this.#data);
    this.#views = viewsOf(this.#data);
    this.#strings = this.#newStrings();
    this.count = 0;
    return block;
  }
}

/** Address bytes (4 or 16) -> the 16 stored bytes in network order (IPv4 mapped). For tests and readers. */
export function storedAddress(buf: Uint8Array, off: number, len: 4 | 16): Uint8Array {
  const out = new Uint8Array(16);
  if (len === 4) {
    out[10] = 0xff;
    out[11] = 0xff;
    out.set(buf.subarray(off, off + 4), 12);
  } else out.set(buf.subarray(off, off + 16), 0);
  return out;
}

/** The DuckDB UUID text of 16 stored address bytes: how SQL parameters name an address. */
export function addressUuid(b16: Uint8Array): string {
  const h = Buffer.from(b16.buffer, b16.byteOffset, 16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * One row of a block as plain values (addresses as 16 network-order bytes, UBIGINT/TIMESTAMP as
 * numbers, KIND as its name, NULL as null). For tests and debugging, not for bulk reading.
 */
export function readRow(block: ColumnBlock, row: number): Record<string, unknown> {
  const layout = blockLayout(block.table, block.capacity);
  const bytes = new Uint8Array(block.data);
  const view = new DataView(block.data);
  const out: Record<string, unknown> = {};
  for (const s of layout.slots) {
    const name = s.column.name;
    if (s.stringIndex >= 0) {
      out[name] = block.strings[s.stringIndex]![row] ?? null;
      continue;
    }
    if (s.validity >= 0 && (bytes[s.validity + (row >> 3)]! & (1 << (row & 7))) === 0) {
      out[name] = null;
      continue;
    }
    const at = s.offset + row * s.width;
    switch (s.column.type) {
      case 'UTINYINT':
        out[name] = bytes[at];
        break;
      case 'KIND':
        out[name] = KINDS[bytes[at]!];
        break;
      case 'USMALLINT':
        out[name] = view.getUint16(at, true);
        break;
      case 'UINTEGER':
        out[name] = view.getUint32(at, true);
        break;
      case 'UBIGINT':
        out[name] = view.getUint32(at + 4, true) * 4294967296 + view.getUint32(at, true);
        break;
      case 'TIMESTAMP_MS':
        out[name] = view.getInt32(at + 4, true) * 4294967296 + view.getUint32(at, true);
        break;
      case 'UUID': {
        const a = new Uint8Array(16);
        for (let i = 0; i < 16; i++) a[i] = bytes[at + 15 - i]!;
        a[0]! ^= 0x80;
        out[name] = a;
        break;
      }
      case 'VARCHAR':
        break;
    }
  }
  return out;
}
