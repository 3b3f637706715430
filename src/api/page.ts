/**
 * The page's files: web/ as shipped in the package (no build step), and uPlot from node_modules
 * under /vendor/, all served by sluice itself (no CDN: the page works on a network without the
 * internet). Read once when mounted; each answer carries an ETag so a reload costs a 304.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HttpServer, Response } from './server.js';

/** Requests per second per client for a server of the page: a page load makes about 20 (files and queries). */
export const PAGE_RATE_PER_SECOND = 100;

/** web/ beside src/ (and beside dist/ once built). */
export const WEB_DIR = fileURLToPath(new URL('../../web/', import.meta.url));

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

interface Asset {
  readonly type: string;
  readonly body: Buffer;
  readonly etag: string;
}

function asset(file: string): Asset {
  const body = readFileSync(file);
  return { type: TYPES[extname(file)] ?? 'application/octet-stream', body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
}

/** URL path -> file: every file of `webDir` (sub-folders too, dot files not), and uPlot's module and style. */
export function pageFiles(webDir: string = WEB_DIR): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (dir: string, prefix: string): void => {
    for (const name of readdirSync(dir).sort()) {
      if (name.startsWith('.')) continue;
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p, `${prefix}${name}/`);
      else if (TYPES[extname(name)] !== undefined) files.set(`${prefix}${name}`, p);
    }
  };
  walk(webDir, '/');
  const uplot = dirname(createRequire(import.meta.url).resolve('uplot'));
  files.set('/vendor/uplot.js', join(uplot, 'uPlot.esm.js'));
  files.set('/vendor/uplot.css', join(uplot, 'uPlot.min.css'));
  files.set('/', files.get('/index.html') ?? join(webDir, 'index.html'));
  return files;
}

/** Adds a GET route per page file; `/` is index.html. */
export function mountPage(server: HttpServer, webDir: string = WEB_DIR): void {
  for (const [path, file] of pageFiles(webDir)) {
    const a = asset(file);
    server.route('GET', path, (req): Response => {
      const headers = { 'content-type': a.type, etag: a.etag, 'cache-control': 'no-cache' };
      if (req.headers['if-none-match'] === a.etag) return { status: 304, headers, body: '' };
      return { status: 200, headers, body: a.body };
    });
  }
}
