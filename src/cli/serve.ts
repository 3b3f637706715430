/**
 * `sluice serve`: the page and the HTTP API over a flow store, in a process of its own (collect may
 * be writing the store meanwhile). Loopback by default; any other address needs --auth, else it
 * refuses to start and says why. Runs until SIGINT/SIGTERM, then lets requests in flight finish.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { loadAuth } from '../api/auth.js';
import { fileExporters } from '../api/exporters.js';
import { directoryHealth } from '../api/health.js';
import { PAGE_RATE_PER_SECOND, mountPage } from '../api/page.js';
import { HttpServer } from '../api/server.js';
import { ApiV1, DEFAULT_API_TIME_LIMIT_MS } from '../api/v1.js';
import { QueryEngine } from '../query/engine.js';
import { storeSegments } from '../query/segments.js';
import { SluiceError } from '../util/errors.js';
import { collectList } from './args.js';
import { parseHostPort } from './collect.js';
import { createLog, type LogLevel } from './log.js';
import { untilSignal } from './signals.js';

interface ServeFlags {
  readonly store: string;
  readonly listen: string;
  readonly auth?: string;
  readonly state?: string;
  readonly timeLimit: number;
  readonly cors: string[];
  readonly logLevel: LogLevel;
}

function seconds(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a number of seconds > 0');
  return n;
}

export function serveCommand(): Command {
  return new Command('serve')
    .description('serve the page and the HTTP API (/api/v1/) over a flow store; another process may be collecting into it')
    .requiredOption('--store <dir>', 'the flow store directory (sluice collect --store DIR or sluice decode --store DIR writes it)')
    .option('--listen <[host:]port>', 'where to serve; any address beyond loopback (127.0.0.1, ::1) needs --auth', '127.0.0.1:8080')
    .option('--auth <file|token>', 'credentials: a file of tokens (Bearer) and user:password lines (Basic), or one token; compared in constant time, never logged')
    .option('--state <dir>', "where collect leaves exporters.json (collect's --state; default STORE/state)")
    .option('--time-limit <seconds>', 'stop a query running longer and answer 503', seconds, DEFAULT_API_TIME_LIMIT_MS / 1000)
    .option('--cors <origin>', 'let a page from this origin call the API (repeatable; none by default)', collectList, [])
    .addOption(new Option('--log-level <level>', 'log level on stderr').choices(['debug', 'info', 'warn', 'error']).default('info'))
    .addHelpText(
      'after',
      `
Examples:
  sluice serve --store /var/lib/sluice                         # http://127.0.0.1:8080/
  sluice serve --store /var/lib/sluice --listen 0.0.0.0:8080 --auth /etc/sluice/web-users
  curl 'http://127.0.0.1:8080/api/v1/top?t=-1h&dim=dstport&unit=bps'   (docs/api.md)`,
    )
    .action(async (o: ServeFlags) => {
      process.exitCode = await runServe(o);
    });
}

async function runServe(o: ServeFlags): Promise<number> {
  // Argument errors throw here, before anything opens: the program reports them and exits 2.
  const at = parseHostPort(o.listen, '--listen');
  const auth = o.auth === undefined ? undefined : loadAuth(o.auth);
  const server = new HttpServer({ host: at.host, port: at.port, auth, ratePerSecond: PAGE_RATE_PER_SECOND, corsOrigins: o.cors });
  if (!existsSync(o.store)) throw new SluiceError('usage', `no store at ${o.store}: sluice collect --store ${o.store} (or sluice decode --store ${o.store} FILE) makes one`);
  const log = createLog(o.logLevel);
  const timeLimitMs = Math.round(o.timeLimit * 1000);
  const engine = await QueryEngine.open({ segments: storeSegments(o.store), timeLimitMs });
  new ApiV1({ engine, exporters: fileExporters(o.state ?? join(o.store, 'state')), health: directoryHealth(o.store, engine), timeLimitMs, log }).mount(server);
  mountPage(server);
  try {
    await server.listen();
  } catch (err) {
    log.error({}, `cannot serve on ${o.listen}: ${(err as Error).message}`);
    engine.close();
    return 1;
  }
  log.info({ url: `${server.url}/`, store: o.store }, `the page and API of ${o.store}: ${server.url}/`);
  const sig = await untilSignal();
  log.info({}, `${sig}: stopping`);
  await server.stop();
  engine.close();
  return 0;
}
