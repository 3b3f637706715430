/**
 * `sluice serve` and `sluice collect --http` as an operator runs them: loopback without a login,
 * any other address only with --auth (refused with the reason otherwise, credentials checked on
 * every request), the page and its files with the security headers, and collect's own live view
 * (exporters as they arrive, the writer's health, /metrics on the same server).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { readCapture } from '../../src/wire/pcap/read.js';
import { udpFromFrame } from '../../src/wire/packet/parse.js';
import { MAIN, ROOT, runSluice } from '../helpers/cli.js';
import { CAPTURES, captureStore, tempDir } from './helpers.js';

/** A running sluice command that serves HTTP: resolves once it logged its URL. */
class Served {
  stderr = '';
  readonly exited: Promise<number | null>;

  private constructor(readonly child: ChildProcess) {
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr = (this.stderr + d).slice(-200_000)));
    this.exited = new Promise((r) => child.once('close', (code) => r(code)));
  }

  static async start(t: TestContext, args: string[], urlPattern: RegExp): Promise<{ s: Served; url: string }> {
    const s = new Served(spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] }));
    t.after(() => s.stop());
    const deadline = Date.now() + 30_000;
    for (;;) {
      const m = urlPattern.exec(s.stderr);
      if (m !== null) return { s, url: m[1]! };
      if (s.child.exitCode !== null || Date.now() > deadline) throw new Error(`no URL logged by sluice ${args.join(' ')}:\n${s.stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** SIGTERM (SIGKILL after 10 s); the exit code. */
  async stop(): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

const URL_LOGGED = /"url":"(http:\/\/[^"]+?)\/?"/;

test('serve: loopback without a login; the page, uPlot and the API with security headers; stops on SIGTERM', async (t) => {
  const store = await captureStore(tempDir(t, 'sluice-serve-'), CAPTURES.slice(0, 1));
  const { s, url } = await Served.start(t, ['serve', '--store', store, '--listen', '127.0.0.1:0'], URL_LOGGED);
  const page = await fetch(`${url}/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
  const csp = page.headers.get('content-security-policy') ?? '';
  assert.match(csp, /default-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  assert.equal(page.headers.get('access-control-allow-origin'), null, 'no CORS unless configured');
  const html = await page.text();
  assert.doesNotMatch(html, /<script>|<style>|\son[a-z]+=|style="/i, 'no inline script, style or handler');
  assert.match(html, /<script type="module" src="\/app.js">/);
  // uPlot from node_modules, compressed for a browser that takes gzip; an ETag answers a reload with 304.
  const raw = await fetch(`${url}/vendor/uplot.js`, { headers: { 'accept-encoding': 'gzip' } });
  assert.equal(raw.status, 200);
  assert.equal(raw.headers.get('content-encoding'), 'gzip');
  assert.equal(await raw.text(), readFileSync(join(ROOT, 'node_modules/uplot/dist/uPlot.esm.js'), 'utf8'), "fetch decodes the gzip: the body is uPlot's");
  const etag = raw.headers.get('etag')!;
  assert.equal((await fetch(`${url}/vendor/uplot.js`, { headers: { 'if-none-match': etag } })).status, 304);
  const top = await fetch(`${url}/api/v1/top?dim=srcip&unit=bps&top=1`);
  assert.equal(top.status, 200);
  assert.equal(((await top.json()) as { rows: Array<{ value: string }> }).rows[0]!.value, '127.0.0.1');
  assert.equal((await fetch(`${url}/api/v1/nothing`)).status, 404);
  assert.equal((await fetch(`${url}/api/v1/top`, { method: 'POST' })).status, 405);
  assert.equal(await s.stop(), 0);
  assert.match(s.stderr, /SIGTERM: stopping/);
});

test('serve off loopback: refused without --auth, with the reason; with it, every request needs the credentials', async (t) => {
  const dir = tempDir(t, 'sluice-serve-auth-');
  const store = await captureStore(dir, CAPTURES.slice(0, 1));
  const refused = await runSluice(['serve', '--store', store, '--listen', '0.0.0.0:0']);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /refusing to serve on 0\.0\.0\.0 without authentication: bind a loopback address \(127\.0\.0\.1, ::1\) or give --auth/);
  const noStore = await runSluice(['serve', '--store', join(dir, 'none'), '--listen', '127.0.0.1:0']);
  assert.equal(noStore.code, 2);
  assert.match(noStore.stderr, /no store at .*none: sluice collect --store/);

  const token = 'web-T0KEN-5d1c';
  const { s, url } = await Served.start(t, ['serve', '--store', store, '--listen', '0.0.0.0:0', '--auth', token], URL_LOGGED);
  const port = new URL(url).port;
  const local = `http://127.0.0.1:${port}`;
  for (const path of ['/', '/app.js', '/api/v1/health', '/api/v1/top']) {
    const r = await fetch(`${local}${path}`);
    assert.equal(r.status, 401, path);
    assert.match(r.headers.get('www-authenticate') ?? '', /^Basic realm="sluice"/);
  }
  assert.equal((await fetch(`${local}/api/v1/health`, { headers: { authorization: 'Bearer wrong' } })).status, 401);
  const ok = await fetch(`${local}/api/v1/health`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(ok.status, 200);
  assert.equal(((await ok.json()) as { source: string }).source, 'directory');
  await s.stop();
  assert.doesNotMatch(s.stderr, new RegExp(token), 'the token is never logged');
});

test('collect --http: the page of the store it writes, live exporters, the writer\'s health, /metrics on the same server', async (t) => {
  const dir = tempDir(t, 'sluice-collect-http-');
  const store = join(dir, 'store');
  const refused = await runSluice(['collect', '--store', store, '--http', '0.0.0.0:0', '-l', 'udp://127.0.0.1:0']);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /refusing to serve on 0\.0\.0\.0 without authentication/);
  const noStore = await runSluice(['collect', '--http', '127.0.0.1:0', '-l', 'udp://127.0.0.1:0']);
  assert.equal(noStore.code, 2);
  assert.match(noStore.stderr, /--http serves the page and API of the flow store: give --store DIR too/);

  const { s, url } = await Served.start(t, ['collect', '--store', store, '--store-flush', '1s', '--retention', '30d', '--http', '127.0.0.1:0', '-l', 'udp://127.0.0.1:0', '--workers', '0'], URL_LOGGED);
  const udpPort = Number(/listening on udp:\/\/127\.0\.0\.1:(\d+)/.exec(s.stderr)![1]);
  // The v5 capture's datagrams, sent to collect over loopback.
  const sock = createSocket('udp4');
  t.after(() => sock.close());
  for (const fr of readCapture(readFileSync(CAPTURES[0]!))) {
    const u = udpFromFrame(fr.linkType, fr.data);
    if (u !== undefined) await new Promise<void>((r, j) => sock.send(u.payload, udpPort, '127.0.0.1', (e) => (e ? j(e) : r())));
  }
  type Body = Record<string, unknown>;
  const get = async (path: string): Promise<Body> => (await (await fetch(`${url}${path}`)).json()) as Body;
  // Answers are cached 5 s: the flows show up within a flush (1 s) and a cache time.
  let flows = 0;
  for (const deadline = Date.now() + 30_000; flows < 60 && Date.now() < deadline; ) {
    await new Promise((r) => setTimeout(r, 250));
    flows = ((await get('/api/v1/totals')) as { totals: { flows: number } }).totals.flows;
  }
  const exporters = await get('/api/v1/exporters');
  assert.equal(flows, 60, 'every flow of the capture is in the store and the API sees it');
  assert.equal(exporters.source, 'collect');
  const rows = exporters.exporters as Array<{ exporter: string; records: number }>;
  assert.deepEqual(rows.map((r) => [r.exporter, r.records]), [['127.0.0.1', 60]]);
  const health = await get('/api/v1/health');
  assert.equal(health.source, 'writer');
  assert.deepEqual(health.retention, { maxAgeMs: 30 * 86_400_000, maxBytes: null });
  assert.ok((health.segments as number) >= 1);
  const metrics = await fetch(`${url}/metrics`);
  assert.equal(metrics.status, 200);
  assert.match(await metrics.text(), /^sluice_store_rows_appended_total 60$/m);
  assert.equal((await fetch(`${url}/`)).status, 200);
  assert.equal(await s.stop(), 0);
});
