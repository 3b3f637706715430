/**
 * sluice's one HTTP server (node:http): /metrics for collect and the service, and the store's API
 * and page. Loopback by default; any other bind needs an authenticator (the caller checks that
 * before listen, with the reason in its error). Every response carries security headers; text is
 * gzipped for clients that take it; request bodies and rates are bounded; stop() lets requests in
 * flight finish, then closes.
 */
import { timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import { isIP } from 'node:net';
import { gzipSync } from 'node:zlib';
import type { Registry } from 'prom-client';
import { SluiceError } from '../util/errors.js';

export interface Request {
  readonly method: string;
  /** Path without the query string, percent-decoded. */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: http.IncomingHttpHeaders;
  /** The request body (bounded by maxBodyBytes), empty for GET. */
  readonly body: Buffer;
  readonly remote: string;
}

export interface Response {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body: string | Buffer;
}

export type Handler = (req: Request) => Response | Promise<Response>;

/** Decides whether a request may proceed; true for loopback-only servers without auth. */
export type Authenticator = (headers: http.IncomingHttpHeaders) => boolean;

export interface ServerOptions {
  readonly host: string;
  readonly port: number;
  readonly auth?: Authenticator;
  /** Largest request body taken; bigger ones get 413. Default 64 KiB. */
  readonly maxBodyBytes?: number;
  /** Requests per second per client address before 429. Default 50. */
  readonly ratePerSecond?: number;
  /** Extra Content-Security-Policy sources, e.g. for a page; default: self only. */
  readonly csp?: string;
  /** Origins allowed by CORS; none by default. */
  readonly corsOrigins?: readonly string[];
}

/** True for 127.0.0.0/8, ::1 and localhost: where no authentication is needed. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/** Constant-time comparison of two secrets of any length. */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  // Compare equal-length buffers only (timingSafeEqual's rule); the length itself may leak, the content not.
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Bearer token or HTTP Basic against `user:password` lines; never logs what it is given. */
export function tokenOrBasicAuth(tokens: readonly string[], users: ReadonlyMap<string, string>): Authenticator {
  return (headers) => {
    const h = headers.authorization;
    if (h === undefined) return false;
    const bearer = /^Bearer\s+(.+)$/i.exec(h);
    if (bearer !== null) return tokens.some((t) => sameSecret(t, bearer[1]!.trim()));
    const basic = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(h);
    if (basic === null) return false;
    const text = Buffer.from(basic[1]!, 'base64').toString('utf8');
    const i = text.indexOf(':');
    if (i < 0) return false;
    const want = users.get(text.slice(0, i));
    return want !== undefined && sameSecret(want, text.slice(i + 1));
  };
}

const json = (status: number, value: unknown): Response => ({ status, headers: { 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify(value) });

export function jsonResponse(value: unknown, status = 200): Response {
  return json(status, value);
}

export function errorResponse(status: number, message: string, extra: Record<string, unknown> = {}): Response {
  return json(status, { error: message, ...extra });
}

/** GET /metrics in the Prometheus exposition format. */
export function metricsHandler(registry: Registry): Handler {
  return async () => ({ status: 200, headers: { 'content-type': registry.contentType }, body: await registry.metrics() });
}

export class HttpServer {
  readonly #routes: Array<{ method: string; path: string | RegExp; handler: Handler }> = [];
  readonly #o: ServerOptions;
  readonly #hits = new Map<string, { second: number; n: number }>();
  #server: http.Server | undefined;
  #port = 0;

  constructor(o: ServerOptions) {
    if (!isLoopback(o.host) && o.auth === undefined) {
      throw new SluiceError('usage', `refusing to serve on ${o.host} without authentication: bind a loopback address (127.0.0.1, ::1) or give --auth`);
    }
    this.#o = o;
  }

  /** Adds a route; a string path matches exactly, a RegExp path the whole path. */
  route(method: 'GET' | 'POST', path: string | RegExp, handler: Handler): this {
    this.#routes.push({ method, path, handler });
    return this;
  }

  get port(): number {
    return this.#port;
  }

  /** `http://HOST:PORT` as a browser would take it. */
  get url(): string {
    const h = this.#o.host;
    return `http://${h.includes(':') ? `[${h}]` : h}:${this.#port}`;
  }

  listen(): Promise<void> {
    const server = http.createServer((req, res) => void this.#serve(req, res));
    server.headersTimeout = 10_000;
    server.requestTimeout = 60_000;
    return new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#o.port, this.#o.host, () => {
        server.off('error', reject);
        const a = server.address();
        this.#port = typeof a === 'object' && a !== null ? a.port : this.#o.port;
        this.#server = server;
        resolve();
      });
    });
  }

  /** Stops taking connections, lets requests in flight finish (up to graceMs), then closes. */
  async stop(graceMs = 5000): Promise<void> {
    const s = this.#server;
    if (s === undefined) return;
    this.#server = undefined;
    s.closeIdleConnections();
    const closed = new Promise<void>((r) => s.close(() => r()));
    const t = setTimeout(() => s.closeAllConnections(), graceMs);
    await closed;
    clearTimeout(t);
  }

  #limited(remote: string): boolean {
    const limit = this.#o.ratePerSecond ?? 50;
    const second = Math.floor(Date.now() / 1000);
    const h = this.#hits.get(remote);
    if (h === undefined || h.second !== second) {
      if (this.#hits.size > 10_000) this.#hits.clear();
      this.#hits.set(remote, { second, n: 1 });
      return false;
    }
    return ++h.n > limit;
  }

  #headers(req: http.IncomingMessage): Record<string, string> {
    const h: Record<string, string> = {
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
      'referrer-policy': 'no-referrer',
      'cache-control': 'no-store',
      // No inline scripts or styles anywhere: everything the page needs is a file of its own.
      'content-security-policy': this.#o.csp ?? "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    };
    const origin = req.headers.origin;
    if (origin !== undefined && this.#o.corsOrigins?.includes(origin)) {
      h['access-control-allow-origin'] = origin;
      h.vary = 'Origin';
    }
    return h;
  }

  async #serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const base = this.#headers(req);
    const send = (r: Response) => {
      if (res.headersSent) return;
      const headers = { ...base, ...r.headers };
      const body = encodeBody(req, headers, r.body);
      res.writeHead(r.status, headers);
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    try {
      const remote = req.socket.remoteAddress ?? '?';
      if (this.#limited(remote)) return send(errorResponse(429, 'too many requests: slow down'));
      if (this.#o.auth !== undefined && !this.#o.auth(req.headers)) {
        return send({ ...errorResponse(401, 'authentication required'), headers: { 'www-authenticate': 'Basic realm="sluice", charset="UTF-8"' } });
      }
      let url: URL;
      try {
        url = new URL(req.url ?? '/', 'http://x');
      } catch {
        return send(errorResponse(400, 'bad request line'));
      }
      const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET');
      const path = decodeURIComponent(url.pathname);
      const route = this.#routes.find((r) => r.method === method && (typeof r.path === 'string' ? r.path === path : r.path.test(path)));
      if (route === undefined) {
        const other = this.#routes.some((r) => (typeof r.path === 'string' ? r.path === path : r.path.test(path)));
        return send(other ? errorResponse(405, `${req.method} is not allowed here`) : errorResponse(404, `nothing at ${path}`));
      }
      const body = await readBody(req, this.#o.maxBodyBytes ?? 64 * 1024);
      if (body === undefined) return send(errorResponse(413, 'request body too large'));
      send(await route.handler({ method, path, query: url.searchParams, headers: req.headers, body, remote }));
    } catch (err) {
      send(errorResponse(500, `internal error: ${(err as Error).message}`));
    }
  }
}

/** Bodies smaller than this go as they are: compressing them saves less than it costs. */
const GZIP_MIN_BYTES = 1024;

/** The body gzipped when the client takes it and it is text worth compressing; else as it is. */
function encodeBody(req: http.IncomingMessage, headers: Record<string, string>, body: string | Buffer): string | Buffer {
  const type = headers['content-type'] ?? '';
  const size = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  if (!/^(text\/|application\/json|image\/svg)/.test(type) || headers['content-encoding'] !== undefined) return body;
  headers.vary = headers.vary === undefined ? 'Accept-Encoding' : `${headers.vary}, Accept-Encoding`;
  if (size < GZIP_MIN_BYTES || !/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) return body;
  headers['content-encoding'] = 'gzip';
  return gzipSync(body, { level: 6 });
}

function readBody(req: http.IncomingMessage, max: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let n = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > max) over = true;
      else parts.push(c);
    });
    req.on('end', () => resolve(over ? undefined : Buffer.concat(parts)));
    req.on('error', reject);
  });
}
