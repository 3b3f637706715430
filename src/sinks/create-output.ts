import { FileOutput } from './file-output.js';
import type { KafkaOutputSpec, Output, OutputLog, OutputSpec } from './output.js';
import { PrintOutput } from './print-output.js';
import { SendOutput } from './send-output.js';
import { ServerOutput } from './server-output.js';

type KafkaModule = { createKafkaOutput: (spec: KafkaOutputSpec, log: OutputLog) => Output };

/** Builds (and opens) the output an OutputSpec describes. */
export async function createOutput(spec: OutputSpec, log: OutputLog): Promise<Output> {
  let out: Output;
  switch (spec.kind) {
    case 'print':
      out = new PrintOutput(spec.name, process.stdout);
      break;
    case 'file':
      out = new FileOutput(spec.name, spec, log);
      break;
    case 'server':
      out = new ServerOutput(spec.name, spec, log);
      break;
    case 'send':
      out = new SendOutput(spec.name, spec, log);
      break;
    case 'kafka': {
      let mod: KafkaModule;
      try {
        // Written separately (src/sinks/kafka.ts); loaded only when a Kafka output is configured.
        const path = './kafka.js';
        mod = (await import(path)) as KafkaModule;
      } catch (err) {
        throw new Error(`${spec.name}: the Kafka output is not available in this build (${(err as Error).message})`);
      }
      if (typeof mod.createKafkaOutput !== 'function') throw new Error(`${spec.name}: the Kafka output is not available in this build (no createKafkaOutput)`);
      out = mod.createKafkaOutput(spec.kafka, log);
      break;
    }
  }
  await out.open?.();
  return out;
}
