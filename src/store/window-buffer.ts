/**
 * The open window of one store table, in memory: checked blocks as the decode workers made them
 * (already in DuckDB's vector layout), in generations. Appends go to the current generation; a
 * flush seals it (a fresh one takes the appends at once) and writes the sealed one out through
 * the window scan (window-scan.ts), which hands its blocks to DuckDB chunk by chunk: no copy into a
 * DuckDB table first. A sealed generation that could not be written (disk full) stays until a
 * later flush writes it; meanwhile the current one keeps growing, so there are never more than two.
 */
import type { BlockLayout, ColumnBlock } from './columns.js';
import type { TableName } from './schema.js';

/** A block and its layout, checked (block-chunk.ts checkBlock) when it was taken. */
export interface CheckedBlock {
  readonly block: ColumnBlock;
  readonly layout: BlockLayout;
}

/** Rows waiting to be written, as they arrived. */
export interface Generation {
  /** Names it to the window scan: `sluice_window(id)`. */
  readonly id: number;
  readonly table: TableName;
  readonly blocks: CheckedBlock[];
  /** Rows not yet on disk (a partial write takes the written partitions' rows off). */
  rows: number;
  /** Partitions (hours) of this generation already on disk: a retry skips them. */
  readonly writtenHours: number[];
}

let generationCount = 0;

function newGeneration(table: TableName): Generation {
  return { id: ++generationCount, table, blocks: [], rows: 0, writtenHours: [] };
}

export class WindowBuffer {
  readonly table: TableName;
  /** Receives appends. */
  current: Generation;
  /** Sealed, not yet written out. */
  sealed: Generation | undefined;

  constructor(table: TableName) {
    this.table = table;
    this.current = newGeneration(table);
  }

  get rows(): number {
    return this.current.rows + (this.sealed?.rows ?? 0);
  }

  /** Appends a block checked by checkBlock (the window keeps it; the caller lets go of it). */
  append(block: ColumnBlock, layout: BlockLayout): void {
    if (block.count === 0) return; // the scan reads an empty chunk as its end
    this.current.blocks.push({ block, layout });
    this.current.rows += block.count;
  }

  /**
   * Seals the current generation when nothing sealed is waiting and it holds rows; returns the
   * sealed generation (the older one if a write failed before), or undefined when there is nothing.
   */
  seal(): Generation | undefined {
    if (this.sealed !== undefined || this.current.rows === 0) return this.sealed;
    this.sealed = this.current;
    this.current = newGeneration(this.table);
    return this.sealed;
  }

  /** Forgets the sealed generation (written out). */
  release(): void {
    this.sealed = undefined;
  }
}
