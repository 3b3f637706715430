/**
 * Finding running instances, like FlowLink's ctl: every `sluice run` writes a pid file in its
 * data_directory (`sluice.pid`) and an entry in a registry of running instances under a
 * well-known runtime directory ($SLUICE_RUNTIME_DIR, else $XDG_RUNTIME_DIR/sluice, else
 * /tmp/sluice-<uid>), so `sluice stop` and `sluice status` find it with no arguments and take
 * `--config F` to pick one of several. Entries of processes that are gone are removed on sight.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface Instance {
  readonly pid: number;
  /** Absolute path of the configuration file. */
  readonly config: string;
  readonly dataDirectory: string;
  readonly logFile?: string;
  readonly startedAt: string;
}

export function runtimeDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SLUICE_RUNTIME_DIR) return env.SLUICE_RUNTIME_DIR;
  if (env.XDG_RUNTIME_DIR) return path.join(env.XDG_RUNTIME_DIR, 'sluice');
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  return path.join(tmpdir(), `sluice-${uid}`);
}

export function pidFile(dataDirectory: string): string {
  return path.join(dataDirectory, 'sluice.pid');
}

function entryFile(config: string): string {
  return path.join(runtimeDir(), `${createHash('sha256').update(path.resolve(config)).digest('hex').slice(0, 16)}.json`);
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, file);
}

/** Records this process as the instance of `config` (pid file + registry entry). */
export function register(inst: Instance): void {
  mkdirSync(runtimeDir(), { recursive: true, mode: 0o700 });
  writeAtomic(pidFile(inst.dataDirectory), `${inst.pid}\n`);
  writeAtomic(entryFile(inst.config), `${JSON.stringify(inst)}\n`);
}

/** Removes this process's pid file and registry entry (only if they are still ours). */
export function unregister(inst: Instance): void {
  for (const f of [pidFile(inst.dataDirectory), entryFile(inst.config)]) {
    try {
      const text = readFileSync(f, 'utf8');
      const pid = f.endsWith('.pid') ? Number(text.trim()) : (JSON.parse(text) as Instance).pid;
      if (pid === inst.pid) rmSync(f, { force: true });
    } catch {
      // already gone
    }
  }
}

/** The pid recorded in a data directory, if that process is alive. */
export function runningPid(dataDirectory: string): number | undefined {
  try {
    const pid = Number(readFileSync(pidFile(dataDirectory), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 && alive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Running instances, stale entries removed; with `config`, only the one for that file. */
export function instances(config?: string): Instance[] {
  const dir = runtimeDir();
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.json'));
  } catch {
    return [];
  }
  const out: Instance[] = [];
  for (const n of names) {
    const f = path.join(dir, n);
    let inst: Instance;
    try {
      inst = JSON.parse(readFileSync(f, 'utf8')) as Instance;
    } catch {
      continue; // being written
    }
    if (!alive(inst.pid)) {
      rmSync(f, { force: true });
      continue;
    }
    if (config === undefined || path.resolve(config) === inst.config) out.push(inst);
  }
  return out.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
}
