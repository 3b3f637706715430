/**
 * Drill-down: the filter primitive that selects one value of a statistic's element, so a click on
 * a series or a table row narrows the view to exactly the flows that value counted.
 */
import type { KeyName, KeyValue } from '../query/keys.js';

/** The filter words before a value of each element (docs/query.md's primitives). */
const PRIMITIVES: Readonly<Record<KeyName, string>> = {
  srcip: 'src ip',
  dstip: 'dst ip',
  ip: 'ip',
  srcport: 'src port',
  dstport: 'dst port',
  port: 'port',
  proto: 'proto',
  srcas: 'src as',
  dstas: 'dst as',
  as: 'as',
  inif: 'in if',
  outif: 'out if',
  if: 'if',
  exporter: 'exporter',
  srcnet: 'src net',
  dstnet: 'dst net',
};

/**
 * The filter that matches the flows a statistic counted under `value`; null for flows that did
 * not carry the element (the language has no test for "absent").
 */
export function drillFilter(key: KeyName, value: KeyValue): string | null {
  return value === null ? null : `${PRIMITIVES[key]} ${value}`;
}
