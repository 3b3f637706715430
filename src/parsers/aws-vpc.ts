/**
 * AWS VPC flow log records (AWS VPC User Guide, "Flow log records"): one record per line, fields
 * separated by spaces, in the default format (version 2's 14 fields) or a custom format naming
 * any fields of versions 2-8 in any order. A header line naming the fields (as the first line of
 * S3-delivered logs) switches the format for the lines after it. `-` marks a value that does not
 * apply, and the element is left out of the record; NODATA (no traffic in the window) and
 * SKIPDATA (records AWS could not capture) lines carry no flow and are counted.
 *
 * Mapping onto IPFIX elements: srcaddr/dstaddr -> source/destinationIPv4|IPv6Address,
 * srcport/dstport -> source/destinationTransportPort, protocol -> protocolIdentifier, packets ->
 * packetDeltaCount, bytes -> octetDeltaCount, start/end (unix seconds) -> flowStart/EndSeconds,
 * tcp-flags -> tcpControlBits, flow-direction -> flowDirection (ingress 0, egress 1); the AWS
 * identifiers (account, interface, VPC, subnet, instance, action, log status, ...) are sluice
 * elements named after them (sluice:awsAccountId ...). ECS fields other than cluster, service,
 * task and container ids are read and not kept.
 */
import type { DropReasonOf } from '../util/drop-reasons.js';
import type { IeResolver } from '../wire/fixed-formats.js';
import type { TransportSession } from '../wire/batch.js';
import { parseIpv4, parseIpv6 } from '../wire/packet/addr.js';
import { AWS_DEFAULT_FIELDS, AWS_KNOWN_FIELDS } from './aws-fields.js';
import { LineCounters, type LineParser, type LineParserHooks } from './line-parser.js';
import { RecordBuilder, type SlotDef } from './record-builder.js';

const enum S {
  VERSION,
  ACCOUNT,
  INTERFACE,
  SRC4,
  DST4,
  SRC6,
  DST6,
  SPORT,
  DPORT,
  PROTO,
  PACKETS,
  BYTES,
  START,
  END,
  ACTION,
  STATUS,
  VPC,
  SUBNET,
  INSTANCE,
  TCP_FLAGS,
  TYPE,
  PKT_SRC,
  PKT_DST,
  REGION,
  AZ,
  SUBLOC_TYPE,
  SUBLOC_ID,
  PKT_SRC_SVC,
  PKT_DST_SVC,
  DIRECTION,
  PATH,
  REJECT,
  ECS_CLUSTER,
  ECS_SERVICE,
  ECS_TASK,
  ECS_CONTAINER,
}

const SLOTS: readonly SlotDef[] = [
  { sluice: 'awsLogVersion', length: 1 },
  { sluice: 'awsAccountId', length: 0xffff },
  { sluice: 'awsInterfaceId', length: 0xffff },
  { iana: 8, length: 4 },
  { iana: 12, length: 4 },
  { iana: 27, length: 16 },
  { iana: 28, length: 16 },
  { iana: 7, length: 2 },
  { iana: 11, length: 2 },
  { iana: 4, length: 1 },
  { iana: 2, length: 8 },
  { iana: 1, length: 8 },
  { iana: 150, length: 4 },
  { iana: 151, length: 4 },
  { sluice: 'awsAction', length: 0xffff },
  { sluice: 'awsLogStatus', length: 0xffff },
  { sluice: 'awsVpcId', length: 0xffff },
  { sluice: 'awsSubnetId', length: 0xffff },
  { sluice: 'awsInstanceId', length: 0xffff },
  { iana: 6, length: 2 },
  { sluice: 'awsTrafficType', length: 0xffff },
  { sluice: 'awsPktSrcAddr', length: 0xffff },
  { sluice: 'awsPktDstAddr', length: 0xffff },
  { sluice: 'awsRegion', length: 0xffff },
  { sluice: 'awsAzId', length: 0xffff },
  { sluice: 'awsSublocationType', length: 0xffff },
  { sluice: 'awsSublocationId', length: 0xffff },
  { sluice: 'awsPktSrcAwsService', length: 0xffff },
  { sluice: 'awsPktDstAwsService', length: 0xffff },
  { iana: 61, length: 1 },
  { sluice: 'awsTrafficPath', length: 1 },
  { sluice: 'awsRejectReason', length: 0xffff },
  { sluice: 'awsEcsClusterName', length: 0xffff },
  { sluice: 'awsEcsServiceName', length: 0xffff },
  { sluice: 'awsEcsTaskId', length: 0xffff },
  { sluice: 'awsEcsContainerId', length: 0xffff },
];

/** String fields kept as they are, by AWS name. */
const STRING_SLOTS: Readonly<Record<string, S>> = {
  'account-id': S.ACCOUNT,
  'interface-id': S.INTERFACE,
  action: S.ACTION,
  'log-status': S.STATUS,
  'vpc-id': S.VPC,
  'subnet-id': S.SUBNET,
  'instance-id': S.INSTANCE,
  type: S.TYPE,
  'pkt-srcaddr': S.PKT_SRC,
  'pkt-dstaddr': S.PKT_DST,
  region: S.REGION,
  'az-id': S.AZ,
  'sublocation-type': S.SUBLOC_TYPE,
  'sublocation-id': S.SUBLOC_ID,
  'pkt-src-aws-service': S.PKT_SRC_SVC,
  'pkt-dst-aws-service': S.PKT_DST_SVC,
  'reject-reason': S.REJECT,
  'ecs-cluster-name': S.ECS_CLUSTER,
  'ecs-service-name': S.ECS_SERVICE,
  'ecs-task-id': S.ECS_TASK,
  'ecs-container-id': S.ECS_CONTAINER,
};

const UINT = /^\d+$/;

export class AwsVpcParser implements LineParser {
  readonly counters = new LineCounters();
  private readonly rb: RecordBuilder;
  private fields: readonly string[];

  constructor(
    reg: IeResolver,
    fields: readonly string[] | undefined,
    private readonly hooks: LineParserHooks,
  ) {
    this.rb = new RecordBuilder(reg, 'aws', SLOTS);
    this.fields = fields ?? AWS_DEFAULT_FIELDS;
  }

  get format(): readonly string[] {
    return this.fields;
  }

  parseLines(lines: readonly string[], session: TransportSession, nowMs: number): void {
    for (const line of lines) {
      this.counters.lines++;
      const why = this.parseLine(line);
      if (why === undefined) this.counters.records++;
      else if (why === 'header' || why === 'NODATA' || why === 'SKIPDATA') {
        this.rb.discard();
        this.counters.skip(why);
      } else {
        this.rb.discard();
        this.counters.bad(why);
        this.hooks.onBad?.(why, line, session);
      }
    }
    this.rb.flush(session, nowMs, this.hooks.onBatch);
  }

  private parseLine(line: string): DropReasonOf<'parse'> | undefined {
    const tok = line.trim().split(/\s+/);
    if (tok.length > 1 && tok.every((t) => AWS_KNOWN_FIELDS.has(t))) {
      this.fields = tok;
      return 'header';
    }
    if (tok.length !== this.fields.length) return 'field-count';
    let v6: boolean | undefined;
    for (let i = 0; i < tok.length; i++) {
      const name = this.fields[i]!;
      const v = tok[i]!;
      if (v === '-') continue;
      if (name === 'log-status' && (v === 'NODATA' || v === 'SKIPDATA')) return v;
      const str = STRING_SLOTS[name];
      if (str !== undefined) {
        this.rb.set(str, v);
        continue;
      }
      switch (name) {
        case 'srcaddr':
        case 'dstaddr': {
          const six = v.includes(':');
          if (v6 !== undefined && v6 !== six) return 'mixed-address-families';
          v6 = six;
          const b = six ? parseIpv6(v) : parseIpv4(v);
          if (b === undefined) return 'bad-address';
          this.rb.set(name === 'srcaddr' ? (six ? S.SRC6 : S.SRC4) : six ? S.DST6 : S.DST4, b);
          break;
        }
        case 'version':
        case 'srcport':
        case 'dstport':
        case 'protocol':
        case 'start':
        case 'end':
        case 'tcp-flags':
        case 'traffic-path': {
          if (!UINT.test(v)) return `bad-${name}`;
          const n = Number(v);
          const max = name === 'start' || name === 'end' ? 0xffffffff : name === 'srcport' || name === 'dstport' || name === 'tcp-flags' ? 0xffff : 0xff;
          if (n > max) return `bad-${name}`;
          const slot = { version: S.VERSION, srcport: S.SPORT, dstport: S.DPORT, protocol: S.PROTO, start: S.START, end: S.END, 'tcp-flags': S.TCP_FLAGS, 'traffic-path': S.PATH }[name];
          this.rb.set(slot, n);
          break;
        }
        case 'packets':
        case 'bytes':
          if (!UINT.test(v)) return `bad-${name}`;
          this.rb.set(name === 'packets' ? S.PACKETS : S.BYTES, BigInt(v));
          break;
        case 'flow-direction':
          if (v !== 'ingress' && v !== 'egress') return 'bad-flow-direction';
          this.rb.set(S.DIRECTION, v === 'ingress' ? 0 : 1);
          break;
        default:
          break; // other ECS fields: read, not kept
      }
    }
    if (v6 === undefined) return 'missing-address';
    this.rb.commit();
    return undefined;
  }
}
