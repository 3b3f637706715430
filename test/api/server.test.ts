import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'node:test';
import { Counter, Registry } from 'prom-client';
import { loadAuth } from '../../src/api/auth.js';
import { HttpServer, isLoopback, jsonResponse, metricsHandler } from '../../src/api/server.js';

test('the HTTP server refuses to bind beyond loopback without authentication, and says why', () => {
  assert.throws(() => new HttpServer({ host: '0.0.0.0', port: 0 }), /refusing to serve on 0\.0\.0\.0 without authentication: bind a loopback address .* or give --auth/);
  assert.ok(isLoopback('127.0.0.1') && isLoopback('::1') && isLoopback('[::1]') && isLoopback('localhost') && isLoopback('127.1.2.3'));
  assert.ok(!isLoopback('0.0.0.0') && !isLoopback('::') && !isLoopback('192.0.2.1'));
});

test('metrics, security headers, 404/405, body and rate limits, auth by token and by user:password', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-http-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const reg = new Registry();
  new Counter({ name: 'sluice_test_total', help: 'a test counter', registers: [reg] }).inc(3);
  const plain = new HttpServer({ host: '127.0.0.1', port: 0, maxBodyBytes: 16, ratePerSecond: 1000 })
    .route('GET', '/metrics', metricsHandler(reg))
    .route('POST', '/echo', (r) => jsonResponse({ n: r.body.length }));
  await plain.listen();
  t.after(() => plain.stop());
  const m = await fetch(`${plain.url}/metrics`);
  assert.equal(m.status, 200);
  assert.match(await m.text(), /^sluice_test_total 3$/m);
  assert.match(m.headers.get('content-security-policy') ?? '', /default-src 'self'/);
  assert.doesNotMatch(m.headers.get('content-security-policy') ?? '', /unsafe-inline/);
  assert.equal(m.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(m.headers.get('access-control-allow-origin'), null);
  assert.equal((await fetch(`${plain.url}/nothing`)).status, 404);
  assert.equal((await fetch(`${plain.url}/metrics`, { method: 'POST' })).status, 405);
  assert.equal((await fetch(`${plain.url}/echo`, { method: 'POST', body: 'x'.repeat(17) })).status, 413);
  assert.deepEqual(await (await fetch(`${plain.url}/echo`, { method: 'POST', body: 'x'.repeat(16) })).json(), { n: 16 });

  const file = path.join(dir, 'auth');
  writeFileSync(file, '# who may look\nops:s3cret\nT0KEN-abc\n');
  const guarded = new HttpServer({ host: '127.0.0.1', port: 0, auth: loadAuth(file), ratePerSecond: 5 }).route('GET', '/metrics', metricsHandler(reg));
  await guarded.listen();
  t.after(() => guarded.stop());
  const u = `${guarded.url}/metrics`;
  const no = await fetch(u);
  assert.equal(no.status, 401);
  assert.match(no.headers.get('www-authenticate') ?? '', /^Basic/);
  assert.equal((await fetch(u, { headers: { authorization: 'Bearer wrong' } })).status, 401);
  assert.equal((await fetch(u, { headers: { authorization: 'Bearer T0KEN-abc' } })).status, 200);
  assert.equal((await fetch(u, { headers: { authorization: `Basic ${Buffer.from('ops:s3cret').toString('base64')}` } })).status, 200);
  assert.equal((await fetch(u, { headers: { authorization: `Basic ${Buffer.from('ops:wrong').toString('base64')}` } })).status, 401);
  // More than 5 in a second from one address: 429 (at most 5 + 1 requests can fall in one second above)
  const codes: number[] = [];
  for (let i = 0; i < 12; i++) codes.push((await fetch(u, { headers: { authorization: 'Bearer T0KEN-abc' } })).status);
  assert.ok(codes.includes(429), codes.join(' '));
  assert.throws(() => loadAuth(path.join(dir, 'missing/file')), /cannot read the auth file/);
});
