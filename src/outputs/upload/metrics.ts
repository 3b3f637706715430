/**
 * Every counter and gauge of the delivery side, registered once in the service's prom-client
 * Registry. Counted per batch or per POST, never per record.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export class DeliveryMetrics {
  readonly flowsIn: Counter<string>;
  readonly flowsDropped: Counter<'reason'>;
  readonly recordsIgnored: Counter<'reason'>;
  readonly windowsFlushed: Counter<'reason'>;
  readonly aggregatedFlows: Counter<string>;
  readonly openFlows: Gauge<string>;
  readonly batchesCreated: Counter<'target'>;
  readonly posts: Counter<'target' | 'status'>;
  readonly batchesSent: Counter<'target'>;
  readonly flowsSent: Counter<'target'>;
  readonly pceFlowsAccepted: Counter<string>;
  readonly pceFlowsFailed: Counter<string>;
  readonly retries: Counter<'target'>;
  readonly rejectedBatches: Counter<'target' | 'status'>;
  readonly rejectedFlows: Counter<'target'>;
  readonly spoolBatches: Gauge<'target'>;
  readonly spoolFlows: Gauge<'target'>;
  readonly spoolBytes: Gauge<string>;
  readonly spoolWrites: Counter<'target'>;
  readonly spoolWriteErrors: Counter<'reason'>;
  readonly prunedFlows: Counter<'reason'>;
  readonly prunedBatches: Counter<'reason'>;
  readonly lostFlows: Counter<'reason'>;
  readonly memoryBatches: Gauge<string>;

  constructor(registry: Registry) {
    const registers = [registry];
    const c = <L extends string>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> =>
      new Counter<L>({ name, help, labelNames, registers });
    const g = <L extends string>(name: string, help: string, labelNames: readonly L[] = []): Gauge<L> =>
      new Gauge<L>({ name, help, labelNames, registers });
    this.flowsIn = c('sluice_delivery_flows_in_total', 'Flow records handed to aggregation');
    this.flowsDropped = c('sluice_delivery_flows_dropped_total', 'Flow records dropped before aggregation, by reason (class_d = multicast source or destination; unreadable; stopped)', ['reason']);
    this.recordsIgnored = c('sluice_delivery_records_ignored_total', 'Records that are not flows (options, sFlow counters) or carry no addresses', ['reason']);
    this.windowsFlushed = c('sluice_aggregation_windows_flushed_total', 'Aggregation windows closed, by reason (window_end, stop, size_cap)', ['reason']);
    this.aggregatedFlows = c('sluice_aggregation_flows_total', 'Aggregated flows produced by closed windows');
    this.openFlows = g('sluice_aggregation_open_flows', 'Unique flows in the open aggregation window');
    this.batchesCreated = c('sluice_upload_batches_created_total', 'Upload batches made from closed windows', ['target']);
    this.posts = c('sluice_upload_posts_total', 'POSTs by target and HTTP status (or error code when there was no reply)', ['target', 'status']);
    this.batchesSent = c('sluice_upload_batches_sent_total', 'Batches delivered (2xx)', ['target']);
    this.flowsSent = c('sluice_upload_flows_sent_total', 'Aggregated flows delivered (2xx)', ['target']);
    this.pceFlowsAccepted = c('sluice_pce_flows_accepted_total', 'Flows the PCE reported received and not failed (num_flows_received - num_flows_failed)');
    this.pceFlowsFailed = c('sluice_pce_flows_failed_total', 'Flows the PCE reported failed (num_flows_failed)');
    this.retries = c('sluice_upload_retries_total', 'Retry rounds after an unreachable target, 429 or 5xx', ['target']);
    this.rejectedBatches = c('sluice_upload_rejected_batches_total', 'Batches refused with a 4xx other than 429, kept under rejected/', ['target', 'status']);
    this.rejectedFlows = c('sluice_upload_rejected_flows_total', 'Aggregated flows in rejected batches', ['target']);
    this.spoolBatches = g('sluice_spool_batches', 'Batches waiting in the spool', ['target']);
    this.spoolFlows = g('sluice_spool_flows', 'Aggregated flows waiting in the spool', ['target']);
    this.spoolBytes = g('sluice_spool_bytes', 'Bytes used by spool and rejected files');
    this.spoolWrites = c('sluice_spool_written_batches_total', 'Batches written to the spool', ['target']);
    this.spoolWriteErrors = c('sluice_spool_write_errors_total', 'Spool writes that failed, by error code (ENOSPC: disk full)', ['reason']);
    this.prunedFlows = c('sluice_spool_pruned_flows_total', 'Aggregated flows deleted from the spool unsent, by reason (size, age)', ['reason']);
    this.prunedBatches = c('sluice_spool_pruned_batches_total', 'Batches deleted from the spool unsent, by reason (size, age)', ['reason']);
    this.lostFlows = c('sluice_delivery_lost_flows_total', 'Aggregated flows given up that were never on disk (memory_full: disk unwritable and memory bound reached; stop: unwritable at stop)', ['reason']);
    this.memoryBatches = g('sluice_spool_memory_batches', 'Batches held in memory because the spool could not be written');
  }
}
