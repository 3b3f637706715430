/**
 * Writes schema/sluice-config.schema.json, the JSON Schema of the service file, from the zod
 * definitions in src/service/config.ts (test/service-config.test.ts checks it is current).
 *   node --import tsx scripts/gen-service-schema.ts
 */
import { writeFileSync } from 'node:fs';
import { serviceJsonSchema } from '../src/service/config.js';

export const SCHEMA_PATH = new URL('../schema/sluice-config.schema.json', import.meta.url);

export function renderSchema(): string {
  return `${JSON.stringify(serviceJsonSchema(), null, 2)}\n`;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, ''))) {
  writeFileSync(SCHEMA_PATH, renderSchema());
  console.log(`wrote ${SCHEMA_PATH.pathname}`);
}
