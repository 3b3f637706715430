/**
 * The generic `http` output: the same aggregation, batching and spool as the PCE output, POSTing
 * gzip NDJSON or CSV with configured headers to any collector (here: an HTTP server on loopback).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { gunzipSync } from 'node:zlib';
import type { HttpTarget } from '../src/outputs/upload/delivery.js';
import { Decoded, distinctFlows, feedFlows, pceLineOf, T4 } from './helpers/flows.js';
import { makeDelivery, metric, pceTarget, startPce, tempDir } from './helpers/delivery-env.js';

interface Got {
  readonly headers: http.IncomingHttpHeaders;
  readonly raw: Buffer;
  readonly text: string;
}

async function collector(t: TestContext): Promise<{ url: string; got: Got[]; status: { code: number } }> {
  const got: Got[] = [];
  const status = { code: 200 };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      if (status.code >= 200 && status.code < 300) {
        const text = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw).toString() : raw.toString();
        got.push({ headers: req.headers, raw, text });
      }
      res.writeHead(status.code).end('{}');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/ingest/flows`, got, status };
}

function target(url: string, over: Partial<HttpTarget> = {}): HttpTarget {
  return { name: 'lake', url, headers: { Authorization: 'Bearer t0ken', 'X-Source': 'sluice-test' }, format: 'ndjson', gzip: true, insecure: false, maxLinesPerPost: 1000, maxInFlight: 4, retryMinutes: 0.004, ...over };
}

test('gzip NDJSON with the configured headers, one object per aggregated flow with every field', async (t) => {
  const c = await collector(t);
  const { delivery } = makeDelivery(t, { dir: tempDir(t), over: { http: [target(c.url)] } });
  await delivery.start();
  const now = Date.now();
  const dec = new Decoded();
  for (const b of dec.ipfix(T4, [
    { src: '10.0.0.1', dst: '10.0.0.2', dport: 443, packets: 3, bytes: 300, start: now - 5000, end: now - 4000 },
    { src: '10.0.0.1', dst: '10.0.0.2', dport: 443, packets: 2, bytes: 200, start: now - 3000, end: now - 1000 },
  ], now)) delivery.push(b);
  await delivery.stop();
  assert.equal(c.got.length, 1);
  const g = c.got[0]!;
  assert.equal(g.headers['content-encoding'], 'gzip');
  assert.equal(g.headers['content-type'], 'application/x-ndjson');
  assert.equal(g.headers['authorization'], 'Bearer t0ken');
  assert.equal(g.headers['x-source'], 'sluice-test');
  assert.equal(g.raw[0], 0x1f, 'the body is gzip');
  const lines = g.text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(lines.length, 1);
  const o = lines[0]!;
  assert.deepEqual(
    { src: o['src_ip'], dst: o['dst_ip'], port: o['dst_port'], proto: o['proto'], flows: o['flows'], packets: o['packets'], bytes: o['bytes'], first: o['first_seen'], last: o['last_seen'] },
    { src: '10.0.0.1', dst: '10.0.0.2', port: 443, proto: 6, flows: 2, packets: 5, bytes: 500, first: new Date(now - 5000).toISOString(), last: new Date(now - 1000).toISOString() },
  );
  assert.equal(typeof o['window_start'], 'string');
});

test('CSV without compression has a header line naming the fields', async (t) => {
  const c = await collector(t);
  const { delivery } = makeDelivery(t, { dir: tempDir(t), over: { http: [target(c.url, { format: 'csv', gzip: false, maxLinesPerPost: 2 })] } });
  await delivery.start();
  feedFlows(new Decoded(), delivery, distinctFlows(3), Date.now());
  await delivery.stop();
  assert.equal(c.got.length, 2);
  for (const g of c.got) {
    assert.equal(g.headers['content-encoding'], undefined);
    assert.equal(g.headers['content-type'], 'text/csv');
    assert.equal(g.text.split('\n')[0], 'src_ip,dst_ip,dst_port,proto,icmp_type,icmp_code,flows,packets,bytes,first_seen,last_seen,window_start,window_end');
  }
  assert.equal(c.got.reduce((a, g) => a + g.text.trim().split('\n').length - 1, 0), 3);
});

test('PCE and HTTP outputs together: both get every flow; an HTTP outage is spooled apart and recovers', async (t) => {
  const c = await collector(t);
  const pce = await startPce(t);
  const { delivery, metrics } = makeDelivery(t, { dir: tempDir(t), pce: pceTarget(pce, { maxLinesPerPost: 100 }), over: { http: [target(c.url, { maxLinesPerPost: 100 })] } });
  await delivery.start();
  c.status.code = 503;
  const flows = distinctFlows(250);
  feedFlows(new Decoded(), delivery, flows, Date.now());
  await delivery.flushNow('window_end');
  await pce.waitFor(() => pce.accepted.length === 3);
  await delivery.whenIdle();
  assert.equal(await metric(metrics, 'sluice_spool_batches', { target: 'http-lake' }), 3);
  assert.equal(await metric(metrics, 'sluice_spool_batches', { target: 'pce' }), 0);
  c.status.code = 202;
  for (let i = 0; i < 100 && c.got.length < 3; i++) await new Promise((r) => setTimeout(r, 50));
  await delivery.stop();
  assert.deepEqual(pce.acceptedLines().sort(), flows.map(pceLineOf).sort());
  const srcs = c.got.flatMap((g) => g.text.trim().split('\n').map((l) => (JSON.parse(l) as { src_ip: string }).src_ip));
  assert.deepEqual(srcs.sort(), flows.map((f) => f.src).sort());
  assert.ok((await metric(metrics, 'sluice_upload_posts_total', { target: 'http-lake', status: '503' })) >= 1);
});
