import pino, { type Logger } from 'pino';
import { createRequire } from 'node:module';
import type PinoPretty from 'pino-pretty';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/**
 * The logger of every command: human-readable lines on a terminal, pino's JSON lines otherwise
 * (files, pipes, journald), so a person reads it and a machine parses it. Written synchronously to
 * stderr (stdout carries records) or to `file`.
 */
export function createLog(level: LogLevel, o: { file?: string; base?: Record<string, unknown> } = {}): Logger {
  const opts = { level, base: o.base ?? null };
  if (o.file !== undefined) return pino(opts, pino.destination({ dest: o.file, sync: true, mkdir: true, append: true }));
  if (process.stderr.isTTY === true && process.env.SLUICE_LOG_FORMAT !== 'json') {
    // Required only on a terminal: a daemon logging JSON does not carry the pretty printer's modules.
    const pretty = createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;
    return pino(opts, pretty({ destination: 2, sync: true, colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }));
  }
  return pino(opts, pino.destination({ fd: 2, sync: true }));
}
