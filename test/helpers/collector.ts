/**
 * Runs `sluice collect` as a child process for end-to-end tests and benchmarks: picks a free
 * loopback UDP port, waits for the "listening" log line, collects stdout, and stops the process
 * with SIGTERM (SIGKILL if it does not exit in time).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

/** A UDP port on 127.0.0.1 that was free a moment ago (the kernel picks it). */
export function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const port = s.address().port;
      s.close(() => resolve(port));
    });
  });
}

export interface StoppedCollector {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export class CollectorProcess {
  private readonly out: string[] = [];
  private outLines = 0;
  private err = '';
  private exited: Promise<StoppedCollector>;
  private done = false;

  constructor(
    readonly port: number,
    private readonly child: ChildProcess,
    /** Keep stdout in memory (tests) or only count its lines (benchmarks). */
    private readonly keepStdout: boolean,
  ) {
    // stdout is null when the child writes it to /dev/null (benchmarks).
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (s: string) => {
      if (this.keepStdout) this.out.push(s);
      for (let i = s.indexOf('\n'); i >= 0; i = s.indexOf('\n', i + 1)) this.outLines++;
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (s: string) => {
      // Logs are small; keep a bounded tail in case a run misbehaves and floods stderr.
      this.err = (this.err + s).slice(-1_000_000);
    });
    this.exited = new Promise((resolve) => {
      child.once('close', (code, signal) => {
        this.done = true;
        resolve({ code, signal, stdout: this.out.join(''), stderr: this.err });
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Lines written to stdout so far. */
  get lines(): number {
    return this.outLines;
  }

  get stderr(): string {
    return this.err;
  }

  get running(): boolean {
    return !this.done;
  }

  /** Resolves when stderr contains `text`, rejects on exit or after `timeoutMs`. */
  async waitForLog(text: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.err.includes(text)) {
      if (this.done) throw new Error(`sluice collect exited before logging "${text}":\n${this.err}`);
      if (Date.now() > deadline) throw new Error(`sluice collect did not log "${text}" within ${timeoutMs} ms:\n${this.err}`);
      await sleep(25);
    }
  }

  /**
   * Waits until stdout stops growing: at least `want` lines and no new line for `quietMs`, or no
   * new line for `idleMs` whatever the count; gives up after `timeoutMs`. Returns the line count.
   */
  async waitForQuiet(want: number, opts: { quietMs?: number; idleMs?: number; timeoutMs?: number } = {}): Promise<number> {
    const quietMs = opts.quietMs ?? 300;
    const idleMs = opts.idleMs ?? 3000;
    const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
    let last = this.outLines;
    let lastChange = Date.now();
    while (Date.now() < deadline) {
      await sleep(50);
      if (this.outLines !== last) {
        last = this.outLines;
        lastChange = Date.now();
        continue;
      }
      const still = Date.now() - lastChange;
      if ((last >= want && still >= quietMs) || still >= idleMs) break;
    }
    return this.outLines;
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves with everything the process wrote. */
  async stop(graceMs = 10_000): Promise<StoppedCollector> {
    if (!this.done) this.child.kill('SIGTERM');
    const timer = setTimeout(() => {
      if (!this.done) this.child.kill('SIGKILL');
    }, graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

export interface StartCollectorOptions {
  readonly format?: string;
  readonly extraArgs?: readonly string[];
  /** Keep stdout text in memory (default); false only counts its lines. */
  readonly keepStdout?: boolean;
  /** The child writes stdout to /dev/null itself (benchmarks: no pipe cost in the measurement). */
  readonly stdoutToDevNull?: boolean;
  readonly startTimeoutMs?: number;
  /** Listen on this port (a restart on the same port: the same transport sessions); default a free one. */
  readonly port?: number;
}

export const TEST_FORMAT = 'json,timestamp=unix,protocol=raw,tcpFlags=raw,ignoreUnknown=false,ignoreOptions=false';

/**
 * Starts `node --import tsx src/cli/main.ts collect --listen udp://127.0.0.1:PORT` and resolves
 * once it logs that it listens. Retries with another port if the chosen one was taken meanwhile.
 */
export async function startCollector(o: StartCollectorOptions = {}): Promise<CollectorProcess> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = o.port ?? (await freeUdpPort());
    const args = ['--import', 'tsx', MAIN, 'collect', '--listen', `udp://127.0.0.1:${port}`, '--format', o.format ?? TEST_FORMAT, ...(o.extraArgs ?? [])];
    const child = spawn(process.execPath, args, {
      cwd: REPO_ROOT,
      stdio: ['ignore', o.stdoutToDevNull ? 'ignore' : 'pipe', 'pipe'],
    });
    const c = new CollectorProcess(port, child, o.keepStdout ?? true);
    try {
      await c.waitForLog(`listening on udp://127.0.0.1:${port}`, o.startTimeoutMs ?? 30_000);
      return c;
    } catch (err) {
      lastError = err;
      await c.stop(2000);
    }
  }
  throw lastError;
}

/** Fails with a clear message when a peer binary is not installed (CI installs them). */
export function requireBinary(name: string, probeArgs: readonly string[], pkg: string): void {
  const r = spawnSync(name, probeArgs, { stdio: 'ignore', timeout: 10_000 });
  if (r.error !== undefined && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new Error(`${name} is not installed: this test needs it (apt-get install ${pkg}); CI's .ci/run installs it`);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
