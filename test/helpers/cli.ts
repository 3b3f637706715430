import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const MAIN = path.join(ROOT, 'src/cli/main.ts');

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `sluice ARGS` to completion. */
export function runSluice(args: string[], timeoutMs = 60_000, env?: NodeJS.ProcessEnv): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`sluice ${args.join(' ')} timed out; stderr: ${stderr}`));
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * Runs a peer program (softflowd, pmacctd...) to its end and resolves with its stdout and stderr
 * together; past `timeoutMs` it is killed and what it printed is returned. /usr/sbin is on the PATH.
 */
export function runProgram(cmd: string, args: readonly string[], options: { readonly cwd?: string; readonly timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` } });
    let out = '';
    c.stdout.on('data', (b: Buffer) => (out += b.toString()));
    c.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const t = setTimeout(() => c.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    c.once('error', reject);
    c.once('close', () => {
      clearTimeout(t);
      resolve(out);
    });
  });
}

/** A running `sluice collect`: resolves once every listener logged "listening on". */
export class Collector {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly ports: number[] = [];

  private constructor(args: string[]) {
    this.child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'collect', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
  }

  static async start(args: string[], listeners: number, timeoutMs = 30_000): Promise<Collector> {
    const c = new Collector(args);
    const t0 = Date.now();
    while (c.ports.length < listeners) {
      if (c.child.exitCode !== null) throw new Error(`collect exited early: ${c.stderr}`);
      if (Date.now() - t0 > timeoutMs) {
        c.child.kill('SIGKILL');
        throw new Error(`collect did not start: ${c.stderr}`);
      }
      await new Promise((r) => setTimeout(r, 50));
      c.ports.length = 0;
      for (const m of c.stderr.matchAll(/listening on \w+:\/\/.*:(\d+)/g)) c.ports.push(Number(m[1]));
    }
    return c;
  }

  lines(): Record<string, unknown>[] {
    return this.stdout
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  /** Waits until `n` JSON lines arrived (bounded). */
  async waitForLines(n: number, timeoutMs = 15_000): Promise<void> {
    const t0 = Date.now();
    while (this.stdout.split('\n').filter((l) => l !== '').length < n && Date.now() - t0 < timeoutMs) {
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(): Promise<number | null> {
    if (this.child.exitCode !== null) return this.child.exitCode;
    const done = new Promise<number | null>((r) => this.child.once('close', (code) => r(code)));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    const code = await done;
    clearTimeout(timer);
    return code;
  }
}
