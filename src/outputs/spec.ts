import type { Compression, OutputSpec } from './output.js';
import { checkStrftime } from './strftime.js';
import { parseFormatSpec } from '../format/spec.js';
import { SluiceError } from '../util/errors.js';

/**
 * Parses one `--output` flag into an OutputSpec:
 *   print[?format=json,...]
 *   file:/path/%Y/%m/%d/[?prefix=json.&timeWindow=300&timeAlignment=yes&compression=none|gzip|lz4|zstd]
 *   tcp-server://[host]:port[?blocking=yes]
 *   tcp://host:port[?blocking=yes]   udp://host:port
 *   kafka://broker[,broker...]/topic[?partition=N&blocking=yes&recordsPerMessage=N&<client.property>=value...]
 * Every kind takes `format=json,opt=value...` (as --format). Errors name the flag and the bad part.
 */
export function parseOutputSpec(text: string): OutputSpec {
  const fail = (what: string): never => {
    throw new SluiceError('usage', `--output ${text}: ${what}`);
  };
  const q = text.indexOf('?');
  const head = q < 0 ? text : text.slice(0, q);
  const query = parseQuery(q < 0 ? '' : text.slice(q + 1), fail);
  let format: OutputSpec['format'];
  const fmt = query.take('format');
  if (fmt !== undefined) {
    try {
      format = parseFormatSpec(fmt);
    } catch (err) {
      fail(`format: ${(err as Error).message.replace(/^--format: /, '')}`);
    }
  }
  const bool = (key: string, dflt: boolean): boolean => {
    const v = query.take(key);
    if (v === undefined) return dflt;
    const l = v.toLowerCase();
    if (['yes', 'true', '1'].includes(l)) return true;
    if (['no', 'false', '0'].includes(l)) return false;
    return fail(`${key} takes yes|no, not "${v}"`);
  };
  const base = { name: text, ...(format ? { format } : {}) };
  let spec: OutputSpec;

  if (head === 'print' || head === 'print:') {
    spec = { kind: 'print', ...base };
  } else if (head.startsWith('file:')) {
    const path = head.slice(5);
    if (path === '') fail('file: needs a directory path, e.g. file:/var/lib/sluice/%Y/%m/%d/');
    try {
      checkStrftime(path);
    } catch (err) {
      fail((err as Error).message);
    }
    const prefix = query.take('prefix') ?? 'json.';
    const tw = query.take('timeWindow');
    const timeWindow = tw === undefined ? 300 : Number(tw);
    if (!Number.isInteger(timeWindow) || timeWindow < 60) fail(`timeWindow must be an integer of at least 60 seconds, not "${tw}"`);
    const timeAlignment = bool('timeAlignment', true);
    const c = query.take('compression') ?? 'none';
    if (!['none', 'gzip', 'lz4', 'zstd'].includes(c)) fail(`compression must be none|gzip|lz4|zstd, not "${c}"`);
    spec = { kind: 'file', ...base, path, prefix, timeWindow, timeAlignment, compression: c as Compression };
  } else if (head.startsWith('tcp-server://')) {
    const { host, port } = hostPort(head.slice(13), true, fail);
    spec = { kind: 'server', ...base, host, port, blocking: bool('blocking', false) };
  } else if (head.startsWith('tcp://') || head.startsWith('udp://')) {
    const protocol = head.startsWith('tcp') ? 'tcp' : 'udp';
    const { host, port } = hostPort(head.slice(6), false, fail);
    spec = { kind: 'send', ...base, protocol, host, port, blocking: bool('blocking', false) };
  } else if (head.startsWith('kafka://')) {
    const rest = head.slice(8);
    const slash = rest.indexOf('/');
    if (slash < 0 || slash === rest.length - 1) fail('kafka needs kafka://broker:port[,broker:port...]/topic');
    const brokers = rest.slice(0, slash).split(',').filter((b) => b !== '');
    if (brokers.length === 0) fail('kafka needs at least one broker');
    for (const b of brokers) hostPort(b, false, fail);
    const topic = rest.slice(slash + 1);
    if (topic.includes('/')) fail(`bad topic "${topic}"`);
    const p = query.take('partition');
    let partition: number | undefined;
    if (p !== undefined && p !== 'unassigned') {
      partition = Number(p);
      if (!Number.isInteger(partition) || partition < 0) fail(`partition must be an integer >= 0 or "unassigned", not "${p}"`);
    }
    const blocking = bool('blocking', false);
    const rpm = query.take('recordsPerMessage');
    let recordsPerMessage: number | undefined;
    if (rpm !== undefined) {
      recordsPerMessage = Number(rpm);
      if (!/^\d+$/.test(rpm) || recordsPerMessage < 1 || recordsPerMessage > 1_000_000) fail(`recordsPerMessage must be an integer in 1..1000000, not "${rpm}"`);
    }
    spec = {
      kind: 'kafka',
      ...base,
      kafka: { brokers, topic, ...(partition !== undefined ? { partition } : {}), ...(recordsPerMessage !== undefined ? { recordsPerMessage } : {}), properties: query.rest(), blocking },
    };
  } else {
    return fail(`unknown output "${head}" (use print, file:PATH, tcp-server://:PORT, tcp://HOST:PORT, udp://HOST:PORT, kafka://BROKER/TOPIC)`);
  }
  if (spec.kind !== 'kafka') {
    const left = Object.keys(query.rest());
    if (left.length > 0) fail(`unknown option "${left[0]}" for ${spec.kind}`);
  }
  return spec;
}

function parseQuery(q: string, fail: (what: string) => never) {
  const m = new Map<string, string>();
  for (const kv of q.split('&')) {
    if (kv === '') continue;
    const eq = kv.indexOf('=');
    if (eq <= 0) fail(`option "${kv}" needs key=value`);
    const k = kv.slice(0, eq);
    if (m.has(k)) fail(`option "${k}" given twice`);
    m.set(k, decodeURIComponent(kv.slice(eq + 1)));
  }
  return {
    take(k: string): string | undefined {
      const v = m.get(k);
      m.delete(k);
      return v;
    },
    rest(): Record<string, string> {
      return Object.fromEntries(m);
    },
  };
}

function hostPort(s: string, hostOptional: boolean, fail: (what: string) => never): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:/]*)):(\d+)$/.exec(s);
  if (!m) return fail(`expected HOST:PORT${hostOptional ? ' or :PORT' : ''}, not "${s}"`);
  const host = m[1] ?? m[2] ?? '';
  const port = Number(m[3]);
  if (port > 65535) fail(`port ${port} out of range`);
  if (host === '' && !hostOptional) fail(`"${s}" needs a host`);
  return { host, port };
}
