/**
 * API test stores and servers: a store imported from known captures by `sluice decode --store`
 * (the same path an operator takes), and the API over it in this process on a loopback port.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { fileExporters } from '../../src/api/exporters.js';
import { directoryHealth } from '../../src/api/health.js';
import { mountPage } from '../../src/api/page.js';
import { HttpServer } from '../../src/api/server.js';
import { ApiV1, type ApiOptions } from '../../src/api/v1.js';
import { QueryEngine } from '../../src/query/engine.js';
import { storeSegments } from '../../src/query/segments.js';
import { ROOT, runSluice } from '../helpers/cli.js';

/** The captures of the test store: NetFlow v5 (ipt_NETFLOW, 60 flows), v9 (EdgeRouter, 10) and IPFIX (29). */
export const CAPTURES = ['flowbeat-ipt_netflow_v5.pcap', 'flowbeat-netflow9_ubiquiti_edgerouter.pcap', 'telegraf-ipfix_example.pcap'].map((f) => join(ROOT, 'test/fixtures/pcap', f));
/** What the v5 capture's flows span (by end time): 2018-11-08 19:46 to 20:16 UTC. */
export const V5_WINDOW = '2018-11-08T19:40:00Z/2018-11-08T20:20:00Z';
export const V5_FROM_MS = Date.parse('2018-11-08T19:40:00Z');
export const V5_TO_MS = Date.parse('2018-11-08T20:20:00Z');

/** A temporary directory removed after the test. */
export function tempDir(t: TestContext, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Imports the captures into a new store under `dir` (sluice decode --store); returns the store directory. */
export async function captureStore(dir: string, captures: readonly string[] = CAPTURES): Promise<string> {
  const store = join(dir, 'store');
  const r = await runSluice(['decode', '--store', store, ...captures]);
  if (r.code !== 0) throw new Error(`sluice decode --store failed (${r.code}): ${r.stderr}`);
  return store;
}

export interface TestApi {
  readonly url: string;
  readonly engine: QueryEngine;
  readonly server: HttpServer;
  stop(): Promise<void>;
}

/** The API (and page) over `store` on 127.0.0.1; the caller stops it. */
export async function startApi(store: string, o: Partial<ApiOptions> = {}): Promise<TestApi> {
  const engine = await QueryEngine.open({ segments: storeSegments(store) });
  const server = new HttpServer({ host: '127.0.0.1', port: 0, ratePerSecond: 10_000 });
  new ApiV1({ engine, exporters: fileExporters(join(store, 'state')), health: directoryHealth(store, engine), ...o }).mount(server);
  mountPage(server);
  await server.listen();
  return {
    url: server.url,
    engine,
    server,
    async stop() {
      await server.stop();
      engine.close();
    },
  };
}

/** startApi, stopped after the test. */
export async function startTestApi(t: TestContext, store: string, o: Partial<ApiOptions> = {}): Promise<TestApi> {
  const api = await startApi(store, o);
  t.after(() => api.stop());
  return api;
}

/** GET a URL: its status, JSON body and headers. */
export async function getJson(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(url, { headers });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

/** `sluice query --store STORE ARGS` as JSON (one document, or JSON lines when `lines`). */
export async function cliJson(store: string, args: readonly string[]): Promise<unknown> {
  const r = await runSluice(['query', '--store', store, '--format', 'json', ...args]);
  if (r.code !== 0) throw new Error(`sluice query ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** RFC 4180 lines (fields quoted when they hold a comma, quote or newline) as rows of cells. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += c;
  }
  if (cell !== '' || row.length > 0) rows.push([...row, cell]);
  return rows;
}

/** `sluice query --store STORE --format csv ARGS` as rows of cells by header name. */
export async function cliCsv(store: string, args: readonly string[]): Promise<Record<string, string>[]> {
  const r = await runSluice(['query', '--store', store, '--format', 'csv', ...args]);
  if (r.code !== 0) throw new Error(`sluice query ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  const [names = [], ...rows] = parseCsv(r.stdout);
  return rows.map((cells) => Object.fromEntries(cells.map((v, i) => [names[i]!, v])));
}
