import type { LineSource } from '../model/contracts.js';
import { loadOptional } from '../util/optional-module.js';
import type { LineSourceFactory } from './runtime.js';

type KafkaModule = typeof import('../sources/kafka-consumer.js');
type CloudWatchModule = { CloudWatchLogsSource: new (...a: unknown[]) => LineSource };

/** Builds the kafka and aws connectors, loading each module only when a file configures it. */
export const createLineSource: LineSourceFactory = async (k, consumer, sink, deps) => {
  if (k.type === 'kafka') {
    const { KafkaLineSource } = await loadOptional<KafkaModule>(new URL('../sources/kafka-consumer.js', import.meta.url), `consumer ${consumer}: the kafka connector`, 'KafkaLineSource');
    return new KafkaLineSource(k, consumer, sink, deps.log);
  }
  const { CloudWatchLogsSource } = await loadOptional<CloudWatchModule>(new URL('../sources/cloudwatch-logs.js', import.meta.url), `consumer ${consumer}: the aws (CloudWatch Logs) connector`, 'CloudWatchLogsSource');
  return new CloudWatchLogsSource(k, consumer, sink, deps);
};
