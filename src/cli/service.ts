/**
 * `sluice run | start | stop | status | check-config`: the configured service (FlowLink-compatible
 * YAML). `run` stays in the foreground; `start` runs the same `run` in the background and reports
 * whether it came up; `stop` and `status` find the running instance with no arguments.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import pino from 'pino';
import { createDeliveryPipeline } from '../outputs/upload/delivery.js';
import { ConfigError, loadServiceConfig, type ServiceConfig } from '../service/config.js';
import { alive, instances, pidFile, register, runningPid, runtimeDir, unregister, type Instance } from '../service/daemon.js';
import { createLineSource } from '../service/line-sources.js';
import { ServiceRuntime } from '../service/runtime.js';
import type { CreateDeliveryPipeline, DeliveryPipeline } from '../outputs/upload/delivery.js';
import { SluiceError } from '../util/errors.js';

function loadOrReport(file: string, after = 'nothing was started.'): ServiceConfig | undefined {
  try {
    return loadServiceConfig(file);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n${after}\n`);
      return undefined;
    }
    throw err;
  }
}

/** What check-config prints: what would run. Never a secret. */
export function describeConfig(cfg: ServiceConfig): string[] {
  const lines: string[] = [];
  for (const c of cfg.consumers) {
    const conns = c.connectors.map((k) => {
      if (k.type === 'kafka') return `kafka topics ${k.topics.join(',')} group ${k.group} at ${k.brokers.join(',')}`;
      if (k.type === 'aws') return `aws CloudWatch Logs group ${k.logGroupName} in ${k.region}${k.credentials ? ' (credentials given)' : ' (default credential chain)'}`;
      return `${k.type} ports ${k.ports.join(',')}${k.remoteAddrs ? ` from ${k.remoteAddrs.length} allowed address(es)/prefix(es)` : ''}`;
    });
    lines.push(`consumer ${c.name}: ${c.parser.type} over ${conns.join('; ')}`);
  }
  for (const l of cfg.listeners) lines.push(`listener ${l.text}`);
  lines.push(cfg.pce ? `PCE ${cfg.pce.url}, org ${cfg.pce.orgId}, key id ${cfg.pce.keyId}` : 'no PCE upload');
  for (const h of cfg.http) lines.push(`http output ${h.name}: ${h.format}${h.gzip ? '+gzip' : ''} to ${h.url}`);
  for (const o of cfg.outputs) lines.push(`output ${o.name}`);
  lines.push(`aggregation every ${cfg.aggregationMinutes} min; data_directory ${cfg.dataDirectory} (at most ${cfg.dataDirectorySizeMb} MB, ${cfg.fileRetentionHours} h); metrics printed every ${cfg.metricsPrintSeconds} s${cfg.metricsListen ? `, served on ${cfg.metricsListen.host}:${cfg.metricsListen.port}` : ''}`);
  for (const c of cfg.consumers) if (c.forwardTo.length > 0) lines.push(`consumer ${c.name}: forwards its UDP datagrams to ${c.forwardTo.join(', ')}`);
  for (const r of cfg.relays) lines.push(`relay ${r.name}: ${r.listen.join(', ')} -> ${r.receivers.join(', ')}${r.spoof ? ' (spoofing by default)' : ''}`);
  return lines;
}

/** The delivery side (src/pipeline/delivery.ts): aggregation, PCE/http upload and spool. */
function deliveryFactory(cfg: ServiceConfig): CreateDeliveryPipeline {
  if (cfg.pce === undefined && cfg.http.length === 0) {
    // Only the raw JSON outputs: nothing to aggregate or upload.
    return (): DeliveryPipeline => ({ push() {}, async start() {}, async stop() {} });
  }
  return createDeliveryPipeline;
}

interface RunOptions {
  config: string;
  debug?: boolean;
  logFile?: string;
}

/** `sluice run`: runs until SIGTERM/SIGINT, then stops gracefully. Resolves with the exit code. */
export async function runService(o: RunOptions): Promise<number> {
  const cfg = loadOrReport(o.config);
  if (cfg === undefined) return 1;
  mkdirSync(cfg.dataDirectory, { recursive: true });
  const dest = o.logFile !== undefined ? pino.destination({ dest: o.logFile, sync: true, mkdir: true, append: true }) : pino.destination({ fd: 2, sync: true });
  const log = pino({ level: o.debug ? 'debug' : 'info', base: { pid: process.pid } }, dest);
  const other = runningPid(cfg.dataDirectory);
  if (other !== undefined && other !== process.pid) {
    const msg = `another sluice (pid ${other}) runs with data_directory ${cfg.dataDirectory} (${pidFile(cfg.dataDirectory)}); stop it first`;
    log.error({}, msg);
    if (o.logFile !== undefined) process.stderr.write(`sluice: ${msg}\n`);
    return 1;
  }
  let rt: ServiceRuntime;
  try {
    rt = new ServiceRuntime(cfg, { createDelivery: deliveryFactory(cfg), log, debug: o.debug, lineSource: createLineSource });
    await rt.start();
  } catch (err) {
    log.error({}, `not started: ${(err as Error).message}`);
    if (o.logFile !== undefined) process.stderr.write(`sluice: not started: ${(err as Error).message}\n`);
    return 1;
  }
  const inst: Instance = { pid: process.pid, config: path.resolve(o.config), dataDirectory: cfg.dataDirectory, logFile: o.logFile, startedAt: new Date().toISOString() };
  register(inst);
  log.info({ config: inst.config, listening: rt.listening }, `sluice running (pid ${process.pid}) with ${o.config}`);
  const sig = await new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  log.info({}, `${sig}: stopping (draining consumers, flushing the aggregation window)`);
  const again = () => log.warn({}, 'still stopping: delivering the last window');
  process.on('SIGINT', again);
  process.on('SIGTERM', again);
  let code = 0;
  try {
    await rt.stop();
  } catch (err) {
    log.error({}, `stop: ${(err as Error).message}`);
    code = 1;
  }
  unregister(inst);
  log.info({}, 'sluice stopped');
  return code;
}

function pickOne(config: string | undefined, verb: string): Instance | undefined | 'ambiguous' {
  const list = instances(config);
  if (list.length > 1) {
    process.stderr.write(`sluice ${verb}: ${list.length} instances are running; pick one with --config:\n${list.map((i) => `  pid ${i.pid}  ${i.config}`).join('\n')}\n`);
    return 'ambiguous';
  }
  return list[0];
}

async function startService(o: RunOptions & { timeout: number }): Promise<number> {
  const cfg = loadOrReport(o.config);
  if (cfg === undefined) return 1;
  const running = instances(o.config)[0];
  if (running !== undefined) {
    process.stdout.write(`sluice is already running (pid ${running.pid}) with ${running.config}\n`);
    return 1;
  }
  mkdirSync(cfg.dataDirectory, { recursive: true });
  const logFile = path.resolve(o.logFile ?? path.join(cfg.dataDirectory, 'sluice.log'));
  mkdirSync(path.dirname(logFile), { recursive: true });
  const fd = openSync(logFile, 'a');
  const args = [...process.execArgv, process.argv[1]!, 'run', '--config', path.resolve(o.config), '--log-file', logFile];
  if (o.debug) args.push('--debug');
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', fd, fd], env: process.env });
  closeSync(fd);
  let exited: number | null | undefined;
  child.on('exit', (code) => (exited = code));
  const t0 = Date.now();
  while (Date.now() - t0 < o.timeout * 1000) {
    await new Promise((r) => setTimeout(r, 100));
    if (exited !== undefined) break;
    if (instances(o.config).some((i) => i.pid === child.pid)) {
      child.unref();
      process.stdout.write(`sluice started (pid ${child.pid}); logging to ${logFile}\n`);
      return 0;
    }
  }
  let tail = '';
  try {
    tail = readFileSync(logFile, 'utf8').split('\n').slice(-8).join('\n');
  } catch {
    // no log
  }
  if (exited === undefined) {
    child.kill('SIGTERM');
    process.stdout.write(`sluice did not start within ${o.timeout} s (killed pid ${child.pid}); see ${logFile}\n${tail}\n`);
  } else process.stdout.write(`sluice failed to start (exit ${exited}); see ${logFile}:\n${tail}\n`);
  return 1;
}

async function stopService(o: { config?: string; timeout: number }): Promise<number> {
  const inst = pickOne(o.config, 'stop');
  if (inst === 'ambiguous') return 2;
  if (inst === undefined) {
    process.stdout.write(`sluice is not running${o.config ? ` with ${o.config}` : ''}\n`);
    return 1;
  }
  process.kill(inst.pid, 'SIGTERM');
  const t0 = Date.now();
  while (alive(inst.pid)) {
    if (Date.now() - t0 > o.timeout * 1000) {
      process.stdout.write(`sluice (pid ${inst.pid}) is still stopping after ${o.timeout} s${inst.logFile ? `; see ${inst.logFile}` : ''}\n`);
      return 1;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  process.stdout.write(`sluice stopped (pid ${inst.pid})\n`);
  return 0;
}

function statusService(o: { config?: string }): number {
  const inst = pickOne(o.config, 'status');
  if (inst === 'ambiguous') return 2;
  if (inst === undefined) {
    process.stdout.write('STOPPED\n');
    return 3; // LSB: program is not running
  }
  process.stdout.write(`RUNNING (pid ${inst.pid}) config ${inst.config}${inst.logFile ? ` log ${inst.logFile}` : ''}\n`);
  return 0;
}

const SERVICE_HELP = `
The service configuration is FlowLink's YAML file (pce_addr, api_key, org_id, data_directory,
aggregation_minutes, consumers of parser netflow|ipfix|sflow|aws|text over connectors
udp|tcp|kafka|aws) plus sluice's outputs (a store among them), http, listeners, relays/forward_to and
metrics; see docs/service.md and schema/sluice-config.schema.json.`;

/** run, start, stop, status and check-config. */
export function serviceCommands(): Command[] {
  const timeout = (v: string) => {
    const n = Number(v);
    if (!(n > 0)) throw new SluiceError('usage', 'must be a positive number of seconds');
    return n;
  };
  const run = new Command('run')
    .description('run the configured service (FlowLink-compatible YAML) in the foreground until SIGINT/SIGTERM')
    .requiredOption('-c, --config <file>', 'service configuration (YAML)')
    .option('--debug', "log each incoming record's addresses, ports and protocol, and each aggregation and upload")
    .option('--log-file <file>', 'write the log (JSON lines) to this file instead of stderr')
    .addHelpText('after', `${SERVICE_HELP}\n\nExamples:\n  sluice run --config /etc/sluice/flowlink.yaml\n  sluice run --config flowlink.yaml --debug`)
    .action(async (o: RunOptions) => {
      process.exitCode = await runService(o);
    });
  const start = new Command('start')
    .description('start the configured service in the background; reports whether it started')
    .requiredOption('-c, --config <file>', 'service configuration (YAML)')
    .option('--log-file <file>', 'log file (default: <data_directory>/sluice.log)')
    .option('--debug', 'as for run')
    .option('--timeout <seconds>', 'how long to wait for it to come up', timeout, 30)
    .addHelpText('after', `\nThe pid file is <data_directory>/sluice.pid; running instances are listed under ${runtimeDir()}\n(SLUICE_RUNTIME_DIR overrides it). Exit code 0 when it started, 1 when not.`)
    .action(async (o: RunOptions & { timeout: number }) => {
      process.exitCode = await startService(o);
    });
  const stop = new Command('stop')
    .description('stop the running service gracefully: drain consumers, flush the aggregation window, send or spool it')
    .option('-c, --config <file>', 'which instance, when several run')
    .option('--timeout <seconds>', 'how long to wait for it to finish', timeout, 120)
    .action(async (o: { config?: string; timeout: number }) => {
      process.exitCode = await stopService(o);
    });
  const status = new Command('status')
    .description('print RUNNING (with the pid) or STOPPED; exit code 0 when running, 3 when stopped')
    .option('-c, --config <file>', 'which instance, when several run')
    .action((o: { config?: string }) => {
      process.exitCode = statusService(o);
    });
  const checkconfig = new Command('check-config')
    .description('validate a service configuration file and print what it would run (never a secret)')
    .argument('<file>', 'service configuration (YAML)')
    .action((file: string) => {
      const cfg = loadOrReport(file, `${file}: ${'configuration has errors'}`);
      if (cfg === undefined) {
        process.exitCode = 1;
        return;
      }
      process.stdout.write(`${file}: configuration OK\n${describeConfig(cfg).map((l) => `  ${l}\n`).join('')}`);
    });
  return [run, start, stop, status, checkconfig];
}
