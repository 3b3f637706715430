/** Loopback UDP receivers, senders and a `sluice relay` process for the relay tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { fileURLToPath } from 'node:url';

export interface Got {
  readonly buf: Buffer;
  readonly address: string;
  readonly port: number;
}

export interface TestReceiver {
  readonly port: number;
  readonly got: Got[];
  close(): Promise<void>;
}

export async function udpReceiver(address = '127.0.0.1'): Promise<TestReceiver> {
  const s = dgram.createSocket({ type: address.includes(':') ? 'udp6' : 'udp4', recvBufferSize: 4 << 20 });
  const got: Got[] = [];
  s.on('message', (buf, r) => got.push({ buf, address: r.address, port: r.port }));
  await new Promise<void>((resolve) => s.bind(0, address, () => resolve()));
  return { port: s.address().port, got, close: () => new Promise<void>((resolve) => s.close(() => resolve())) };
}

export interface TestSender {
  readonly port: number;
  send(buf: Buffer, port: number, address: string): Promise<void>;
  close(): void;
}

export async function udpSender(bindAddress: string): Promise<TestSender> {
  const s = dgram.createSocket({ type: bindAddress.includes(':') ? 'udp6' : 'udp4', sendBufferSize: 4 << 20 });
  await new Promise<void>((resolve) => s.bind(0, bindAddress, () => resolve()));
  return {
    port: s.address().port,
    send: (buf, port, address) => new Promise<void>((resolve, reject) => s.send(buf, port, address, (err) => (err ? reject(err) : resolve()))),
    close: () => s.close(),
  };
}

/** A port that nothing listens on (bound, then closed). */
export async function deadPort(address = '127.0.0.1'): Promise<number> {
  const r = await udpReceiver(address);
  await r.close();
  return r.port;
}

export async function waitFor(what: string, ok: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Distinct payloads of varied sizes, so order and content are both checked. */
export function payloads(n: number, maxSize = 1400): Buffer[] {
  const out: Buffer[] = [];
  let x = 12345;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const b = Buffer.alloc(16 + (x % (maxSize - 16)));
    b.writeUInt32BE(i, 0);
    for (let k = 4; k < b.length; k++) b[k] = (i * 31 + k * 7) & 0xff;
    out.push(b);
  }
  return out;
}

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

export interface RelayProcess {
  readonly child: ChildProcess;
  readonly port: number;
  stderr(): string;
  /** SIGTERM, then the exit code and everything it printed. */
  stop(): Promise<{ code: number | null; stderr: string }>;
}

/** Starts `sluice relay ARGS` and waits for its "listening on ... port N" line. */
export async function startRelay(args: string[], env: NodeJS.ProcessEnv = {}, prefix: string[] = []): Promise<RelayProcess> {
  const cmd = prefix.length > 0 ? prefix[0]! : process.execPath;
  const argv = [...prefix.slice(1), ...(prefix.length > 0 ? [process.execPath] : []), '--import', 'tsx', MAIN, 'relay', ...args];
  const child = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const port = await Promise.race([
    (async () => {
      await waitFor('the relay to listen', () => /listening on \S+ port \d+/.test(err), 20_000);
      return Number(/listening on \S+ port (\d+)/.exec(err)![1]);
    })(),
    exited.then((code) => {
      throw new Error(`sluice relay exited (${code}) before listening:\n${err}`);
    }),
  ]);
  return {
    child,
    port,
    stderr: () => err,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      const code = await exited;
      return { code, stderr: err };
    },
  };
}

/** Runs `sluice relay ARGS` expecting it to fail at start. */
export function runRelayExpectingFailure(args: string[], env: NodeJS.ProcessEnv = {}, prefix: string[] = []): Promise<{ code: number | null; stderr: string }> {
  const cmd = prefix.length > 0 ? prefix[0]! : process.execPath;
  const argv = [...prefix.slice(1), ...(prefix.length > 0 ? [process.execPath] : []), '--import', 'tsx', MAIN, 'relay', ...args];
  return new Promise((resolve) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr: err });
    });
  });
}
