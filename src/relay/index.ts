/**
 * The relay engine's public API (used by `sluice relay`, and meant for the service's udp
 * connectors): parse receivers and samplicator config files, resolve them, replicate datagrams.
 */
import type { Family } from '../wire/packet/addr.js';
import type { SourceRule } from './config.js';
import { resolveReceiver } from './receiver.js';
import type { ResolvedRule } from './replicator.js';

export { parseAddress, type Family, type IpAddress, type IpPrefix } from '../wire/packet/addr.js';
export { parseRelayConfig, RelayConfigError, type ConfigProblem, type SourceRule } from './config.js';
export { SpoofUnavailableError } from './native.js';
export { listenRelay, type ListenOptions, type RelayListener } from './listener.js';
export { createBatch, type DatagramBatch } from '../sources/datagram-batch.js';
export { DEFAULT_RECEIVER_PORT, parseReceiver, ReceiverSyntaxError, resolveReceiver, receiverName, type ReceiverSpec, type ResolvedReceiver } from './receiver.js';
export { RELAY_DROP_REASONS, formatRelayCounters, Replicator, type DropReason, type ReceiverCounters, type RelayCounters, type ReplicatorOptions, type ResolvedRule } from './replicator.js';

/** Resolves every receiver of config rules (host names looked up once). */
export async function resolveRules(rules: readonly SourceRule[], family?: Family): Promise<ResolvedRule[]> {
  return Promise.all(
    rules.map(async (r) => {
      const receivers = await Promise.all(r.receivers.map((s) => resolveReceiver(s, family)));
      return r.prefix === undefined ? { receivers, where: r.where } : { prefix: r.prefix, receivers, where: r.where };
    }),
  );
}
