
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
