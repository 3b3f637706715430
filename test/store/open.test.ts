/**
 * Opening a store: one writer at a time (a lock left by a dead process is taken over), a directory
 * that is not a store (or a newer format) is refused with a clear error, store.json is created once.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { LOCK_FILE, STORE_FILE } from '../../src/store/layout.js';
import { StoreFormatError, StoreLockedError } from '../../src/store/store-file.js';
import { StoreWriter } from '../../src/store/writer.js';
import { openWriter, tempDir } from './helpers/store-env.js';

/** A pid that belonged to a process that has exited. */
async function deadPid(): Promise<number> {
  const p = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await new Promise((r) => p.on('exit', r));
  return p.pid!;
}

test('one writer per store: a second open is refused; a lock whose process is gone is taken over', async (t) => {
  const dir = tempDir(t);
  const w = await openWriter(t, dir);
  await assert.rejects(StoreWriter.open(dir), StoreLockedError);
  await w.close();
  assert.throws(() => readFileSync(join(dir, LOCK_FILE)), /ENOENT/, 'close releases the lock');

  // Another live process holds it.
  const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 20000)'], { stdio: 'ignore' });
  t.after(() => sleeper.kill('SIGKILL'));
  writeFileSync(join(dir, LOCK_FILE), `${sleeper.pid}\n`);
  await assert.rejects(StoreWriter.open(dir), (e) => e instanceof StoreLockedError && e.message.includes(String(sleeper.pid)));

  // Its process died (kill -9): the next writer takes over.
  writeFileSync(join(dir, LOCK_FILE), `${await deadPid()}\n`);
  const w2 = await openWriter(t, dir);
  assert.equal(readFileSync(join(dir, LOCK_FILE), 'utf8').trim(), String(process.pid));
  await w2.close();
});

test('store.json is written once; another format or a newer version is refused; glob characters are refused', async (t) => {
  const dir = tempDir(t);
  const w = await openWriter(t, dir);
  await w.close();
  const f = JSON.parse(readFileSync(join(dir, STORE_FILE), 'utf8')) as Record<string, unknown>;
  assert.equal(f['format'], 'sluice-store');
  assert.equal(f['version'], 1);
  const w2 = await openWriter(t, dir);
  await w2.close();
  assert.deepEqual(JSON.parse(readFileSync(join(dir, STORE_FILE), 'utf8')), f, 'unchanged by a reopen');

  const other = join(dir, 'other');
  mkdirSync(other);
  writeFileSync(join(other, STORE_FILE), '{"format":"something-else"}');
  await assert.rejects(StoreWriter.open(other), StoreFormatError);
  writeFileSync(join(other, STORE_FILE), '{"format":"sluice-store","version":99}');
  await assert.rejects(StoreWriter.open(other), /version 99/);
  writeFileSync(join(other, STORE_FILE), '{not json');
  await assert.rejects(StoreWriter.open(other), StoreFormatError);
  // A refused open releases the lock it took.
  assert.throws(() => readFileSync(join(other, LOCK_FILE)), /ENOENT/);
  await assert.rejects(StoreWriter.open(join(dir, 'a[1]')), /may not contain/);
});
