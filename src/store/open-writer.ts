/**
 * The one way a process opens the flow store for writing. The writer and DuckDB's library (about
 * 10 MiB resident) are loaded here, on first use, so a collector, decoder or service that keeps
 * no store never carries them (test/house/lazy-load.test.ts).
 */
import type { Log } from '../model/contracts.js';
import type { StoreWriter } from './writer.js';

/** Where the flow store is and how it keeps segments (the `store` output, collect --store). */
export interface StoreSpec {
  readonly dir: string;
  readonly flushIntervalMs?: number;
  readonly maxAgeMs?: number;
  readonly maxBytes?: number;
}

export async function openStoreWriter(spec: StoreSpec, log?: Log): Promise<StoreWriter> {
  const { StoreWriter } = await import('./writer.js');
  return StoreWriter.open(spec.dir, { flushIntervalMs: spec.flushIntervalMs, maxAgeMs: spec.maxAgeMs, maxBytes: spec.maxBytes, log });
}
