import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createDeliveryPipeline } from '../src/pipeline/delivery.js';
import { Registry } from 'prom-client';
import { Decoded, MemoryLog, T4, T6, T4ICMP } from './helpers/flows.js';
import { KEY_ID, SECRET, makeDelivery, metric, pceTarget, startPce, tempDir } from './helpers/delivery-env.js';

test('stop flushes the window: the PCE gets the right CSV lines with Basic auth and text/csv', async (t) => {
  const pce = await startPce(t);
  const { delivery, metrics, log } = makeDelivery(t, { dir: tempDir(t), pce: pceTarget(pce) });
  await delivery.start();
  const dec = new Decoded();
  const now = Date.now();
  const batches = [
    ...dec.ipfix(T4, [
      { src: '10.0.0.1', dst: '10.0.0.2', dport: 443, proto: 6, packets: 3, bytes: 300 },
      { src: '10.0.0.1', dst: '10.0.0.2', dport: 443, proto: 6, packets: 2, bytes: 200 },
      { src: '10.0.0.3', dst: '10.0.0.4', dport: 53, proto: 17 },
      { src: '10.0.0.5', dst: '239.255.255.250', dport: 1900, proto: 17 },
    ], now),
    ...dec.ipfix(T6, [{ src: '2001:db8::1', dst: '2001:db8::2', dport: 22, proto: 6 }], now),
    ...dec.ipfix(T4ICMP, [{ src: '10.0.0.1', dst: '10.0.0.9', icmp: 0x0800 }, { src: '10.0.0.1', dst: '10.0.0.9', icmp: 0x0000 }], now),
  ];
  for (const b of batches) delivery.push(b);
  await delivery.stop();
  assert.equal(pce.accepted.length, 1);
  const r = pce.accepted[0]!;
  assert.equal(r.method, 'POST');
  assert.equal(r.path, '/api/v2/orgs/7/agents/bulk_traffic_flows');
  assert.equal(r.user, KEY_ID);
  assert.equal(r.password, SECRET);
  assert.equal(r.contentType, 'text/csv');
  assert.deepEqual([...r.lines].sort(), ['10.0.0.1,10.0.0.2,443,6', '10.0.0.1,10.0.0.9,0,1', '10.0.0.3,10.0.0.4,53,17', '2001:db8::1,2001:db8::2,22,6']);
  assert.equal(await metric(metrics, 'sluice_delivery_flows_dropped_total', { reason: 'class_d' }), 1);
  assert.equal(await metric(metrics, 'sluice_upload_posts_total', { status: '201' }), 1);
  assert.equal(await metric(metrics, 'sluice_pce_flows_accepted_total'), 4);
  assert.ok(log.has('POST', 'debug'));
  assert.ok(!JSON.stringify(log.lines).includes(SECRET), 'the secret is never logged');
});

test('createDeliveryPipeline is the seam factory', async (t) => {
  const pce = await startPce(t);
  const p = createDeliveryPipeline({ dataDirectory: tempDir(t), aggregationMinutes: 5, dataDirectorySizeMb: 100, fileRetentionHours: 4, pce: pceTarget(pce), http: [], debug: false, log: new MemoryLog(), metrics: new Registry() });
  await p.start();
  for (const b of new Decoded().ipfix(T4, [{ src: '192.0.2.1', dst: '198.51.100.1', dport: 8080 }], Date.now())) p.push(b);
  await p.stop();
  assert.deepEqual(pce.acceptedLines(), ['192.0.2.1,198.51.100.1,8080,6']);
});
