/**
 * The service configuration file of `sluice run/start/check-config`: FlowLink's YAML keys,
 * accepted unchanged, plus sluice's own additions (outputs, http, listeners, relays, metrics).
 *
 * One set of zod definitions does three jobs: it validates the file (every problem with its key
 * path and file:line:column, src/util/yaml-config.ts), it types the result, and it generates the
 * shipped JSON Schema (scripts/gen-service-schema.ts -> schema/sluice-config.schema.json).
 * Secrets (`api_key`, aws `credentials`) may be `$cat /path/file`; files are read after
 * validation, and no message ever repeats a secret.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { z } from 'zod';
import type { JsonFormatOptions } from '../format/ipfixcol2-json.js';
import { formatSchema, listenUrisSchema, outputSchema, splitOutputs } from '../collect/config.js';
import type { StoreSpec } from '../store/open-writer.js';
import { AWS_KNOWN_FIELDS, splitAwsFormat } from '../parsers/aws-fields.js';
import { compileTimestampFormat } from '../parsers/timestamp-format.js';
import { parseReceiver, ReceiverSyntaxError } from '../relay/receiver.js';
import type { OutputSpec } from '../outputs/output.js';
import { parseListenUri, type ListenSpec } from '../sources/listen-uri.js';
import { ConfigError, parseYamlConfig, type KeyPath } from '../util/yaml-config.js';
import { loadAuth } from '../api/auth.js';
import { isLoopback, type Authenticator } from '../api/server.js';
import type { HttpTarget, PceTarget } from '../outputs/upload/delivery.js';
import type { FieldRef, TextParserProps } from '../parsers/text.js';
import type { KafkaConnector } from '../sources/kafka-consumer.js';
import type { AwsConnector } from '../sources/cloudwatch-logs.js';

export { ConfigError };

const bool = z.union([z.boolean(), z.enum(['yes', 'no', 'true', 'false']).transform((v) => v === 'yes' || v === 'true')]);

/** `a,b, c` or a YAML list: the FlowLink guide writes lists as comma-separated strings. */
const commaList = z
  .union([z.string(), z.array(z.union([z.string(), z.number()]))])
  .transform((v) => (Array.isArray(v) ? v.map(String) : v.split(',')).map((s) => s.trim()).filter((s) => s.length > 0));

/** `ports: "2055"` or `"2055, 9995"` (a number is accepted too). 0 picks a free port (tests). */
const portList = z
  .union([z.string(), z.number().int(), z.array(z.number().int())])
  .transform((v, ctx) => {
    const items = typeof v === 'number' ? [String(v)] : Array.isArray(v) ? v.map(String) : v.split(',').map((s) => s.trim());
    const out: number[] = [];
    for (const it of items) {
      const n = /^\d+$/.test(it) ? Number(it) : NaN;
      if (!(n >= 0 && n <= 65535)) ctx.addIssue({ code: 'custom', message: `"${it}" is not a port (0-65535)` });
      else out.push(n);
    }
    if (items.length === 0) ctx.addIssue({ code: 'custom', message: 'no port given' });
    return out;
  })
  .describe('one port or several, comma-separated: "2055" or "2055,9995"');

/** `remote_addrs`: addresses and CIDR prefixes, IPv4 or IPv6, as a list or a comma-separated string. */
const remoteAddrs = commaList
  .superRefine((list, ctx) => {
    for (const a of list) {
      const [addr, len, extra] = a.split('/');
      const fam = net.isIP(addr ?? '');
      const bits = len === undefined ? 0 : Number(len);
      if (fam === 0 || extra !== undefined || (len !== undefined && !(Number.isInteger(bits) && bits >= 0 && bits <= (fam === 4 ? 32 : 128)))) {
        ctx.addIssue({ code: 'custom', message: `"${a}" is not an IP address or CIDR prefix (e.g. 10.0.0.1, 10.0.0.0/8, 2001:db8::/32)` });
      }
    }
  })
  .describe('allowlist of exporter addresses: IPs or CIDRs, comma-separated or a list; others are dropped and counted');

const udpTcpProps = z
  .object({
    ports: portList,
    remote_addrs: remoteAddrs.optional(),
    /** sluice: the address to bind; every IPv4 and IPv6 address when absent. */
    host: z.string().optional().describe('sluice: address to bind (default: every IPv4 and IPv6 address)'),
  })
  .strict();

const kafkaProps = z
  .object({
    version: z.union([z.string(), z.number()]).optional().describe('broker version (informational: the client negotiates the protocol)'),
    brokers: commaList.refine((l) => l.length > 0, 'at least one broker host:port'),
    group: z.string().min(1),
    topics: commaList.refine((l) => l.length > 0, 'at least one topic'),
    client_id: z.string().min(1).default('sluice'),
    /** sluice: a new group starts at the oldest message instead of the newest. */
    from_beginning: bool.default(false),
  })
  .strict();

const awsProps = z
  .object({
    region: z.string().min(1),
    credentials: z.string().optional().describe('"ACCESS_KEY_ID SECRET_ACCESS_KEY" or "$cat /path/file"; absent: the AWS default chain (environment, profile, instance role)'),
    log_groupname: z.string().min(1),
    /** sluice: CloudWatch Logs endpoint override (a VPC endpoint, or a local fake in tests). */
    endpoint: z.string().url().optional(),
    /** sluice: how often to ask for new events. */
    poll_seconds: z.number().min(1).default(60),
  })
  .strict();

const connectorSchema = z
  .discriminatedUnion('type', [
  z.object({ type: z.literal('udp'), properties: udpTcpProps }).strict(),
  z.object({ type: z.literal('tcp'), properties: udpTcpProps }).strict(),
  z.object({ type: z.literal('kafka'), properties: kafkaProps }).strict(),
  z.object({ type: z.literal('aws'), properties: awsProps }).strict(),
  z
    .object({ type: z.literal('sctp'), properties: z.record(z.string(), z.unknown()).optional() })
    .strict()
    .superRefine((_v, ctx) => {
      ctx.addIssue({
        code: 'custom',
        path: ['type'],
        message: 'sctp is not available: Node.js has no SCTP sockets on this platform; export over udp or tcp instead',
      });
    }),
  ])
  .meta({ id: 'connector' });


function toRef(v: string | number): FieldRef | string {
  const s = String(v).trim();
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    return n >= 1 ? { kind: 'field', index: n } : `field numbers start at 1, not ${s}`;
  }
  return /^[^\s=,]+$/.test(s) ? { kind: 'tag', tag: s } : `"${s}" is neither a field number nor an attribute tag`;
}

const fieldRef = z
  .union([z.number().int(), z.string().min(1)])
  .transform((v, ctx): FieldRef => {
    const r = toRef(v);
    if (typeof r === 'string') ctx.addIssue({ code: 'custom', message: r });
    return typeof r === 'string' ? { kind: 'field', index: 1 } : r;
  })
  .describe('a field number starting at 1, or the tag of a tag=value attribute');

const textProps = z
  .object({
    src_ip: fieldRef,
    dst_ip: fieldRef,
    dst_port: fieldRef,
    protocol: fieldRef,
    icmp_type: fieldRef.optional(),
    icmp_code: fieldRef.optional(),
    /** One or several fields joined by a space before timestamp_format reads them: "date_time, 1". */
    timestamp: z
      .union([z.number().int(), z.string().min(1)])
      .transform((v, ctx) => {
        const refs: FieldRef[] = [];
        for (const part of String(v).split(',')) {
          const r = toRef(part);
          if (typeof r === 'string') ctx.addIssue({ code: 'custom', message: r });
          else refs.push(r);
        }
        return refs;
      })
      .optional()
      .describe('field(s) holding the time, comma-separated, joined by a space: "date_time, 1"'),
    timestamp_format: z
      .string()
      .superRefine((f, ctx) => {
        try {
          compileTimestampFormat(f);
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: (err as Error).message });
        }
      })
      .optional(),
    /** sluice: packets and bytes of the flow, when the line carries them. */
    packets: fieldRef.optional(),
    bytes: fieldRef.optional(),
    /** sluice: field separator for field numbers (default: runs of blanks). */
    delimiter: z.string().min(1).optional(),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (p.timestamp !== undefined && p.timestamp_format === undefined) ctx.addIssue({ code: 'custom', path: ['timestamp_format'], message: 'timestamp needs timestamp_format' });
    if (p.timestamp_format !== undefined && p.timestamp === undefined) ctx.addIssue({ code: 'custom', path: ['timestamp'], message: 'timestamp_format needs timestamp (the field or fields that hold the time)' });
  });

const awsParserProps = z
  .object({
    /** A custom format: AWS's `${field} ${field} ...` or plain names; absent: version 2's default format. */
    format: z
      .string()
      .superRefine((f, ctx) => {
        const names = splitAwsFormat(f);
        if (names.length === 0) ctx.addIssue({ code: 'custom', message: 'empty format' });
        for (const n of names) if (!AWS_KNOWN_FIELDS.has(n)) ctx.addIssue({ code: 'custom', message: `"${n}" is not an AWS VPC flow log field (${[...AWS_KNOWN_FIELDS].join(' ')})` });
      })
      .optional(),
  })
  .strict();

const noProps = z.object({}).strict();
const parserSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('netflow'), properties: noProps.optional() }).strict(),
  z.object({ type: z.literal('ipfix'), properties: noProps.optional() }).strict(),
  z.object({ type: z.literal('sflow'), properties: noProps.optional() }).strict(),
  z.object({ type: z.literal('aws'), properties: awsParserProps.optional() }).strict(),
  z.object({ type: z.literal('text'), properties: textProps }).strict(),
]).meta({ id: 'parser' });

/** A receiver as `sluice relay` takes it (samplicator's `addr/port[/interval[,ttl]]`, plus `/S` spoof or `/P` plain). */
const receiver = z.string().superRefine((r, ctx) => {
  try {
    parseReceiver(r.trim());
  } catch (err) {
    const col = err instanceof ReceiverSyntaxError ? ` (column ${err.column} of the receiver)` : '';
    ctx.addIssue({ code: 'custom', message: `"${r}": ${(err as Error).message}${col}; expected addr/port[/interval[,ttl]][/S|/P], e.g. 192.0.2.10/2055, [2001:db8::1]/2055/10,64, 192.0.2.11/2055/S` });
  }
});

const consumerSchema = z
  .object({
    name: z.string().min(1),
    parser: parserSchema,
    // A single connector object is taken as a list of one (the guide says "a connector").
    connectors: z.preprocess((v) => (v !== null && typeof v === 'object' && !Array.isArray(v) ? [v] : v), z.array(connectorSchema).min(1)),
    /** sluice: replicate this consumer's raw UDP datagrams to receivers (the relay engine). */
    forward_to: z.array(receiver).optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.forward_to !== undefined && !c.connectors.some((k) => k.type === 'udp')) {
      ctx.addIssue({ code: 'custom', path: ['forward_to'], message: 'forward_to replicates UDP datagrams: the consumer needs a udp connector' });
    }
    const binary = c.parser.type === 'netflow' || c.parser.type === 'ipfix' || c.parser.type === 'sflow';
    c.connectors.forEach((k, i) => {
      if (k.type === 'aws' && c.parser.type !== 'aws') ctx.addIssue({ code: 'custom', path: ['connectors', i, 'type'], message: `the aws connector reads VPC flow logs: use parser type aws, not ${c.parser.type}` });
      if (k.type === 'kafka' && binary) ctx.addIssue({ code: 'custom', path: ['connectors', i, 'type'], message: `the kafka connector carries text lines: use parser type text or aws, not ${c.parser.type}` });
    });
  })
  .meta({ id: 'consumer' });

const relaySchema = z
  .object({
    name: z.string().optional(),
    listen: z
      .array(z.string())
      .min(1)
      .superRefine((list, ctx) => {
        for (const [i, text] of list.entries()) {
          try {
            if (parseListenUri(text).transport !== 'udp') ctx.addIssue({ code: 'custom', path: [i], message: `"${text}": a relay listens on UDP (udp://HOST:PORT)` });
          } catch (err) {
            ctx.addIssue({ code: 'custom', path: [i], message: (err as Error).message });
          }
        }
      }),
    receivers: z.array(receiver).min(1),
    /** Spoof receivers without a /S or /P flag (samplicator's -S). */
    spoof: bool.default(false),
  })
  .strict();

const httpSchema = z
  .object({
    name: z.string().optional(),
    url: z.string().url(),
    headers: z.record(z.string(), z.string()).default({}),
    format: z.enum(['ndjson', 'csv']).default('ndjson'),
    gzip: bool.default(true),
    ca_file: z.string().optional(),
    insecure: bool.default(false),
    lines_per_post: z.number().int().min(1).default(1000),
    max_in_flight: z.number().int().min(1).max(100).default(20),
    retry_minutes: z.number().min(0.05).default(5),
  })
  .strict();

const hostPort = /^(?:https?:\/\/)?(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?\/?$/;

export const serviceSchema = z
  .object({
    pce_addr: z.string().regex(hostPort, 'expected host:port or https://host:port').optional().describe('the PCE: host:port or https://host:port'),
    api_key: z.string().min(1).optional().describe('"KEY SECRET" separated by a space, or "$cat /path/file"; never logged'),
    org_id: z.number().int().min(1).default(1),
    data_directory: z.string().min(1).describe('spool, resume state, pid file and default log'),
    aggregation_minutes: z.number().int().min(5).max(60).default(10),
    data_directory_size_mb: z.number().int().min(100).default(500),
    file_retention_hours: z.number().int().min(4).default(24),
    metrics_print_seconds: z.number().int().min(15).default(60),
    consumers: z.array(consumerSchema).min(1).optional(),
    /** Older FlowLink guides name the list `destinations`. */
    destinations: z.array(consumerSchema).min(1).optional(),
    // sluice's own additions
    pce_ca_file: z.string().optional(),
    pce_insecure: bool.default(false),
    pce_lines_per_post: z.number().int().min(1).default(1000),
    pce_max_in_flight: z.number().int().min(1).max(100).default(20),
    retry_minutes: z.number().min(0.05).default(5).describe('minutes between retries of spooled batches'),
    listeners: listenUrisSchema
      .optional()
      .describe('sluice: collect-style listeners (udp://HOST:PORT, tcp://HOST:PORT) decoding NetFlow/IPFIX/sFlow'),
    outputs: z.array(outputSchema).optional().describe('sluice: raw JSON records (the collect outputs) alongside aggregation'),
    format: formatSchema.optional(),
    http: z.array(httpSchema).optional(),
    relays: z.array(relaySchema).optional(),
    metrics: z
      .object({
        listen: z.string().regex(hostPort, 'expected [host:]port').or(z.number().int().min(0).max(65535)),
        auth_file: z.string().min(1).optional().describe('tokens (Bearer) or user:password lines (Basic); required to listen beyond loopback'),
      })
      .strict()
      .optional()
      .describe('sluice: Prometheus /metrics endpoint; a bare port binds 127.0.0.1'),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.consumers !== undefined && c.destinations !== undefined) ctx.addIssue({ code: 'custom', path: ['destinations'], message: 'give consumers or destinations (its older name), not both' });
    if (c.consumers === undefined && c.destinations === undefined && (c.listeners ?? []).length === 0) {
      ctx.addIssue({ code: 'custom', path: [], message: 'consumers is required (a list of {name, parser, connectors})' });
    }
    if (c.api_key !== undefined && c.pce_addr === undefined) ctx.addIssue({ code: 'custom', path: ['pce_addr'], message: 'pce_addr is required with api_key' });
    if (c.pce_addr !== undefined && c.api_key === undefined) ctx.addIssue({ code: 'custom', path: ['api_key'], message: 'api_key is required with pce_addr' });
    if (c.pce_addr === undefined && (c.http ?? []).length === 0 && (c.outputs ?? []).length === 0) {
      ctx.addIssue({ code: 'custom', path: ['pce_addr'], message: 'pce_addr (with api_key) is required: there is nowhere else to deliver to (no http or outputs)' });
    }
    if (c.api_key !== undefined && !c.api_key.trim().startsWith('$cat ') && c.api_key.trim().split(/\s+/).length !== 2) {
      ctx.addIssue({ code: 'custom', path: ['api_key'], message: 'expected "KEY SECRET" (two words separated by a space) or "$cat /path/file"' });
    }
    const names = new Set<string>();
    (c.consumers ?? c.destinations ?? []).forEach((k, i) => {
      if (names.has(k.name)) ctx.addIssue({ code: 'custom', path: [c.consumers ? 'consumers' : 'destinations', i, 'name'], message: `consumer name "${k.name}" is used twice` });
      names.add(k.name);
    });
  });

export type RawServiceConfig = z.output<typeof serviceSchema>;
// The parser declares what it takes; the schema's output must fit it.
const _textPropsFit: (p: z.output<typeof textProps>) => TextParserProps = (p) => p;
void _textPropsFit;
type RawConsumer = z.output<typeof consumerSchema>;

export type ParserSpec =
  | { readonly type: 'netflow' | 'ipfix' | 'sflow' }
  | { readonly type: 'aws'; readonly fields?: readonly string[] }
  | { readonly type: 'text'; readonly props: TextParserProps };

export interface UdpTcpConnector {
  readonly type: 'udp' | 'tcp';
  readonly ports: readonly number[];
  readonly host: string;
  /** Allowed exporters; undefined: everyone. */
  readonly remoteAddrs?: readonly string[];
}
export type ConnectorSpec = UdpTcpConnector | KafkaConnector | AwsConnector;

export interface ConsumerSpec {
  readonly name: string;
  readonly parser: ParserSpec;
  readonly connectors: readonly ConnectorSpec[];
  readonly forwardTo: readonly string[];
}

export interface RelaySpec {
  readonly name: string;
  readonly listen: readonly string[];
  readonly receivers: readonly string[];
  readonly spoof: boolean;
}

/** The validated service file, secrets resolved, as the runtime takes it. */
export interface ServiceConfig {
  readonly file: string;
  readonly dataDirectory: string;
  readonly orgId: number;
  readonly aggregationMinutes: number;
  readonly dataDirectorySizeMb: number;
  readonly fileRetentionHours: number;
  readonly metricsPrintSeconds: number;
  readonly pce?: PceTarget;
  readonly http: readonly HttpTarget[];
  readonly consumers: readonly ConsumerSpec[];
  /** Collect-style listeners (sluice's `listeners:`), as one implicit netflow consumer. */
  readonly listeners: readonly ListenSpec[];
  readonly outputs: readonly OutputSpec[];
  /** The `store` output: every flow kept in the embedded store (docs/store.md). */
  readonly store?: StoreSpec;
  readonly format?: Partial<JsonFormatOptions>;
  readonly relays: readonly RelaySpec[];
  readonly metricsListen?: { readonly host: string; readonly port: number; readonly auth?: Authenticator };
}

/** Reads a `$cat /path` value, or returns the literal. Errors name the file, never the content. */
function resolveSecret(value: string, where: string, problems: string[]): string | undefined {
  const v = value.trim();
  if (!v.startsWith('$cat ')) return v;
  const path = v.slice(5).trim();
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (err) {
    problems.push(`${where}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    return undefined;
  }
}

function pair(secret: string | undefined, where: string, what: string, problems: string[]): [string, string] | undefined {
  if (secret === undefined) return undefined;
  const parts = secret.split(/\s+/).filter((s) => s.length > 0);
  if (parts.length !== 2) {
    problems.push(`${where}: expected ${what} separated by a space (found ${parts.length} word${parts.length === 1 ? '' : 's'})`);
    return undefined;
  }
  return [parts[0]!, parts[1]!];
}

/** The PCE's base URL: `host:port` as the file gives it, https unless it names a scheme. */
function pceBaseUrl(addr: string): string {
  const a = addr.trim().replace(/\/$/, '');
  return /^https?:\/\//.test(a) ? a : `https://${a}`;
}

/** Parses, validates and resolves a service file's text; throws ConfigError listing every problem. */
export function parseServiceConfig(text: string, file: string): ServiceConfig {
  const { data: c, at } = parseYamlConfig(text, file, serviceSchema);
  const problems: string[] = [];
  const where = (path: KeyPath) => at(path);

  let pce: PceTarget | undefined;
  if (c.pce_addr !== undefined && c.api_key !== undefined) {
    const kv = pair(resolveSecret(c.api_key, where(['api_key']), problems), where(['api_key']), 'the API key id and secret', problems);
    if (kv) {
      pce = {
        url: pceBaseUrl(c.pce_addr),
        orgId: c.org_id,
        keyId: kv[0],
        secret: kv[1],
        caFile: c.pce_ca_file,
        insecure: c.pce_insecure,
        maxLinesPerPost: c.pce_lines_per_post,
        maxInFlight: c.pce_max_in_flight,
        retryMinutes: c.retry_minutes,
      };
    }
  }

  const listKey = c.consumers !== undefined ? 'consumers' : 'destinations';
  const consumers = (c.consumers ?? c.destinations ?? []).map((k: RawConsumer, i): ConsumerSpec => ({
    name: k.name,
    parser:
      k.parser.type === 'text'
        ? { type: 'text', props: k.parser.properties }
        : k.parser.type === 'aws'
          ? { type: 'aws', fields: k.parser.properties?.format !== undefined ? splitAwsFormat(k.parser.properties.format) : undefined }
          : { type: k.parser.type },
    forwardTo: k.forward_to ?? [],
    connectors: k.connectors.map((x, j): ConnectorSpec => {
      switch (x.type) {
        case 'udp':
        case 'tcp':
          return { type: x.type, ports: x.properties.ports, host: x.properties.host ?? '', remoteAddrs: x.properties.remote_addrs };
        case 'kafka': {
          const p = x.properties;
          return { type: 'kafka', version: p.version === undefined ? undefined : String(p.version), brokers: p.brokers, group: p.group, topics: p.topics, clientId: p.client_id, fromBeginning: p.from_beginning };
        }
        case 'aws': {
          const p = x.properties;
          const w = where([listKey, i, 'connectors', j, 'properties', 'credentials']);
          const kv = p.credentials === undefined ? undefined : pair(resolveSecret(p.credentials, w, problems), w, 'the access key id and secret access key', problems);
          return {
            type: 'aws',
            region: p.region,
            credentials: kv ? { accessKeyId: kv[0], secretAccessKey: kv[1] } : undefined,
            logGroupName: p.log_groupname,
            endpoint: p.endpoint,
            pollSeconds: p.poll_seconds,
          };
        }
        case 'sctp':
          throw new Error('unreachable: sctp is refused by the schema');
      }
    }),
  }));

  let metricsListen: ServiceConfig['metricsListen'];
  if (c.metrics !== undefined) {
    const l = String(c.metrics.listen);
    const m = /^(?:(\[[0-9a-fA-F:]+\]|[^:]+):)?(\d+)$/.exec(l);
    if (m === null || Number(m[2]) > 65535) problems.push(`${where(['metrics', 'listen'])}: expected [host:]port`);
    else {
      const host = (m[1] ?? '127.0.0.1').replace(/^\[|\]$/g, '');
      let auth: Authenticator | undefined;
      if (c.metrics.auth_file !== undefined) {
        try {
          auth = loadAuth(c.metrics.auth_file);
        } catch (err) {
          problems.push(`${where(['metrics', 'auth_file'])}: ${(err as Error).message}`);
        }
      } else if (!isLoopback(host)) problems.push(`${where(['metrics', 'listen'])}: ${host} is not a loopback address; give metrics.auth_file, or listen on 127.0.0.1`);
      metricsListen = auth === undefined ? { host, port: Number(m[2]) } : { host, port: Number(m[2]), auth };
    }
  }

  const split = splitOutputs(c.outputs ?? [], (i) => where(['outputs', i]));
  problems.push(...split.problems);
  if (problems.length > 0) throw new ConfigError(file, problems);
  return {
    file,
    dataDirectory: c.data_directory,
    orgId: c.org_id,
    aggregationMinutes: c.aggregation_minutes,
    dataDirectorySizeMb: c.data_directory_size_mb,
    fileRetentionHours: c.file_retention_hours,
    metricsPrintSeconds: c.metrics_print_seconds,
    pce,
    http: (c.http ?? []).map((h, i) => ({
      name: h.name ?? `http[${i}]`,
      url: h.url,
      headers: h.headers,
      format: h.format,
      gzip: h.gzip,
      caFile: h.ca_file,
      insecure: h.insecure,
      maxLinesPerPost: h.lines_per_post,
      maxInFlight: h.max_in_flight,
      retryMinutes: h.retry_minutes,
    })),
    consumers,
    listeners: (c.listeners ?? []).map(parseListenUri),
    outputs: split.outputs,
    store: split.store,
    format: c.format,
    relays: (c.relays ?? []).map((r, i) => ({ name: r.name ?? `relays[${i}]`, listen: r.listen, receivers: r.receivers, spoof: r.spoof })),
    metricsListen,
  };
}

export function loadServiceConfig(file: string): ServiceConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [`cannot read: ${(err as Error).message}`]);
  }
  return parseServiceConfig(text, file);
}

/** The JSON Schema of the whole file, generated from the definitions above. */
export function serviceJsonSchema(): Record<string, unknown> {
  const s = z.toJSONSchema(serviceSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return {
    $schema: s.$schema,
    $id: 'https://github.com/sluice/sluice/schema/sluice-config.schema.json',
    title: 'sluice service configuration (FlowLink-compatible)',
    description: 'The YAML file of sluice run/start/check-config: FlowLink keys plus sluice additions. Generated from src/service/config.ts by scripts/gen-service-schema.ts.',
    ...Object.fromEntries(Object.entries(s).filter(([k]) => k !== '$schema')),
  };
}
