/**
 * kill -9 of the delivery pipeline (in a child process, test/helpers/delivery-child.ts) during
 * spooling and during an upload, then a restart: nothing that reached the spool is lost, nothing
 * half-written is sent, and at most the one batch in flight is sent twice.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { KEY_ID, SECRET, startPce, tempDir } from './helpers/delivery-env.js';
import { distinctFlows, pceLineOf } from './helpers/flows.js';
import { TEST_PCE_CERT, type TestPce } from './helpers/test-pce.js';

const CHILD = fileURLToPath(new URL('./helpers/delivery-child.ts', import.meta.url));

interface ChildEvent {
  readonly ev: string;
  readonly [k: string]: unknown;
}

class Child {
  readonly proc: ChildProcess;
  readonly events: ChildEvent[] = [];
  stderr = '';
  readonly #waiters = new Set<() => void>();
  readonly exited: Promise<NodeJS.Signals | number | null>;

  constructor(t: TestContext, config: object) {
    this.proc = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(config)], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, signal) => resolve(signal ?? code)));
    createInterface({ input: this.proc.stdout! }).on('line', (l) => {
      this.events.push(JSON.parse(l) as ChildEvent);
      for (const w of [...this.#waiters]) w();
    });
    this.proc.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    t.after(() => {
      if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
    });
  }

  send(cmd: object): void {
    this.proc.stdin!.write(JSON.stringify(cmd) + '\n');
  }

  waitFor(ev: string, timeoutMs = 20_000): Promise<ChildEvent> {
    const find = (): ChildEvent | undefined => this.events.find((e) => e.ev === ev);
    const hit = find();
    if (hit !== undefined) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const e = find();
        if (e === undefined) return;
        this.#waiters.delete(check);
        clearTimeout(timer);
        resolve(e);
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`child: no "${ev}" within ${timeoutMs} ms; stderr:\n${this.stderr}`));
      }, timeoutMs);
      this.#waiters.add(check);
    });
  }

  async kill9(): Promise<void> {
    this.proc.kill('SIGKILL');
    assert.equal(await this.exited, 'SIGKILL');
  }
}

function config(dir: string, pce: TestPce, over: object = {}): object {
  return { dir, url: pce.url, caFile: TEST_PCE_CERT, keyId: KEY_ID, secret: SECRET, orgId: 7, maxLinesPerPost: 100, maxInFlight: 1, retryMinutes: 0.004, ...over };
}

/** Lines of every complete batch file under spool/pce, as the disk holds them right now. */
function spooledLines(dir: string): { files: string[]; lines: string[] } {
  const d = join(dir, 'spool', 'pce');
  const files = existsSync(d) ? readdirSync(d).sort() : [];
  const lines = files.flatMap((f) => gunzipSync(readFileSync(join(d, f))).toString().split('\n').filter((l) => l !== ''));
  return { files, lines };
}

function counts(lines: readonly string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const l of lines) m.set(l, (m.get(l) ?? 0) + 1);
  return m;
}

test('kill -9 during spooling: every batch that reached the spool arrives exactly once after restart, the half-written one never', async (t) => {
  const pce = await startPce(t);
  const dir = tempDir(t);
  await pce.setMode({ kind: 'refuse' });

  // Window 1: 3 batches, completely spooled while the PCE is down.
  // Window 2: 3 batches; the 5th file write stops half-way and the process is killed.
  const a = new Child(t, config(dir, pce, { pauseOnWrite: 5, retryMinutes: 10 }));
  await a.waitFor('started');
  a.send({ op: 'flows', offset: 0, n: 300 });
  a.send({ op: 'flush' });
  await a.waitFor('flushed');
  a.send({ op: 'flows', offset: 1000, n: 300 });
  a.send({ op: 'flush' });
  const paused = await a.waitFor('paused');
  await a.kill9();

  const partial = String(paused['path']);
  assert.ok(existsSync(partial), 'a half-written temp file is left behind');
  const before = spooledLines(dir);
  const window1 = distinctFlows(300, 0).map(pceLineOf);
  for (const l of window1) assert.ok(before.lines.includes(l), 'window 1 is on disk');
  assert.ok(before.files.length >= 3 && before.files.length <= 5, `spool files: ${before.files.join(' ')}`);

  // Restart with the PCE up: the spool is replayed.
  await pce.setMode({ kind: 'ok' });
  const b = new Child(t, config(dir, pce));
  await b.waitFor('started');
  await pce.waitFor(() => pce.accepted.length === before.files.length, 20_000, 'the replayed spool');
  b.send({ op: 'stop' });
  await b.waitFor('stopped');

  const got = counts(pce.acceptedLines());
  assert.equal(got.size, before.lines.length, 'exactly the spooled flows arrived');
  for (const l of before.lines) assert.equal(got.get(l), 1, `${l} arrived once`);
  assert.equal(existsSync(partial), false, 'the half-written file was removed at start');
  assert.deepEqual(readdirSync(join(dir, 'tmp')), []);
  assert.deepEqual(readdirSync(join(dir, 'spool', 'pce')), []);
});

test('kill -9 during an upload: everything spooled arrives, at most the one batch in flight twice', async (t) => {
  const pce = await startPce(t);
  const dir = tempDir(t);
  await pce.setMode({ kind: 'refuse' });

  const a = new Child(t, config(dir, pce));
  await a.waitFor('started');
  a.send({ op: 'flows', offset: 0, n: 450 }); // 5 batches of <= 100
  a.send({ op: 'flush' });
  await a.waitFor('flushed');
  const spooled = spooledLines(dir);
  assert.equal(spooled.files.length, 5);

  // The PCE comes back slow: it takes the first retried batch, and while it is still answering
  // the process is killed. The PCE finishes and counts the batch, the process never learns it.
  pce.delayMs = 1500;
  await pce.setMode({ kind: 'ok' });
  await pce.waitFor(() => pce.requests.length === 1, 20_000, 'the first retried POST');
  await a.kill9();
  await pce.waitFor(() => pce.accepted.length === 1, 5000, 'the PCE to finish the killed upload');
  const inFlight = pce.accepted[0]!.lines;
  assert.equal(spooledLines(dir).files.length, 5, 'the batch whose reply was lost is still spooled');

  pce.delayMs = 0;
  const b = new Child(t, config(dir, pce, { maxInFlight: 20 }));
  await b.waitFor('started');
  await pce.waitFor(() => pce.accepted.length === 6, 20_000, 'the replayed spool');
  b.send({ op: 'stop' });
  await b.waitFor('stopped');

  const got = counts(pce.acceptedLines());
  for (const l of spooled.lines) assert.ok((got.get(l) ?? 0) >= 1, `${l} arrived`);
  const twice = [...got].filter(([, n]) => n > 1).map(([l]) => l);
  assert.ok([...got.values()].every((n) => n <= 2));
  assert.deepEqual(twice.sort(), [...inFlight].sort(), 'only the batch in flight was sent twice');
  assert.equal(pce.acceptedLines().length, 450 + inFlight.length);
  assert.deepEqual(readdirSync(join(dir, 'spool', 'pce')), []);
});

test('kill -9 with the PCE up and batches flowing: nothing spooled is lost, duplicates bounded by maxInFlight', async (t) => {
  const pce = await startPce(t, { delayMs: 30 });
  const dir = tempDir(t);
  const a = new Child(t, config(dir, pce, { maxInFlight: 2, maxLinesPerPost: 20 }));
  await a.waitFor('started');
  a.send({ op: 'flows', offset: 0, n: 400 }); // 20 batches
  a.send({ op: 'flush' });
  await a.waitFor('flushed'); // all 20 are on disk now (some may already be sent and deleted)
  const spooled = { lines: distinctFlows(400).map(pceLineOf) };
  await pce.waitFor(() => pce.accepted.length >= 5, 20_000);
  await a.kill9();
  await new Promise((r) => setTimeout(r, 100)); // let the PCE finish what it had
  const b = new Child(t, config(dir, pce, { maxInFlight: 2, maxLinesPerPost: 20 }));
  await b.waitFor('started');
  b.send({ op: 'stop' });
  await b.waitFor('stopped', 30_000);
  const got = counts(pce.acceptedLines());
  for (const l of spooled.lines) assert.ok((got.get(l) ?? 0) >= 1, `${l} arrived`);
  const extra = pce.acceptedLines().length - 400;
  assert.ok(extra <= 2 * 20, `at most the 2 batches in flight were resent (${extra} extra lines)`);
});
