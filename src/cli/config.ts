import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, isNode } from 'yaml';
import { z } from 'zod';
import type { JsonFormatOptions } from '../format/ipfixcol2-json.js';
import type { OutputSpec } from '../sinks/output.js';
import { parseListenUri } from '../sources/listen-uri.js';

/**
 * The collector's YAML configuration: listeners, the command-wide JSON options, and any number of
 * outputs, each with its own JSON options (IPFIXcol2's JSON plugin options and outputs, in YAML).
 * Validated once, at start; an error names the key path and its line:column, and nothing runs.
 *
 *   listen: [udp://:2055, tcp://:4739]
 *   format: { timestamp: unix }
 *   outputs:
 *     - type: print
 *     - type: file
 *       path: /var/lib/sluice/%Y/%m/%d/
 *       compression: gzip
 *       format: { protocol: raw }
 */
const bool = z.union([z.boolean(), z.enum(['yes', 'no', 'true', 'false']).transform((v) => v === 'yes' || v === 'true')]);

const formatSchema = z
  .object({
    tcpFlags: z.enum(['formatted', 'raw']),
    timestamp: z.enum(['formatted', 'unix']),
    protocol: z.enum(['formatted', 'raw']),
    ignoreUnknown: bool,
    ignoreOptions: bool,
    nonPrintableChar: bool,
    octetArrayAsUint: bool,
    numericNames: bool,
    splitBiflow: bool,
    detailedInfo: bool,
    templateInfo: bool,
  })
  .partial()
  .strict();

const port = z.number().int().min(1).max(65535);
const common = { name: z.string().optional(), format: formatSchema.optional() };

const outputSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('print'), ...common }).strict(),
  z
    .object({
      type: z.literal('file'),
      ...common,
      path: z.string().min(1),
      prefix: z.string().default('json.'),
      timeWindow: z.number().int().min(60).default(300),
      timeAlignment: bool.default(true),
      compression: z.enum(['none', 'gzip', 'lz4', 'zstd']).default('none'),
    })
    .strict(),
  z.object({ type: z.literal('server'), ...common, host: z.string().default(''), port, blocking: bool.default(false) }).strict(),
  z
    .object({ type: z.literal('send'), ...common, host: z.string().min(1), port, protocol: z.enum(['tcp', 'udp']).default('tcp'), blocking: bool.default(false) })
    .strict(),
  z
    .object({
      type: z.literal('kafka'),
      ...common,
      brokers: z.union([z.array(z.string().min(1)).min(1), z.string().min(1).transform((s) => s.split(',').map((b) => b.trim()))]),
      topic: z.string().min(1),
      partition: z.union([z.number().int().min(0), z.literal('unassigned')]).default('unassigned'),
      recordsPerMessage: z.number().int().min(1).max(1_000_000).default(1),
      blocking: bool.default(false),
      properties: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
    })
    .strict(),
]);

const configSchema = z
  .object({
    listen: z
      .array(z.string())
      .optional()
      .superRefine((list, ctx) => {
        for (const [i, text] of (list ?? []).entries()) {
          try {
            parseListenUri(text);
          } catch (err) {
            ctx.addIssue({ code: 'custom', path: [i], message: (err as Error).message });
          }
        }
      }),
    format: formatSchema.optional(),
    ieFiles: z.array(z.string()).optional(),
    outputs: z.array(outputSchema).min(1).optional(),
  })
  .strict();

export interface CollectConfig {
  readonly listen?: string[];
  readonly format?: Partial<JsonFormatOptions>;
  readonly ieFiles?: string[];
  readonly outputs?: OutputSpec[];
}

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: readonly string[],
  ) {
    super(`${file}: invalid configuration:\n  ${problems.join('\n  ')}`);
  }
}

/** Parses and validates a configuration text; throws ConfigError listing every problem with line:column. */
export function parseCollectConfig(text: string, file: string): CollectConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const where = (offset: number) => {
    const p = lines.linePos(offset);
    return `${file}:${p.line}:${p.col}`;
  };
  if (doc.errors.length > 0) throw new ConfigError(file, doc.errors.map((e) => `${where(e.pos[0])}: ${e.message.split('\n')[0]}`));
  const raw: unknown = doc.toJS() ?? {};
  const r = configSchema.safeParse(raw);
  if (!r.success) {
    const problems = r.error.issues.map((iss) => {
      const path = iss.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
      // Point at the deepest node that exists: a missing key is reported at its parent.
      let node: unknown;
      for (let n = path.length; n >= 0 && !isNode(node); n--) node = doc.getIn(path.slice(0, n), true);
      const range = isNode(node) ? node.range : undefined;
      const at = range ? where(range[0]) : file;
      const key = path.length > 0 ? path.join('.') : '(top level)';
      const extra = iss.code === 'unrecognized_keys' ? ` (${iss.keys.join(', ')})` : '';
      return `${at}: ${key}: ${iss.message}${extra}`;
    });
    throw new ConfigError(file, problems);
  }
  const c = r.data;
  return {
    listen: c.listen,
    format: c.format,
    ieFiles: c.ieFiles,
    outputs: c.outputs?.map((o, i): OutputSpec => {
      const name = o.name ?? `outputs[${i}] (${o.type})`;
      const format = o.format;
      switch (o.type) {
        case 'print':
          return { kind: 'print', name, format };
        case 'file':
          return { kind: 'file', name, format, path: o.path, prefix: o.prefix, timeWindow: o.timeWindow, timeAlignment: o.timeAlignment, compression: o.compression };
        case 'server':
          return { kind: 'server', name, format, host: o.host, port: o.port, blocking: o.blocking };
        case 'send':
          return { kind: 'send', name, format, host: o.host, port: o.port, protocol: o.protocol, blocking: o.blocking };
        case 'kafka':
          return {
            kind: 'kafka',
            name,
            format,
            kafka: {
              brokers: o.brokers,
              topic: o.topic,
              partition: o.partition === 'unassigned' ? undefined : o.partition,
              recordsPerMessage: o.recordsPerMessage,
              blocking: o.blocking,
              properties: Object.fromEntries(Object.entries(o.properties).map(([k, v]) => [k, String(v)])),
            },
          };
      }
    }),
  };
}

export function loadCollectConfig(file: string): CollectConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [`cannot read: ${(err as Error).message}`]);
  }
  return parseCollectConfig(text, file);
}
