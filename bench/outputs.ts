/**
 * Records/s through each output transport on one core, from a pre-formatted JSON stream (lines
 * shaped like collect's default IPFIXcol2 JSON, ~330 bytes each, handed over in 256 KiB chunks of
 * whole lines, as the formatter delivers them). Time runs from the first write until close()
 * resolves (files renamed, gzip/lz4/zstd trailer written) or the receiver (same process) has every byte.
 * `benchOutputs` is what `npm run bench` calls.
 *
 *   node --import tsx bench/outputs.ts [--records N]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileOutput } from '../src/outputs/file.js';
import type { Output } from '../src/outputs/output.js';
import { SendOutput } from '../src/outputs/send.js';
import { ServerOutput } from '../src/outputs/server.js';

const CHUNK_BYTES = 256 * 1024;

function buildChunks(n: number): { chunks: Buffer[]; bytes: number } {
  const chunks: Buffer[] = [];
  let cur = '';
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const a = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    cur +=
      `{"@type":"ipfix.entry","iana:octetDeltaCount":${1000 + (i % 9000)},"iana:packetDeltaCount":${1 + (i % 50)},` +
      `"iana:protocolIdentifier":"TCP","iana:tcpControlBits":".AP.S.","iana:sourceTransportPort":${1024 + (i % 60000)},` +
      `"iana:sourceIPv4Address":"${a}","iana:destinationTransportPort":443,"iana:destinationIPv4Address":"192.0.2.${i % 256}",` +
      `"iana:flowStartMilliseconds":"2026-01-01T00:00:00.${String(i % 1000).padStart(3, '0')}Z","iana:flowEndMilliseconds":"2026-01-01T00:00:01.000Z"}\n`;
    if (cur.length >= CHUNK_BYTES || i === n - 1) {
      const b = Buffer.from(cur);
      chunks.push(b);
      bytes += b.length;
      cur = '';
    }
  }
  return { chunks, bytes };
}

export interface Row {
  name: string;
  seconds: number;
  written: number;
  dropped: number;
}

export interface OutputsBench {
  readonly records: number;
  readonly bytes: number;
  readonly rows: Row[];
}

/** Writes every chunk, yielding to the event loop every few chunks so sockets and streams progress. */
async function pump(out: Output, chunks: Buffer[], done: () => Promise<void>): Promise<Row> {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < chunks.length; i++) {
    out.write(chunks[i]!);
    if (i % 4 === 3) await new Promise((r) => setImmediate(r));
  }
  await done();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { name: out.name, seconds, written: out.counters.written, dropped: out.counters.dropped };
}

/** A loopback TCP receiver counting bytes. */
async function receiver(): Promise<{ port: number; bytes: () => number; close: () => Promise<void> }> {
  let n = 0;
  const socks = new Set<net.Socket>();
  const srv = net.createServer((s) => {
    socks.add(s);
    s.on('data', (d) => (n += d.length));
    s.on('close', () => socks.delete(s));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  return {
    port: (srv.address() as net.AddressInfo).port,
    bytes: () => n,
    close: () =>
      new Promise<void>((r) => {
        for (const s of socks) s.destroy();
        srv.close(() => r());
      }),
  };
}

async function waitFor(cond: () => boolean, timeoutMs = 120_000): Promise<void> {
  const t0 = Date.now();
  while (!cond() && Date.now() - t0 < timeoutMs) await new Promise((r) => setTimeout(r, 1));
}

/** Records/s through file (none, gzip, lz4, zstd), tcp-server and send tcp, `records` lines each. */
export async function benchOutputs(records = 1_000_000): Promise<OutputsBench> {
  const { chunks, bytes } = buildChunks(records);
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-bench-outputs-'));
  const rows: Row[] = [];
  try {
    for (const compression of ['none', 'gzip', 'lz4', 'zstd'] as const) {
      const out = new FileOutput(`file compression=${compression}`, { path: path.join(dir, compression), prefix: 'json.', timeWindow: 300, timeAlignment: true, compression, blocking: true });
      rows.push(await pump(out, chunks, () => out.close()));
    }
    {
      const out = new ServerOutput('tcp-server, 1 fast client', { host: '127.0.0.1', port: 0, blocking: true });
      await out.open();
      let got = 0;
      const c = net.connect(out.port, '127.0.0.1');
      c.on('data', (d) => (got += d.length));
      await new Promise<void>((r) => c.once('connect', () => r()));
      await waitFor(() => out.clientCount === 1);
      rows.push(await pump(out, chunks, () => waitFor(() => got >= bytes)));
      c.destroy();
      await out.close();
    }
    {
      const rx = await receiver();
      const out = new SendOutput('send tcp', { protocol: 'tcp', host: '127.0.0.1', port: rx.port, blocking: true });
      await out.open();
      await waitFor(() => out.isConnected);
      rows.push(await pump(out, chunks, () => waitFor(() => rx.bytes() >= bytes)));
      await out.close();
      await rx.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { records, bytes, rows };
}

export function formatOutputsBench({ records, bytes, rows }: OutputsBench): string {
  const mb = bytes / 2 ** 20;
  const lines = [
    `outputs: ${records} records, ${mb.toFixed(0)} MiB of JSON lines (${(bytes / records).toFixed(0)} bytes/record), one thread`,
    `${'output'.padEnd(28)} ${'records/s'.padStart(12)} ${'MiB/s'.padStart(8)} ${'dropped'.padStart(8)}`,
  ];
  for (const r of rows) {
    lines.push(`${r.name.padEnd(28)} ${Math.round(r.written / r.seconds).toLocaleString('en-US').padStart(12)} ${((r.written / records) * mb / r.seconds).toFixed(0).padStart(8)} ${String(r.dropped).padStart(8)}`);
  }
  return lines.join('\n');
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const argN = process.argv.indexOf('--records');
  console.log(formatOutputsBench(await benchOutputs(argN > 0 ? Number(process.argv[argN + 1]) : 1_000_000)));
}
