/**
 * `sluice relay`: samplicator's command line on sluice's replication engine (src/relay/).
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import {
  formatRelayCounters,
  listenRelay,
  parseAddress,
  parseReceiver,
  parseRelayConfig,
  ReceiverSyntaxError,
  RelayConfigError,
  Replicator,
  resolveReceiver,
  resolveRules,
  SpoofUnavailableError,
  type Family,
  type ReceiverSpec,
  type RelayListener,
  type SourceRule,
} from '../relay/index.js';

export interface RelayCliOptions {
  readonly p: number;
  readonly s?: string;
  readonly b: number;
  readonly c?: string;
  readonly d: number;
  readonly f?: boolean;
  readonly m?: string;
  readonly n?: boolean;
  readonly S?: boolean;
  readonly x: number;
  readonly '4'?: boolean;
  readonly '6'?: boolean;
}

const DAEMON_ENV = 'SLUICE_RELAY_DAEMON_CHILD';

function intIn(min: number, max: number) {
  return (v: string): number => {
    if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`must be a whole number ${min}-${max}`);
    const n = Number(v);
    if (n < min || n > max) throw new InvalidArgumentError(`must be ${min}-${max}`);
    return n;
  };
}

const HELP_AFTER = `
Receivers: addr[/port[/interval[,ttl]]][/S|/P]
  addr       IPv4 address, [IPv6] address in brackets, or a host name (looked up once at start)
  port       UDP port (default 2000)
  interval   send 1 in N datagrams: the first, then every Nth (default 1: every one)
  ttl        IPv4 TTL / IPv6 hop limit of the copies, 1-255
  /S         spoof the source for this receiver; /P never spoof it (even with -S)

Config file (-c), samplicator's format: one rule per line, "#" starts a comment
  a.b.c.d[/mask]: receiver receiver ...    mask as a length (24) or dotted (255.255.255.0)
  [2001:db8::]/32: receiver ...            IPv6 sources in brackets, with a prefix length
  0.0.0.0/0: receiver                      every source
A datagram goes to every command-line receiver and to the receivers of every rule its source matches.

Spoofing (-S, /S) keeps the exporter's address and port, so collectors still see the device. It
needs raw sockets (root, or CAP_NET_RAW: sudo setcap cap_net_raw+ep "$(readlink -f "$(command -v node)")")
and sluice's native addon (built by npm ci; rebuild with npm run build:native). IPv4 and IPv6; a
datagram beyond the path MTU is fragmented. An IPv6 exporter cannot be spoofed towards an IPv4
receiver (and the reverse): such copies are counted as family-mismatch.

Every loss is counted per receiver and reason (unreachable, too-big, queue-full, buffer-full,
family-mismatch, send-error) and never stops the relay or the other receivers. The counters are
printed on SIGUSR1 and when the relay stops (SIGINT/SIGTERM).

Examples:
  sluice relay -p 2055 10.0.0.5/2055 10.0.0.6/9995/10            # all to one, 1 in 10 to another
  sluice relay -p 2055 -S 10.0.0.5/2055 '[2001:db8::5]/2055'     # spoof the exporters' addresses
  sluice relay -p 6343 10.0.0.5/6343/1/S 10.0.0.7/6343           # spoof for one receiver only
  sluice relay -p 2055 -c /etc/sluice/relay.conf -f -m /run/sluice-relay.pid`;

export function relayCommand(): Command {
  return new Command('relay')
    .description("receive UDP datagrams and send a copy of each to every receiver (samplicator's command line)")
    .usage('[-p port] [-s address] [-b bufsize] [-c configfile] [-d level] [-f] [-m pidfile] [-n] [-S] [-x delay_us] [-4|-6] [-h] [receiver ...]')
    .argument('[receivers...]', 'where copies go: addr[/port[/interval[,ttl]]][/S|/P] (see below)')
    .option('-p <port>', 'UDP port to listen on', intIn(0, 65535), 2000)
    .option('-s <address>', 'address to listen on (default: every IPv4 and IPv6 address)')
    .option('-b <bufsize>', 'socket receive buffer in bytes', intIn(1, 2 ** 31 - 1), 65536)
    .option('-c <configfile>', 'samplicator config file: lines "a.b.c.d[/mask]: receiver ..." select receivers by source')
    .option('-d <level>', 'debug level: 1 or more prints one line per datagram (source, length, receivers) on stderr', intIn(0, 100), 0)
    .option('-f', 'fork into the background once the relay is running')
    .option('-m <pidfile>', 'write the process id to this file')
    .option('-n', "leave the UDP checksum zero on spoofed IPv4 copies (IPv6 always has one)")
    .option('-S', 'spoof: keep the exporter\'s source address and port on every receiver without /P')
    .option('-x <delay_us>', 'wait this many microseconds after each send (blocks the relay, as samplicator does)', intIn(0, 10_000_000), 0)
    .option('-4', 'IPv4 only (listen on 0.0.0.0, resolve host names to IPv4)')
    .option('-6', 'IPv6 only (listen on ::, resolve host names to IPv6)')
    .helpOption('-h', 'print this help and exit')
    .addHelpText('after', HELP_AFTER)
    .action(async (receivers: string[], o: RelayCliOptions) => {
      process.exitCode = await runRelay(receivers, o);
    });
}

/** stderr, or the parent over IPC while a daemon child is starting (its stderr goes nowhere). */
function say(text: string): void {
  if (process.env[DAEMON_ENV] === '1') {
    if (process.connected) process.send?.({ say: text });
  } else process.stderr.write(text);
}

const fail = (msg: string): number => {
  say(`sluice relay: ${msg}\n`);
  return 2;
};

/** Runs until SIGINT/SIGTERM; returns the exit code. */
export async function runRelay(receiverArgs: readonly string[], o: RelayCliOptions): Promise<number> {
  if (o['4'] && o['6']) return fail('-4 and -6 exclude each other');
  const family: Family | undefined = o['4'] ? 4 : o['6'] ? 6 : undefined;
  const specs: ReceiverSpec[] = [];
  for (const text of receiverArgs) {
    try {
      specs.push(parseReceiver(text));
    } catch (err) {
      if (err instanceof ReceiverSyntaxError) return fail(`receiver "${text}", column ${err.column}: ${err.message}`);
      throw err;
    }
  }
  let rules: SourceRule[] = [];
  if (o.c !== undefined) {
    let text: string;
    try {
      text = readFileSync(o.c, 'utf8');
    } catch (err) {
      return fail(`cannot read config file: ${(err as Error).message}`);
    }
    try {
      rules = parseRelayConfig(text, o.c);
    } catch (err) {
      if (err instanceof RelayConfigError) return fail(`config file has ${err.problems.length} problem(s):\n${err.message}`);
      throw err;
    }
  }
  if (specs.length + rules.reduce((n, r) => n + r.receivers.length, 0) === 0) {
    return fail('no receivers: give at least one on the command line (addr/port) or in a config file (-c); see sluice relay -h');
  }
  if (o.s !== undefined && parseAddress(o.s) === undefined) return fail(`-s ${o.s}: not an IP address`);

  if (o.f && process.env[DAEMON_ENV] !== '1') return daemonize();

  let replicator: Replicator;
  try {
    const resolved = await Promise.all(specs.map((s) => resolveReceiver(s, family)));
    const resolvedRules = await resolveRules(rules, family);
    replicator = await Replicator.open(resolved, {
      rules: resolvedRules,
      spoof: o.S ?? false,
      zeroChecksum: o.n ?? false,
      delayUs: o.x,
      debug: o.d > 0 ? (line) => say(`${line}\n`) : undefined,
      log: (line) => say(`${line}\n`),
    });
  } catch (err) {
    if (err instanceof SpoofUnavailableError) {
      say(`sluice relay: ${err.message}\n`);
      return 1;
    }
    say(`sluice relay: ${(err as Error).message}\n`);
    return 1;
  }

  let socket: RelayListener;
  try {
    socket = await listenRelay(replicator, { host: o.s, port: o.p, recvBufferBytes: o.b, family, onError: (err) => say(`sluice relay: receive error: ${err.message}\n`) });
  } catch (err) {
    await replicator.close(0);
    say(`sluice relay: cannot listen on ${o.s ?? 'any address'} port ${o.p}: ${(err as Error).message}\n`);
    return 1;
  }
  const granted = socket.recvBufferSize();
  // Linux reports twice the size it was asked for (the doubling covers its bookkeeping).
  if (granted < o.b) say(`sluice relay: warning: asked for a ${o.b}-byte receive buffer, got ${granted} (raise net.core.rmem_max)\n`);
  if (o.m !== undefined) writeFileSync(o.m, `${process.pid}\n`);

  // Signal handlers before the "listening" line: whoever waits for that line may signal at once.
  const onUsr1 = () => say(`sluice relay: ${formatRelayCounters(replicator.counters)}\n`);
  process.on('SIGUSR1', onUsr1);
  const stopped = new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });

  const addr = socket.address();
  const spoofed = replicator.counters.receivers.filter((r) => r.spoofed).length;
  say(
    `sluice relay: listening on ${addr.address} port ${addr.port}, ${replicator.counters.receivers.length} receiver(s)` +
      `${spoofed > 0 ? `, ${spoofed} spoofed` : ''}${rules.length > 0 ? `, ${rules.length} source rule(s) from ${o.c}` : ''}` +
      `, receiving ${socket.kind === 'batched' ? 'in batches (native addon)' : 'one datagram at a time (node:dgram; the native addon is not built)'}\n`,
  );
  if (process.env[DAEMON_ENV] === '1' && process.connected) {
    process.send?.({ ready: true, port: addr.port }, () => process.disconnect());
  }

  await stopped;
  process.off('SIGUSR1', onUsr1);
  await socket.close();
  await replicator.close();
  say(`sluice relay: stopped: ${formatRelayCounters(replicator.counters)}\n`);
  return 0;
}

/**
 * -f: Node cannot fork(), so start the same command again, detached, without a terminal, and wait
 * until it reports that it listens (or fails), so the exit code still tells whether it started.
 */
function daemonize(): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
      detached: true,
      stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
      env: { ...process.env, [DAEMON_ENV]: '1' },
    });
    let done = false;
    child.on('message', (m: { ready?: boolean; port?: number; say?: string }) => {
      if (typeof m.say === 'string') process.stderr.write(m.say);
      if (m.ready !== true || done) return;
      done = true;
      child.unref();
      process.stderr.write(`sluice relay: running in the background as pid ${child.pid} (port ${m.port})\n`);
      resolve(0);
    });
    child.on('exit', (code) => {
      if (done) return;
      done = true;
      resolve(code === 0 || code === null ? 1 : code);
    });
  });
}
