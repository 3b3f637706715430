/**
 * FlowLink's aws connector: VPC flow log records read from a CloudWatch Logs log group with
 * FilterLogEvents (every stream of the group, page by page through nextToken), polled every
 * poll_seconds. Each event's message is one flow log line for the aws parser.
 *
 * Resume without re-sending: after each page has been handed to the parser, the position (the
 * newest event timestamp seen, and the ids of the events at exactly that timestamp) is written
 * atomically to <data_directory>/state/. The next poll, and the next run after a restart, asks
 * from that timestamp (FilterLogEvents' startTime is inclusive) and skips the ids already taken,
 * so events that share the last millisecond are neither lost nor sent twice. A first run starts
 * at the time it starts (it does not replay the group's history).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CloudWatchLogsClient, FilterLogEventsCommand, type FilteredLogEvent } from '@aws-sdk/client-cloudwatch-logs';
import type { LineHandler, LineSource } from '../model/contracts.js';
import type { Log } from '../model/contracts.js';
import { makeSession, type TransportSession } from '../wire/batch.js';

/** The connector as the service file describes it (validated by src/service/config.ts). */
export interface AwsConnector {
  readonly type: 'aws';
  readonly region: string;
  /** Resolved from "ID SECRET" or `$cat file`; undefined: the SDK's default chain. */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
  readonly logGroupName: string;
  readonly endpoint?: string;
  readonly pollSeconds: number;
}

interface ResumeState {
  readonly logGroupName: string;
  /** Newest event timestamp taken (ms). */
  readonly timestamp: number;
  /** Ids of the events taken at exactly `timestamp`. */
  readonly ids: readonly string[];
}

export class CloudWatchLogsSource implements LineSource {
  private readonly client: CloudWatchLogsClient;
  private readonly stateFile: string;
  private readonly session: TransportSession;
  private state: ResumeState;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private readonly abort = new AbortController();
  private stopped = false;
  events = 0;
  pages = 0;

  constructor(
    private readonly spec: AwsConnector,
    private readonly consumer: string,
    private readonly sink: LineHandler,
    private readonly deps: { log: Log; dataDirectory: string },
  ) {
    this.client = new CloudWatchLogsClient({
      region: spec.region,
      endpoint: spec.endpoint,
      credentials: spec.credentials ? { accessKeyId: spec.credentials.accessKeyId, secretAccessKey: spec.credentials.secretAccessKey } : undefined,
      maxAttempts: 3,
    });
    const id = createHash('sha256').update(`${consumer}\0${spec.region}\0${spec.logGroupName}`).digest('hex').slice(0, 16);
    this.stateFile = path.join(deps.dataDirectory, 'state', `cloudwatch-${id}.json`);
    this.session = makeSession('aws', spec.logGroupName, 0);
    this.state = this.load() ?? { logGroupName: spec.logGroupName, timestamp: Date.now(), ids: [] };
  }

  get description(): string {
    return `aws CloudWatch Logs group ${this.spec.logGroupName} in ${this.spec.region}${this.spec.endpoint ? ` at ${this.spec.endpoint}` : ''}, polled every ${this.spec.pollSeconds} s from ${new Date(this.state.timestamp).toISOString()}`;
  }

  private load(): ResumeState | undefined {
    try {
      const s = JSON.parse(readFileSync(this.stateFile, 'utf8')) as ResumeState;
      if (s.logGroupName === this.spec.logGroupName && Number.isFinite(s.timestamp) && Array.isArray(s.ids)) return s;
    } catch {
      // first run, or unreadable: start now
    }
    return undefined;
  }

  private save(): void {
    mkdirSync(path.dirname(this.stateFile), { recursive: true });
    const tmp = `${this.stateFile}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.state));
    renameSync(tmp, this.stateFile);
  }

  async start(): Promise<void> {
    this.save();
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.polling = this.poll().finally(() => {
        this.polling = undefined;
        this.schedule(this.spec.pollSeconds * 1000);
      });
    }, ms);
  }

  private async poll(): Promise<void> {
    let nextToken: string | undefined;
    const from = this.state.timestamp;
    const seen = new Set(this.state.ids);
    try {
      do {
        const r = await this.client.send(new FilterLogEventsCommand({ logGroupName: this.spec.logGroupName, startTime: from, nextToken }), { abortSignal: this.abort.signal });
        this.pages++;
        this.take(r.events ?? [], from, seen);
        nextToken = r.nextToken;
      } while (nextToken !== undefined && !this.stopped);
    } catch (err) {
      if (this.stopped) return;
      this.deps.log.warn({ consumer: this.consumer }, `consumer ${this.consumer}: CloudWatch Logs ${this.spec.logGroupName}: ${(err as Error).name}: ${(err as Error).message}; retrying in ${this.spec.pollSeconds} s`);
    }
  }

  /** Hands a page's new events to the parser, then records the position. */
  private take(events: readonly FilteredLogEvent[], from: number, seen: ReadonlySet<string>): void {
    const lines: string[] = [];
    let ts = this.state.timestamp;
    let ids = [...this.state.ids];
    for (const e of events) {
      const t = e.timestamp ?? 0;
      const id = e.eventId ?? `${e.logStreamName}|${t}|${e.message}`;
      if (t < from || (t === from && seen.has(id))) continue;
      if (t === ts && ids.includes(id)) continue;
      if (e.message !== undefined) lines.push(e.message.trimEnd());
      if (t > ts) {
        ts = t;
        ids = [id];
      } else if (t === ts) ids.push(id);
    }
    if (lines.length > 0) {
      this.events += lines.length;
      this.sink(lines, this.session, Date.now());
    }
    if (ts !== this.state.timestamp || ids.length !== this.state.ids.length) {
      this.state = { logGroupName: this.spec.logGroupName, timestamp: ts, ids };
      this.save();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    // A page in flight is abandoned, not half-taken: the position moves only after a page is parsed.
    this.abort.abort();
    await this.polling?.catch(() => {});
    this.client.destroy();
  }
}
