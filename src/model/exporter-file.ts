import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExporterRow } from './exporter-rows.js';
import { writeFileDurable } from '../util/durable.js';

/** The exporters view collect leaves in its state directory, for `sluice serve` (docs/api.md). */
export const EXPORTERS_FILE = 'exporters.json';

export async function writeExporterRows(dir: string, rows: readonly ExporterRow[]): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFileDurable(join(dir, EXPORTERS_FILE), dir, JSON.stringify({ version: 1, writtenMs: Date.now(), exporters: rows }));
}

/** The rows collect last wrote to `dir`, and when; undefined when there are none (or the file is unusable). */
export async function readExporterRows(dir: string): Promise<{ writtenMs: number; exporters: ExporterRow[] } | undefined> {
  try {
    const v = JSON.parse(await readFile(join(dir, EXPORTERS_FILE), 'utf8')) as { version?: number; writtenMs?: number; exporters?: ExporterRow[] };
    if (v.version !== 1 || !Array.isArray(v.exporters) || typeof v.writtenMs !== 'number') return undefined;
    return { writtenMs: v.writtenMs, exporters: v.exporters };
  } catch {
    return undefined;
  }
}
