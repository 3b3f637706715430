/**
 * One POST over node:http / node:https with a keep-alive agent per target. node's client does all
 * this needs (TLS with a CA, Basic auth header, timeouts), so no HTTP dependency is added.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { SluiceError } from '../../util/errors.js';

export interface PostResult {
  /** HTTP status, or 0 when no reply came (refused, reset, TLS failure, timeout). */
  readonly status: number;
  /** Reply body (at most 64 KiB kept) or the error description. */
  readonly body: string;
  /** Error code when status is 0: ECONNREFUSED, ECONNRESET, ETIMEDOUT, a TLS code, … */
  readonly error?: string;
  /** The reply's Retry-After in ms (RFC 9110 10.2.3: seconds or an HTTP date), when it had one. */
  readonly retryAfterMs?: number;
}

/** Retry-After as ms from now, or undefined when absent or unreadable. */
export function parseRetryAfter(v: string | undefined, nowMs: number): number | undefined {
  if (v === undefined) return undefined;
  const t = v.trim();
  if (/^\d+$/.test(t)) return Number(t) * 1000;
  const d = Date.parse(t);
  return Number.isNaN(d) ? undefined : Math.max(0, d - nowMs);
}

export interface ClientOptions {
  readonly url: string;
  readonly caFile?: string;
  readonly insecure: boolean;
  readonly maxSockets: number;
  /** Whole-request timeout; a hung server counts as unreachable. */
  readonly timeoutMs: number;
}

const MAX_REPLY = 64 * 1024;

export class HttpClient {
  readonly url: URL;
  readonly #agent: http.Agent;
  readonly #mod: typeof http | typeof https;
  readonly #timeoutMs: number;
  readonly #pending = new Set<http.ClientRequest>();

  constructor(opts: ClientOptions) {
    this.url = new URL(opts.url);
    this.#timeoutMs = opts.timeoutMs;
    if (this.url.protocol === 'https:') {
      // The CA file is read once here: a missing file is a start-up error, not a per-POST one.
      const ca = opts.caFile === undefined ? undefined : readFileSync(opts.caFile);
      this.#agent = new https.Agent({ keepAlive: true, maxSockets: opts.maxSockets, ca, rejectUnauthorized: !opts.insecure });
      this.#mod = https;
    } else if (this.url.protocol === 'http:') {
      this.#agent = new http.Agent({ keepAlive: true, maxSockets: opts.maxSockets });
      this.#mod = http;
    } else {
      throw new SluiceError('config', `unsupported URL scheme ${this.url.protocol} in ${opts.url} (http: or https:)`);
    }
  }

  post(headers: Readonly<Record<string, string>>, body: Buffer): Promise<PostResult> {
    return new Promise((resolve) => {
      let done = false;
      const finish = (r: PostResult): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.#pending.delete(req);
        resolve(r);
      };
      const req = this.#mod.request(this.url, {
        method: 'POST',
        agent: this.#agent,
        headers: { ...headers, 'Content-Length': String(body.length) },
      });
      this.#pending.add(req);
      const timer = setTimeout(() => {
        req.destroy(Object.assign(new Error(`no reply within ${this.#timeoutMs} ms`), { code: 'ETIMEDOUT' }));
      }, this.#timeoutMs);
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          if (size < MAX_REPLY) chunks.push(c);
          size += c.length;
        });
        res.on('end', () => {
          const retryAfterMs = parseRetryAfter(res.headers['retry-after'], Date.now());
          const r = { status: res.statusCode ?? 0, body: Buffer.concat(chunks).subarray(0, MAX_REPLY).toString('utf8') };
          finish(retryAfterMs === undefined ? r : { ...r, retryAfterMs });
        });
        res.on('error', (e: NodeJS.ErrnoException) => finish({ status: 0, body: e.message, error: e.code ?? 'ERESPONSE' }));
      });
      req.on('error', (e: NodeJS.ErrnoException) => finish({ status: 0, body: e.message, error: e.code ?? 'EREQUEST' }));
      req.end(body);
    });
  }

  /** Aborts what is in flight and closes idle sockets. */
  close(): void {
    for (const r of this.#pending) r.destroy(Object.assign(new Error('stopping'), { code: 'ESTOPPED' }));
    this.#agent.destroy();
  }
}
