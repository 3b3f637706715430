import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { JsonFormatOptions } from '../format/ipfixcol2-json.js';
import type { OutputSpec } from '../outputs/output.js';
import { SamplingConfigError, SamplingTracker, type PrefixRate } from '../pipeline/sampling.js';
import { parseListenUri } from '../sources/listen-uri.js';
import { ConfigError, parseYamlConfig } from '../util/yaml-config.js';
import { parseDurationMs, parseSizeBytes } from '../util/units.js';
import type { StoreSpec } from '../store/open-writer.js';

export { ConfigError };

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

export const formatSchema = z
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
    scaledCounters: bool,
  })
  .partial()
  .strict();

const port = z.number().int().min(1).max(65535);
const common = { name: z.string().optional(), format: formatSchema.optional() };

const durationText = z
  .union([z.number().positive(), z.string().regex(/^\d+(\.\d+)?\s*(ms|s|m|h|d)$/, 'expected a duration such as 30s, 5m, 12h or 30d')])
  .transform((v) => (typeof v === 'number' ? v * 1000 : parseDurationMs(v)));
const sizeText = z
  .union([z.number().positive(), z.string().regex(/^\d+(\.\d+)?\s*[kmgt]?i?b?$/i, 'expected a size such as 500M, 20G or 1T')])
  .transform((v) => (typeof v === 'number' ? v : parseSizeBytes(v)));

/** The flow store as an output: where, how often the open window is written, how long segments are kept. */
export const storeSchema = z
  .object({
    type: z.literal('store'),
    name: z.string().optional(),
    path: z.string().min(1),
    flush: durationText.optional().describe('how often the open window is written (default 5s): what a crash can lose at most'),
    maxAge: durationText.optional().describe('delete segments written longer ago than this (as nfexpire -t)'),
    maxSize: sizeText.optional().describe('delete the oldest segments past this total size (as nfexpire -s)'),
  })
  .strict();

/** One output of `outputs:` (also used by the service file). */
export const outputSchema = z.discriminatedUnion('type', [
  storeSchema,
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

/** A list of listen URIs (udp://HOST:PORT, tcp://HOST:PORT), each checked where it stands. */
export const listenUrisSchema = z.array(z.string()).superRefine((list, ctx) => {
  for (const [i, text] of list.entries()) {
    try {
      parseListenUri(text);
    } catch (err) {
      ctx.addIssue({ code: 'custom', path: [i], message: (err as Error).message });
    }
  }
});

const prefixRate = z.object({ prefix: z.string().min(1), rate: z.number().min(1) }).strict();

const configSchema = z
  .object({
    listen: listenUrisSchema.optional(),
    sampling: z
      .object({ defaults: z.array(prefixRate).optional(), overrides: z.array(prefixRate).optional() })
      .strict()
      .optional()
      .describe('sampling rates per exporter prefix: defaults for exporters that never say, overrides that win over what they say'),
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
  readonly store?: StoreSpec;
  readonly sampling?: { readonly defaults?: readonly PrefixRate[]; readonly overrides?: readonly PrefixRate[] };
}

/** Splits a validated `outputs:` list into the JSON outputs and the store (at most one). */
export function splitOutputs(list: readonly z.output<typeof outputSchema>[], where: (i: number) => string): { outputs: OutputSpec[]; store?: StoreSpec; problems: string[] } {
  const outputs: OutputSpec[] = [];
  const problems: string[] = [];
  let store: StoreSpec | undefined;
  list.forEach((o, i) => {
    if (o.type !== 'store') {
      outputs.push(toOutputSpec(o, o.name ?? `outputs[${i}] (${o.type})`));
      return;
    }
    if (store !== undefined) problems.push(`${where(i)}: one store per process (a second store output is not supported)`);
    store = { dir: o.path, flushIntervalMs: o.flush, maxAgeMs: o.maxAge, maxBytes: o.maxSize };
  });
  return { outputs, store, problems };
}

/** Parses and validates a configuration text; throws ConfigError listing every problem with line:column. */
export function parseCollectConfig(text: string, file: string): CollectConfig {
  const v = parseYamlConfig(text, file, configSchema);
  const c = v.data;
  const split = c.outputs === undefined ? undefined : splitOutputs(c.outputs, (i) => v.at(['outputs', i]));
  if (split !== undefined && split.problems.length > 0) throw new ConfigError(file, split.problems);
  if (c.sampling !== undefined) {
    try {
      new SamplingTracker(c.sampling);
    } catch (err) {
      // Point at the entry itself: "overrides[0].prefix" -> sampling.overrides.0.prefix.
      const path = err instanceof SamplingConfigError ? err.path.split(/[.[\]]/).filter((s) => s !== '').map((s) => (/^\d+$/.test(s) ? Number(s) : s)) : [];
      const where = v.at(['sampling', ...path]).replace(/: sampling.*$/, ': sampling');
      throw new ConfigError(file, [`${where}: ${(err as Error).message}`]);
    }
  }
  return { listen: c.listen, format: c.format, ieFiles: c.ieFiles, outputs: split?.outputs, store: split?.store, sampling: c.sampling };
}

/** A validated `outputs:` entry as the OutputSpec the sinks take. */
export function toOutputSpec(o: Exclude<z.output<typeof outputSchema>, { type: 'store' }>, name: string): OutputSpec {
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
