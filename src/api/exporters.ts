/**
 * Where the exporters view comes from: the collect engine itself (`collect --http`), or the file
 * collect leaves in its state directory every 5 s (`sluice serve`, another process), in which
 * case the page says so and how old the file is.
 */
import { readExporterRows } from '../model/exporter-file.js';
import type { ExporterRow } from '../model/exporter-rows.js';

export interface ExportersView {
  /** `collect`: this process's live account; `file`: DIR/state/exporters.json; `none`: neither (no collect has written the file yet). */
  readonly source: 'collect' | 'file' | 'none';
  /** When the rows were taken (ms since the epoch); null for `none`. */
  readonly takenMs: number | null;
  readonly exporters: readonly ExporterRow[];
}

export type ExportersProvider = () => Promise<ExportersView>;

/** The rows of a running collect engine (`engine.exporters.rows()`). */
export function liveExporters(rows: () => readonly ExporterRow[], now: () => number = Date.now): ExportersProvider {
  return async () => ({ source: 'collect', takenMs: now(), exporters: rows() });
}

/** The rows collect last wrote to `stateDir` (its --state, by default STORE/state). */
export function fileExporters(stateDir: string): ExportersProvider {
  return async () => {
    const f = await readExporterRows(stateDir);
    return f === undefined ? { source: 'none', takenMs: null, exporters: [] } : { source: 'file', takenMs: f.writtenMs, exporters: f.exporters };
  };
}
