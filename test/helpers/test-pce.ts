/**
 * A test PCE: an HTTPS server on loopback that implements the part of the Illumio PCE API sluice
 * uses (POST /api/v2/orgs/<org>/agents/bulk_traffic_flows, Basic auth, text/csv body, JSON reply
 * with num_flows_received / num_flows_failed / failed_flows), records every request, and can be
 * told to fail: refuse connections, answer 429 / 5xx / 4xx, or hang without answering.
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { fileURLToPath } from 'node:url';

export const TEST_PCE_CERT = fileURLToPath(new URL('../fixtures/tls/test-pce.crt', import.meta.url));
export const TEST_PCE_KEY = fileURLToPath(new URL('../fixtures/tls/test-pce.key', import.meta.url));

export type PceMode =
  | { readonly kind: 'ok' }
  /** Answer every request with this status (and body). */
  | { readonly kind: 'status'; readonly status: number; readonly body?: string; readonly headers?: Readonly<Record<string, string>> }
  /** Read the request, never answer. */
  | { readonly kind: 'hang' }
  /** Stop listening: connections are refused. */
  | { readonly kind: 'refuse' };

export interface PceRequest {
  readonly method: string;
  readonly path: string;
  readonly user: string | undefined;
  readonly password: string | undefined;
  readonly contentType: string | undefined;
  readonly contentEncoding: string | undefined;
  readonly body: string;
  /** Non-empty lines of the body. */
  readonly lines: readonly string[];
  /** What the test PCE answered (0: it did not answer). */
  status: number;
}

export interface TestPceOptions {
  readonly keyId: string;
  readonly secret: string;
  readonly orgId?: number;
  readonly host?: string;
  /** Delay before answering an accepted request (lets tests see concurrency). */
  readonly delayMs?: number;
  /** Lines the PCE reports in failed_flows (default: none). */
  readonly failLine?: (line: string) => boolean;
}

export class TestPce {
  readonly requests: PceRequest[] = [];
  mode: PceMode = { kind: 'ok' };
  inFlight = 0;
  maxInFlight = 0;
  delayMs: number;
  readonly #server: https.Server;
  readonly #opts: TestPceOptions;
  readonly #sockets = new Set<Socket>();
  #port = 0;
  #listening = false;
  readonly #waiters = new Set<() => void>();

  private constructor(opts: TestPceOptions) {
    this.#opts = opts;
    this.delayMs = opts.delayMs ?? 0;
    this.#server = https.createServer({ cert: readFileSync(TEST_PCE_CERT), key: readFileSync(TEST_PCE_KEY), keepAlive: true }, (req, res) => {
      void this.#handle(req, res);
    });
    this.#server.on('connection', (s: Socket) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
    this.#server.on('tlsClientError', () => undefined);
  }

  static async start(opts: TestPceOptions): Promise<TestPce> {
    const p = new TestPce(opts);
    await p.#listen();
    return p;
  }

  get host(): string {
    return this.#opts.host ?? '127.0.0.1';
  }
  get port(): number {
    return this.#port;
  }
  /** `https://host:port`, as a PceTarget url. */
  get url(): string {
    return `https://${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.#port}`;
  }
  get path(): string {
    return `/api/v2/orgs/${this.#opts.orgId ?? 1}/agents/bulk_traffic_flows`;
  }
  /** Requests answered 2xx. */
  get accepted(): PceRequest[] {
    return this.requests.filter((r) => r.status >= 200 && r.status < 300);
  }
  /** Every line of every accepted request, in arrival order. */
  acceptedLines(): string[] {
    return this.accepted.flatMap((r) => r.lines);
  }

  async #listen(): Promise<void> {
    this.#server.listen(this.#port, this.host);
    await once(this.#server, 'listening');
    this.#port = (this.#server.address() as AddressInfo).port;
    this.#listening = true;
  }

  /** Changes behaviour; 'refuse' closes the listener (and open connections), leaving it reopens on the same port. */
  async setMode(mode: PceMode): Promise<void> {
    const wasRefusing = this.mode.kind === 'refuse';
    this.mode = mode;
    if (mode.kind === 'refuse' && this.#listening) {
      this.#listening = false;
      const closed = new Promise<void>((r) => this.#server.close(() => r()));
      for (const s of this.#sockets) s.destroy();
      await closed;
    } else if (mode.kind !== 'refuse' && wasRefusing && !this.#listening) {
      await this.#listen();
    }
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = Buffer.concat(chunks).toString('utf8');
      const auth = req.headers.authorization;
      let user: string | undefined;
      let password: string | undefined;
      if (auth?.startsWith('Basic ')) {
        const dec = Buffer.from(auth.slice(6), 'base64').toString('utf8');
        const i = dec.indexOf(':');
        user = i < 0 ? dec : dec.slice(0, i);
        password = i < 0 ? undefined : dec.slice(i + 1);
      }
      const rec: PceRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        user,
        password,
        contentType: req.headers['content-type'],
        contentEncoding: req.headers['content-encoding'],
        body,
        lines: body.split('\n').filter((l) => l !== ''),
        status: 0,
      };
      this.requests.push(rec);
      this.#notify();
      const reply = (status: number, obj: unknown, headers: Readonly<Record<string, string>> = {}): void => {
        rec.status = status;
        const text = typeof obj === 'string' ? obj : JSON.stringify(obj);
        res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
        res.end(text);
        this.#notify();
      };
      const mode = this.mode;
      if (mode.kind === 'hang') return; // the socket is destroyed by close() or by the client
      if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
      if (mode.kind === 'status') return reply(mode.status, mode.body ?? { error: `test PCE answers ${mode.status}` }, mode.headers);
      if (rec.method !== 'POST') return reply(405, { error: 'method not allowed' });
      if (rec.path !== this.path) return reply(404, { error: `no such resource ${rec.path}` });
      if (user !== this.#opts.keyId || password !== this.#opts.secret) return reply(401, { error: 'authentication required' });
      if (rec.contentType?.split(';')[0]?.trim() !== 'text/csv') return reply(415, { error: `Content-Type must be text/csv, got ${rec.contentType}` });
      const failed = rec.lines.filter((l) => !/^[0-9a-fA-F.:]+,[0-9a-fA-F.:]+,\d+,\d+$/.test(l) || (this.#opts.failLine?.(l) ?? false));
      return reply(201, { num_flows_received: rec.lines.length, num_flows_failed: failed.length, failed_flows: failed });
    } finally {
      this.inFlight--;
    }
  }

  #notify(): void {
    for (const w of [...this.#waiters]) w();
  }

  /** Resolves once `pred()` holds (checked on every request event), rejects after `timeoutMs`. */
  waitFor(pred: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!pred()) return;
        this.#waiters.delete(check);
        clearTimeout(t);
        resolve();
      };
      const t = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`test PCE: timed out after ${timeoutMs} ms waiting for ${what}; ${this.requests.length} requests so far`));
      }, timeoutMs);
      this.#waiters.add(check);
    });
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    if (this.#listening) {
      this.#listening = false;
      await new Promise<void>((r) => this.#server.close(() => r()));
    }
  }
}
