/**
 * Builds a Delivery pipeline wired to a test PCE, with a temp data directory, a fresh metrics
 * registry and a memory log, and tears it all down after the test.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { Registry } from 'prom-client';
import { Delivery, type DeliveryInternals } from '../../src/outputs/upload/delivery.js';
import type { DeliveryOptions, PceTarget } from '../../src/outputs/upload/delivery.js';
import { MemoryLog } from './flows.js';
import { TEST_PCE_CERT, TestPce } from './test-pce.js';

export const KEY_ID = 'api_1a2b3c4d5e6f';
export const SECRET = 'b0c2d7e9f1a3c5e7b9d1f3a5c7e9b1d3f5a7c9e1b3d5f7a9c1e3b5d7f9a1c3e5';

export function tempDir(t: TestContext, prefix = 'sluice-delivery-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export async function startPce(t: TestContext, opts: { delayMs?: number; failLine?: (l: string) => boolean } = {}): Promise<TestPce> {
  const pce = await TestPce.start({ keyId: KEY_ID, secret: SECRET, orgId: 7, ...opts });
  t.after(() => pce.close());
  return pce;
}

export function pceTarget(pce: TestPce, over: Partial<PceTarget> = {}): PceTarget {
  return { url: pce.url, orgId: 7, keyId: KEY_ID, secret: SECRET, caFile: TEST_PCE_CERT, insecure: false, maxLinesPerPost: 1000, maxInFlight: 20, retryMinutes: 0.005, ...over };
}

export interface Env {
  readonly delivery: Delivery;
  readonly log: MemoryLog;
  readonly metrics: Registry;
  readonly dir: string;
}

/** A Delivery for `pce` (not started). Stopped after the test if the test did not stop it. */
export function makeDelivery(
  t: TestContext,
  o: { dir: string; pce?: PceTarget; over?: Partial<DeliveryOptions>; internals?: DeliveryInternals; log?: MemoryLog },
): Env {
  const log = o.log ?? new MemoryLog();
  const metrics = new Registry();
  const delivery = new Delivery(
    {
      dataDirectory: o.dir,
      aggregationMinutes: 10,
      dataDirectorySizeMb: 100,
      fileRetentionHours: 24,
      pce: o.pce,
      http: [],
      debug: true,
      log,
      metrics,
      ...o.over,
    },
    { stopGraceMs: 3000, requestTimeoutMs: 5000, ...o.internals },
  );
  t.after(() => delivery.stop());
  return { delivery, log, metrics, dir: o.dir };
}

/** The value of a metric (sum over label sets matching `labels`). */
export async function metric(reg: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = reg.getSingleMetric(name);
  if (m === undefined) throw new Error(`no metric ${name}`);
  const v = await m.get();
  let sum = 0;
  for (const x of v.values) {
    const l = x.labels as Record<string, string | number>;
    if (Object.entries(labels).every(([k, val]) => String(l[k]) === val)) sum += x.value;
  }
  return sum;
}
