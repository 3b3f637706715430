import { loadOptional } from '../util/optional-module.js';
import { FileOutput } from './file.js';
import type { KafkaOutputSpec, Output, OutputLog, OutputSpec } from './output.js';
import { PrintOutput } from './print.js';
import { SendOutput } from './send.js';
import { ServerOutput } from './server.js';

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
      const mod = await loadOptional<KafkaModule>(new URL('./kafka.js', import.meta.url), `${spec.name}: the Kafka output`, 'createKafkaOutput');
      out = mod.createKafkaOutput(spec.kafka, log);
      break;
    }
  }
  await out.open?.();
  return out;
}
