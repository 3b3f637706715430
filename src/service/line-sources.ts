import type { LineSourceFactory } from './runtime.js';

/** Builds the kafka and aws connectors, loading each module only when a file configures it. */
export const createLineSource: LineSourceFactory = async (k, consumer, sink, deps) => {
  if (k.type === 'kafka') {
    const { KafkaLineSource } = await import('../sources/kafka-consumer.js');
    return new KafkaLineSource(k, consumer, sink, deps.log);
  }
  type CwModule = { CloudWatchLogsSource: new (...a: unknown[]) => import('./runtime.js').LineSource };
  let mod: CwModule;
  try {
    const p = '../sources/cloudwatch-logs.js';
    mod = (await import(p)) as CwModule;
  } catch (err) {
    throw new Error(`consumer ${consumer}: the aws (CloudWatch Logs) connector is not available in this build (${(err as Error).message})`);
  }
  return new mod.CloudWatchLogsSource(k, consumer, sink, deps);
};
