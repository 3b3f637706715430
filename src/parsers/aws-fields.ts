/**
 * AWS VPC flow log fields (AWS VPC User Guide, "Flow log records"), by the version that introduced
 * them. A custom format names any of these, in any order; the default format is version 2's 14
 * fields in their documented order.
 */
export const AWS_FIELDS_BY_VERSION: Readonly<Record<number, readonly string[]>> = {
  2: ['version', 'account-id', 'interface-id', 'srcaddr', 'dstaddr', 'srcport', 'dstport', 'protocol', 'packets', 'bytes', 'start', 'end', 'action', 'log-status'],
  3: ['vpc-id', 'subnet-id', 'instance-id', 'tcp-flags', 'type', 'pkt-srcaddr', 'pkt-dstaddr'],
  4: ['region', 'az-id', 'sublocation-type', 'sublocation-id'],
  5: ['pkt-src-aws-service', 'pkt-dst-aws-service', 'flow-direction', 'traffic-path'],
  7: ['ecs-cluster-arn', 'ecs-cluster-name', 'ecs-container-instance-arn', 'ecs-container-instance-id', 'ecs-container-id', 'ecs-second-container-id', 'ecs-service-name', 'ecs-task-definition-arn', 'ecs-task-arn', 'ecs-task-id'],
  8: ['reject-reason'],
};

export const AWS_KNOWN_FIELDS: ReadonlySet<string> = new Set(Object.values(AWS_FIELDS_BY_VERSION).flat());

export const AWS_DEFAULT_FIELDS: readonly string[] = AWS_FIELDS_BY_VERSION[2]!;

/**
 * Splits a format as AWS writes it (`${version} ${srcaddr} ...`) or as a plain list of names
 * (`version srcaddr ...`, the header line of S3-delivered logs) into field names.
 */
export function splitAwsFormat(format: string): string[] {
  return format
    .trim()
    .split(/\s+/)
    .filter((w) => w.length > 0)
    .map((w) => (w.startsWith('${') && w.endsWith('}') ? w.slice(2, -1) : w));
}
