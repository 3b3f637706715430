import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExporterRow } from '../model/exporter-rows.js';
import { writeFileDurable } from '../util/durable.js';

/** The exporters view collect leaves in its state directory, for `sluice serve` (docs/api.md). */
export const EXPORTERS_FILE = 'exporters.json';

export async function writeExporterRows(dir: string, rows: readonly ExporterRow[]): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFileDurable(join(dir, EXPORTERS_FILE), dir, JSON.stringify({ version: 1, writtenMs: Date.now(), exporters: rows }));
}
