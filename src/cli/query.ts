/**
 * `sluice query`: nfdump's habits over the flow store. Filter words after the options are joined
 * by spaces, as nfdump does. Exit 2 on usage errors (a caret under the filter or window column),
 * 1 on failures (I/O, the time limit), 0 otherwise; an empty store is not an error.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { QueryEngine } from '../query/engine.js';
import { parseFilter } from '../query/filter-parse.js';
import { QuerySyntaxError, QueryUsageError, SqlRefusedError } from '../query/errors.js';
import { OUTPUT_FORMATS, flowsText, formatAggregate, formatSeries, formatSql, formatTotals, type OutputFormat } from '../query/format.js';
import { totalsTable } from '../query/format-table.js';
import { parseAggregation, parseStat, type KeyName, type NetMasks, type Order } from '../query/keys.js';
import { storeSegments } from '../query/segments.js';
import { parseInterval, parseWindow, type TimeWindow } from '../query/window.js';

interface QueryFlags {
  store: string;
  time?: string;
  stat: string[];
  aggregate?: string;
  series?: string;
  top: number;
  count?: number;
  offset: number;
  newest?: boolean;
  mask?: number;
  mask6?: number;
  totals?: boolean;
  format: OutputFormat;
  sql?: string;
  timeLimit: number;
}

function intIn(min: number, max: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < min || n > max) throw new InvalidArgumentError(`must be an integer from ${min} to ${max}`);
    return n;
  };
}

function seconds(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError('must be a number of seconds >= 0 (0: no limit)');
  return n;
}

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

/** Writes to stdout, waiting when the pipe is full; false once stdout is gone (a reader like `head` quit). */
function writer(): (text: string) => Promise<boolean> {
  let closed = false;
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') closed = true;
    else throw e;
  });
  return async (text) => {
    if (closed) return false;
    if (text.length === 0 || process.stdout.write(text)) return !closed;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        process.stdout.off('drain', done);
        process.stdout.off('close', done);
        resolve();
      };
      process.stdout.on('drain', done).on('close', done);
    });
    return !closed;
  };
}

interface Plan {
  readonly mode: 'sql' | 'series' | 'aggregate' | 'stats' | 'totals' | 'flows';
  readonly window?: TimeWindow;
  readonly filter: string;
  readonly stats: { key: KeyName; order: Order }[];
  readonly aggregate?: { keys: KeyName[]; order: Order };
  readonly intervalMs?: number;
  readonly masks: NetMasks;
}

/** Checks the flags together (QueryUsageError, or WindowError for -t/--series) before anything runs. */
function plan(o: QueryFlags, filterWords: string[]): Plan {
  const filter = filterWords.join(' ');
  parseFilter(filter); // a bad filter is reported before any output
  const window = o.time === undefined ? undefined : parseWindow(o.time);
  const stats = o.stat.map(parseStat);
  const masks: NetMasks = { v4: o.mask, v6: o.mask6 };
  const aggregate = o.aggregate === undefined ? undefined : parseAggregation(o.aggregate);
  const base = { window, filter, stats, aggregate, masks };
  if (o.sql !== undefined) {
    if (filter !== '' || stats.length > 0 || aggregate !== undefined || o.series !== undefined || o.totals === true) {
      throw new QueryUsageError('--sql takes no filter, -s, -A, --series or --totals (put conditions in the SQL; -t still limits the views)');
    }
    return { ...base, mode: 'sql' };
  }
  if (o.series !== undefined) {
    if (aggregate !== undefined || stats.length > 1) throw new QueryUsageError('--series splits by at most one -s ELEMENT[/ORDER] and takes no -A');
    return { ...base, mode: 'series', intervalMs: parseInterval(o.series) };
  }
  if (aggregate !== undefined && stats.length > 0) throw new QueryUsageError('give -s or -A, not both');
  if (stats.length > 1 && o.format !== 'table') throw new QueryUsageError(`several -s need --format table; with ${o.format} give one -s per query`);
  if (o.totals === true && (aggregate !== undefined || stats.length > 0)) throw new QueryUsageError('--totals prints the totals only: it takes no -s or -A');
  const mode = aggregate !== undefined ? 'aggregate' : stats.length > 0 ? 'stats' : o.totals === true ? 'totals' : 'flows';
  return { ...base, mode };
}

async function run(o: QueryFlags, filterWords: string[]): Promise<number> {
  const p = plan(o, filterWords);
  const out = writer();
  const engine = await QueryEngine.open({ segments: storeSegments(o.store), timeLimitMs: Math.round(o.timeLimit * 1000) });
  try {
    const scope = { filter: p.filter, window: p.window };
    const top = o.top === 0 ? undefined : o.top;
    switch (p.mode) {
      case 'sql': {
        const r = await engine.sql(o.sql!, { window: p.window, maxRows: o.count });
        await out(formatSql(r, o.format));
        if (r.truncated) process.stderr.write(`sluice query: only the first ${r.rows.length} rows are shown (-c N for more)\n`);
        break;
      }
      case 'series': {
        const split = p.stats[0] === undefined ? undefined : { key: p.stats[0].key, order: p.stats[0].order, limit: o.top, masks: p.masks };
        await out(formatSeries(await engine.series({ ...scope, intervalMs: p.intervalMs!, split }), o.format));
        break;
      }
      case 'aggregate':
        await out(formatAggregate(await engine.aggregate({ ...scope, keys: p.aggregate!.keys, order: p.aggregate!.order, limit: top, masks: p.masks }), o.format, top));
        break;
      case 'stats':
        for (const [i, s] of p.stats.entries()) {
          const r = await engine.aggregate({ ...scope, keys: [s.key], order: s.order, limit: top, masks: p.masks });
          if (!(await out((i > 0 ? '\n' : '') + formatAggregate(r, o.format, top)))) break;
        }
        break;
      case 'totals':
        await out(formatTotals(await engine.totals(scope), o.format));
        break;
      case 'flows': {
        const text = flowsText(o.format);
        if (!(await out(text.header))) break;
        let open = true;
        for await (const batch of engine.flowBatches({ ...scope, limit: o.count, offset: o.offset, newestFirst: o.newest === true })) {
          if (!(open = await out(text.rows(batch)))) break;
        }
        // nfdump's habit: the summary after the flows (table only; csv and json stay machine-readable).
        if (open && o.format === 'table') await out(`\n${totalsTable(await engine.totals(scope))}\n`);
        break;
      }
    }
    return 0;
  } finally {
    engine.close();
  }
}

/** The message for a failed query and its exit code (2: the user's input, 1: the run). */
export function describeQueryError(e: unknown): { text: string; code: number } {
  if (e instanceof QuerySyntaxError) {
    const shown = e.render().split('\n').map((l) => `  ${l}`).join('\n');
    return { text: `sluice query: ${e.message}\n${shown}\n`, code: 2 };
  }
  if (e instanceof QueryUsageError || e instanceof SqlRefusedError) return { text: `sluice query: ${e.message}\n`, code: 2 };
  return { text: `sluice query: ${e instanceof Error ? e.message : String(e)}\n`, code: 1 };
}

const HELP = `
Filter (nfdump syntax; words after the options are joined by spaces; keywords in any case):
  ip|host ADDR, src ip ADDR, dst ip ADDR, net 10.0.0.0/8, net 10.0.0.0 255.0.0.0, src net, dst net
  port [CMP] N, src port, dst port, proto tcp|udp|icmp|icmp6|gre|esp|N, as N, src as, dst as
  in if N, out if N, if N, router ip ADDR (the exporter; also: exporter ADDR), flags SAFRPUEC (all set)
  tos N, vlan N, packets|bytes|duration|bps|pps|bpp [CMP] N[k|m|g]   (duration in ms)
  ipv4|inet, ipv6|inet6, any; lists: port in [80 443], src ip in [10.0.0.1 10.0.0.0/24], as in [...]
  and (&&), or (||), not (!), ( ); CMP: = == eq > gt < lt >= ge <= le; not > and > or
  Counters (packets, bytes and the rates) are scaled by the stored sampling rate, as everywhere.
  Ports as nfdump: 0 when a flow has none; ICMP type * 256 + code as the destination port.

Elements (-s ELEMENT[/ORDER], -A KEY,KEY[/ORDER]):
  srcip dstip ip srcport dstport port proto srcas dstas as inif outif if exporter srcnet dstnet
  ip, port, as and if count each flow under its source and its destination value (nfdump's way).
  srcnet/dstnet use --mask/--mask6, else each flow's own prefix length, else the full address.
  ORDER: flows (default) packets bytes bps pps bpp; bps/pps over each group's first to last seen.

Time window (-t): -1h, -30m, -7d, -90s, START/END or START alone; START and END are ISO 8601
  (2024-05-01T10:00:00Z, offsets allowed) or nfdump's yyyy/MM/dd.hh:mm:ss (or a prefix of it).
  UTC unless the ISO text has an offset. A flow is in [START, END) by its end time (its receive
  time when it has no end).

Examples:
  sluice query --store /var/lib/sluice -t -1h                        # raw flows of the last hour, oldest first
  sluice query --store /var/lib/sluice -t -1h -c 20 --newest proto tcp and port 443
  sluice query --store /var/lib/sluice -t -1d -s srcip/bytes -n 20   # top talkers by bytes
  sluice query --store /var/lib/sluice -s dstport -s proto/packets 'src net 10.0.0.0/8'
  sluice query --store /var/lib/sluice -A srcnet,dstport/bytes --mask 24 not ip 10.0.0.1
  sluice query --store /var/lib/sluice -t 2024/05/01.10:00/2024/05/01.11:00 --series 5m -s dstport/bytes -n 5
  sluice query --store /var/lib/sluice --totals --format json 'flags S and not flags A'
  sluice query --store /var/lib/sluice --sql "SELECT ip_text(src_addr) AS src, sum(bytes * sampling) AS b
                                              FROM flows GROUP BY src_addr ORDER BY b DESC LIMIT 5"
  (--sql: one SELECT over views flows, options, counters; macros ip_text, mac_text, tcp_flags_text)

Exit status: 0 done (an empty store too), 2 usage error, 1 failure (I/O, time limit).`;

/** `sluice query`. */
export function queryCommand(): Command {
  const cmd = new Command('query')
    .description('query the flow store the nfdump way: raw flows, totals, top-N statistics (-s), aggregation (-A), time series, or read-only SQL')
    .argument('[filter...]', 'nfdump filter, e.g. proto tcp and dst port 443 (the words are joined by spaces)')
    .requiredOption('--store <dir>', 'the flow store directory')
    .option('-t, --time <window>', 'time window: -1h, -30m, -7d, START/END or START (ISO 8601 or yyyy/MM/dd.hh:mm:ss)')
    .option('-s, --stat <element[/order]>', 'top N of an element by an order (default flows); repeatable', collect, [])
    .option('-A, --aggregate <keys[/order]>', 'aggregate by several keys, comma-separated, e.g. srcip,dstport/bytes')
    .option('--series <interval>', 'one row per interval (1m, 5m, 1h, 1d); with one -s: split by its top -n values plus "other"')
    .option('-n, --top <n>', 'rows of -s/-A (0: all), values of a --series split', intIn(0, 1_000_000), 10)
    .option('-c, --count <n>', 'raw flows (or --sql rows) to print at most', intIn(0, Number.MAX_SAFE_INTEGER))
    .option('--offset <n>', 'raw flows to skip first (paging)', intIn(0, Number.MAX_SAFE_INTEGER), 0)
    .option('--newest', 'raw flows newest first (default: oldest first, as nfdump)')
    .option('--mask <bits>', 'IPv4 prefix length for srcnet/dstnet', intIn(0, 32))
    .option('--mask6 <bits>', 'IPv6 prefix length for srcnet/dstnet', intIn(0, 128))
    .option('--totals', 'print only the totals of the matched flows')
    .addOption(new Option('--format <format>', 'table (human units, percentages, summary), csv (raw numbers), json (arrays; raw flows as IPFIXcol2 JSON lines)').choices(OUTPUT_FORMATS).default('table'))
    .option('--sql <statement>', 'run one read-only SELECT over views flows, options, counters (see docs/query.md)')
    .option('--time-limit <seconds>', 'stop a query running longer (0: no limit)', seconds, 300)
    .addHelpText('after', HELP)
    .showHelpAfterError('(sluice query --help shows the filter language, the elements and examples)')
    // Usage errors exit 2 (commander's own would be 1); help and version exit 0.
    .exitOverride((err: CommanderError) => {
      process.exit(err.exitCode === 0 ? 0 : 2);
    })
    .action(async (filterWords: string[], o: QueryFlags) => {
      try {
        process.exitCode = await run(o, filterWords);
      } catch (e) {
        const d = describeQueryError(e);
        process.stderr.write(d.text);
        process.exitCode = d.code;
      }
    });
  return cmd;
}
