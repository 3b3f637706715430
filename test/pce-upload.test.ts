/**
 * The PCE output against the HTTPS test PCE on loopback: CSV lines, auth, batching, concurrency,
 * outages (refused, 429, 5xx, hung) with the spool, 4xx kept for inspection, PCE replies, TLS.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { Registry } from 'prom-client';
import { createDeliveryPipeline } from '../src/outputs/upload/delivery.js';
import { Decoded, MemoryLog, T4, T6, T4ICMP, distinctFlows, feedFlows, pceLineOf } from './helpers/flows.js';
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
  assert.equal(r.contentEncoding, undefined);
  // no header line; ICMP echo request and reply share one line (the CSV has no ICMP columns)
  assert.deepEqual([...r.lines].sort(), ['10.0.0.1,10.0.0.2,443,6', '10.0.0.1,10.0.0.9,0,1', '10.0.0.3,10.0.0.4,53,17', '2001:db8::1,2001:db8::2,22,6']);
  assert.equal(await metric(metrics, 'sluice_delivery_flows_in_total'), 7);
  assert.equal(await metric(metrics, 'sluice_delivery_flows_dropped_total', { reason: 'class_d' }), 1);
  assert.equal(await metric(metrics, 'sluice_upload_posts_total', { status: '201' }), 1);
  assert.equal(await metric(metrics, 'sluice_pce_flows_accepted_total'), 4);
  assert.equal(await metric(metrics, 'sluice_spool_batches'), 0);
  assert.deepEqual(readdirSync(join(delivery.spool.spoolDir, 'pce')), [], 'delivered batches leave the spool');
  assert.ok(log.has('POST', 'debug') && log.has('PCE reply', 'debug') && log.has('aggregated flow', 'debug'));
  assert.ok(!JSON.stringify(log.lines).includes(SECRET), 'the secret is never logged');
});

test('createDeliveryPipeline is the seam factory', async (t) => {
  const pce = await startPce(t);
  const p = createDeliveryPipeline({ dataDirectory: tempDir(t), aggregationMinutes: 5, dataDirectorySizeMb: 100, fileRetentionHours: 4, pce: pceTarget(pce, { url: `127.0.0.1:${pce.port}` }), http: [], debug: false, log: new MemoryLog(), metrics: new Registry() });
  await p.start();
  for (const b of new Decoded().ipfix(T4, [{ src: '192.0.2.1', dst: '198.51.100.1', dport: 8080 }], Date.now())) p.push(b);
  await p.stop();
  assert.deepEqual(pce.acceptedLines(), ['192.0.2.1,198.51.100.1,8080,6'], 'host:port without a scheme means https');
});

test('at most maxLinesPerPost (1000) lines per POST; every flow once', async (t) => {
  const pce = await startPce(t);
  const { delivery, metrics } = makeDelivery(t, { dir: tempDir(t), pce: pceTarget(pce) });
  await delivery.start();
  const flows = distinctFlows(2500);
  feedFlows(new Decoded(), delivery, flows, Date.now());
  await delivery.stop();
  assert.deepEqual(pce.accepted.map((r) => r.lines.length).sort((a, b) => b - a), [1000, 1000, 500]);
  assert.deepEqual(pce.acceptedLines().sort(), flows.map(pceLineOf).sort());
  assert.equal(await metric(metrics, 'sluice_upload_flows_sent_total'), 2500);
});

test('maxLinesPerPost is configurable', async (t) => {
  const pce = await startPce(t);
  const { delivery } = makeDelivery(t, { dir: tempDir(t), pce: pceTarget(pce, { maxLinesPerPost: 300 }) });
  await delivery.start();
  feedFlows(new Decoded(), delivery, distinctFlows(1000), Date.now());
  await delivery.stop();
  assert.deepEqual(pce.accepted.map((r) => r.lines.length).sort((a, b) => b - a), [300, 300, 300, 100]);
});

test('at most 20 POSTs in flight, and the limit is used', async (t) => {
  const pce = await startPce(t, { delayMs: 150 });
  const { delivery } = makeDelivery(t, { dir: tempDir(t), pce: pceTarget(pce, { maxLinesPerPost: 10, retryMinutes: 0.004 }) });
  await delivery.start();
  // Spool 60 batches during an outage, so all of them are ready when the PCE comes back.
  await pce.setMode({ kind: 'refuse' });
  feedFlows(new Decoded(), delivery, distinctFlows(600), Date.now());
  await delivery.flushNow('window_end');
  await delivery.whenIdle();
  await pce.setMode({ kind: 'ok' });
  await pce.waitFor(() => pce.accepted.length === 60, 20_000, '60 batches');
  assert.ok(pce.maxInFlight <= 20, `at most 20 in flight, saw ${pce.maxInFlight}`);
  assert.ok(pce.maxInFlight >= 10, `batches go out in parallel, saw at most ${pce.maxInFlight}`);
  assert.equal(new Set(pce.acceptedLines()).size, 600);
});

test('maxInFlight is configurable', async (t) => {
  const pce = await startPce(t, { delayMs: 50 });
  const { delivery } = makeDelivery(t, { dir: tempDir(t), pce: pceTarget(pce, { maxLinesPerPost: 10, maxInFlight: 3 }) });
  await delivery.start();
  feedFlows(new Decoded(), delivery, distinctFlows(200), Date.now());
  await delivery.stop();
  assert.equal(pce.accepted.length, 20);
  assert.ok(pce.maxInFlight <= 3 && pce.maxInFlight >= 2, `saw ${pce.maxInFlight}`);
});

for (const outage of [
  { name: 'connections refused', mode: { kind: 'refuse' } as const, status: 'ECONNREFUSED', timeoutMs: undefined },
  { name: '429 Too Many Requests', mode: { kind: 'status', status: 429 } as const, status: '429' },
  { name: '503 Service Unavailable', mode: { kind: 'status', status: 503 } as const, status: '503' },
  { name: '500 Internal Server Error', mode: { kind: 'status', status: 500 } as const, status: '500' },
  { name: 'a PCE that never answers', mode: { kind: 'hang' } as const, status: 'ETIMEDOUT', timeoutMs: 1500 },
]) {
  test(`outage (${outage.name}): batches are spooled, retried, and all arrive exactly once after recovery`, async (t) => {
    const pce = await startPce(t);
    const { delivery, metrics, log } = makeDelivery(t, { dir: tempDir(t), pce: pceTarget(pce, { maxLinesPerPost: 100, retryMinutes: 0.004 }), internals: { requestTimeoutMs: outage.timeoutMs ?? 5000 } });
    await delivery.start();
    await pce.setMode(outage.mode);
    const dec = new Decoded();
    const first = distinctFlows(450, 0);
    feedFlows(dec, delivery, first, Date.now());
    await delivery.flushNow('window_end');
    await delivery.whenIdle();
    // A second window during the outage.
    const second = distinctFlows(120, 10_000);
    feedFlows(dec, delivery, second, Date.now());
    await delivery.flushNow('window_end');
    await delivery.whenIdle();
    assert.equal(delivery.uploaders[0]!.backingOff, true);
    const spooled = readdirSync(join(delivery.spool.spoolDir, 'pce'));
    assert.equal(spooled.length, 7, 'five + two batches wait in the spool');
    assert.equal(await metric(metrics, 'sluice_spool_batches', { target: 'pce' }), 7);
    assert.equal(await metric(metrics, 'sluice_spool_flows', { target: 'pce' }), 570);
    assert.ok((await metric(metrics, 'sluice_upload_posts_total', { status: outage.status })) >= 1);
    assert.ok(log.has('batch stays in the spool', 'warn'));
    assert.equal(pce.accepted.length, 0);
    const failedBefore = pce.requests.length;
    await pce.setMode({ kind: 'ok' });
    await pce.waitFor(() => pce.accepted.length === 7, 15_000, 'the spool after recovery');
    await delivery.stop();
    const lines = pce.acceptedLines();
    assert.equal(lines.length, 570, 'no batch twice');
    assert.deepEqual(lines.sort(), [...first, ...second].map(pceLineOf).sort());
    assert.deepEqual(readdirSync(join(delivery.spool.spoolDir, 'pce')), []);
    assert.ok((await metric(metrics, 'sluice_upload_retries_total')) >= 1);
    // The failing PCE saw the POSTs (a refusing one sees nothing).
    if (outage.mode.kind !== 'refuse') assert.ok(failedBefore >= 1);
    assert.ok(log.has('target reachable again', 'info'));
  });
}

test('429 with Retry-After: the next round waits at least that long', async (t) => {
  const pce = await startPce(t);
  const { delivery, log } = makeDelivery(t, { dir: tempDir(t), pce: pceTarget(pce, { retryMinutes: 0.002 }) });
  await delivery.start();
  await pce.setMode({ kind: 'status', status: 429, headers: { 'Retry-After': '2' } });
  feedFlows(new Decoded(), delivery, distinctFlows(5), Date.now());
  await delivery.flushNow('window_end');
  await pce.waitFor(() => pce.requests.length === 1);
  const t0 = Date.now();
  await delivery.whenIdle();
  const l = log.lines.find((x) => x.msg === 'retrying later');
  assert.ok(Number(l?.obj['retry_in_s']) >= 1.9, `retry in ${String(l?.obj['retry_in_s'])} s, not the 0.12 s of retryMinutes`);
  await pce.setMode({ kind: 'ok' });
  await pce.waitFor(() => pce.accepted.length === 1, 10_000);
  assert.ok(Date.now() - t0 >= 1500, 'not retried before Retry-After');
  assert.equal(pce.requests.length, 2);
});

test('oldest batches are sent first after an outage', async (t) => {
  const pce = await startPce(t);
  const { delivery } = makeDelivery(t, { dir: tempDir(t), pce: pceTarget(pce, { maxLinesPerPost: 50, maxInFlight: 1, retryMinutes: 0.004 }) });
  await delivery.start();
  await pce.setMode({ kind: 'refuse' });
  const dec = new Decoded();
  for (let w = 0; w < 4; w++) {
    feedFlows(dec, delivery, distinctFlows(50, w * 1000), Date.now());
    await delivery.flushNow('window_end');
  }
  await delivery.whenIdle();
  await pce.setMode({ kind: 'ok' });
  await pce.waitFor(() => pce.accepted.length === 4, 15_000);
  const firstSrc = pce.accepted.map((r) => Number(r.lines[0]!.split(',')[0]!.split('.')[2]));
  assert.deepEqual(firstSrc, [0, 3, 7, 11], 'window order (10.0.<i>>8>.x sources)');
});

test('4xx other than 429: logged with the reply, kept under rejected/, not retried', async (t) => {
  const pce = await startPce(t);
  const { delivery, metrics, log } = makeDelivery(t, { dir: tempDir(t), pce: pceTarget(pce, { retryMinutes: 0.002 }) });
  await delivery.start();
  await pce.setMode({ kind: 'status', status: 400, body: '{"error":"invalid_csv_line 3"}' });
  const flows = distinctFlows(5);
  feedFlows(new Decoded(), delivery, flows, Date.now());
  await delivery.flushNow('window_end');
  await delivery.whenIdle();
  await new Promise((r) => setTimeout(r, 500)); // several retry periods
  assert.equal(pce.requests.length, 1, 'sent once, not retried');
  const dir = join(delivery.spool.rejectedDir, 'pce');
  const files = readdirSync(dir).sort();
  assert.equal(files.length, 2);
  assert.match(files[0]!, /^\d{13}-\d{10}-5\.csv\.gz$/);
  assert.equal(gunzipSync(readFileSync(join(dir, files[0]!))).toString(), flows.map(pceLineOf).join('\n') + '\n');
  assert.match(readFileSync(join(dir, files[1]!), 'utf8'), /^status 400\n\{"error":"invalid_csv_line 3"\}/);
  assert.deepEqual(readdirSync(join(delivery.spool.spoolDir, 'pce')), []);
  assert.equal(await metric(metrics, 'sluice_upload_rejected_batches_total', { status: '400' }), 1);
  assert.equal(await metric(metrics, 'sluice_upload_rejected_flows_total'), 5);
  const l = log.lines.find((x) => x.msg.includes('batch refused'));
  assert.equal(l?.level, 'error');
  assert.equal(l?.obj['reply'], '{"error":"invalid_csv_line 3"}');
  // The target is not considered down: the next window goes out.
  await pce.setMode({ kind: 'ok' });
  feedFlows(new Decoded(), delivery, distinctFlows(2, 100), Date.now());
  await delivery.stop();
  assert.equal(pce.accepted.length, 1);
});

test('a wrong secret is a 401: kept for inspection, the secret not logged', async (t) => {
  const pce = await startPce(t);
  const { delivery, log } = makeDelivery(t, { dir: tempDir(t), pce: pceTarget(pce, { secret: 'not-the-secret-0123456789' }) });
  await delivery.start();
  feedFlows(new Decoded(), delivery, distinctFlows(3), Date.now());
  await delivery.stop();
  assert.equal(pce.requests[0]?.status, 401);
  assert.equal(readdirSync(join(delivery.spool.rejectedDir, 'pce')).length, 2);
  assert.ok(!JSON.stringify(log.lines).includes('not-the-secret-0123456789'));
});

test('the PCE reply is parsed: num_flows_failed and failed_flows are counted and logged', async (t) => {
  const pce = await startPce(t, { failLine: (l) => l.startsWith('10.0.0.2,') || l.startsWith('10.0.0.4,') });
  const { delivery, metrics, log } = makeDelivery(t, { dir: tempDir(t), pce: pceTarget(pce) });
  await delivery.start();
  feedFlows(new Decoded(), delivery, distinctFlows(10), Date.now());
  await delivery.stop();
  assert.equal(await metric(metrics, 'sluice_pce_flows_accepted_total'), 8);
  assert.equal(await metric(metrics, 'sluice_pce_flows_failed_total'), 2);
  const l = log.lines.find((x) => x.msg === 'PCE refused some flows');
  assert.deepEqual([...(l?.obj['failed_flows'] as string[])].sort(), ['10.0.0.2,192.0.2.200,443,6', '10.0.0.4,192.0.2.200,443,6']);
});

test('TLS: the test PCE certificate is refused without its CA (spooled), accepted with the CA or the insecure switch', async (t) => {
  const pce = await startPce(t);
  const noCa = makeDelivery(t, { dir: tempDir(t), pce: pceTarget(pce, { caFile: undefined, retryMinutes: 10 }) });
  await noCa.delivery.start();
  feedFlows(new Decoded(), noCa.delivery, distinctFlows(3), Date.now());
  await noCa.delivery.stop();
  assert.equal(pce.accepted.length, 0);
  const statuses = (await noCa.metrics.getSingleMetric('sluice_upload_posts_total')!.get()).values.map((v) => String(v.labels['status']));
  assert.ok(statuses.some((s) => /CERT|SELF_SIGNED/.test(s)), `a TLS verification error, got ${statuses.join(',')}`);
  assert.equal(readdirSync(join(noCa.delivery.spool.spoolDir, 'pce')).length, 1, 'kept in the spool');

  const insecure = makeDelivery(t, { dir: noCa.dir, pce: pceTarget(pce, { caFile: undefined, insecure: true }) });
  await insecure.delivery.start(); // replays the spooled batch
  feedFlows(new Decoded(), insecure.delivery, distinctFlows(2, 50), Date.now());
  await insecure.delivery.stop();
  assert.deepEqual(pce.acceptedLines().sort(), [...distinctFlows(3), ...distinctFlows(2, 50)].map(pceLineOf).sort());
});

test('a missing CA file is an error at construction, not at the first POST', (t) => {
  assert.throws(() => makeDelivery(t, { dir: tempDir(t), pce: { url: 'https://127.0.0.1:1', orgId: 1, keyId: 'k', secret: 's', caFile: '/nonexistent/ca.pem', insecure: false, maxLinesPerPost: 1000, maxInFlight: 20, retryMinutes: 1 } }), /ENOENT/);
  assert.equal(existsSync('/nonexistent/ca.pem'), false);
});
