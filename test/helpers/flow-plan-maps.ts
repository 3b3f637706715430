/**
 * Run by test/wire/template-memory.test.ts with --allow-natives-syntax: builds the flow plans of
 * 400 templates with random subsets of the core elements and prints how many do not share the
 * first plan's hidden class (V8 map). A plan built by spreading or adding keys as found gave
 * dozens of distinct maps here and thousands under a fleet of template shapes.
 */
import { flowPlan } from '../../src/model/flow-plan.js';
import { IeRegistry } from '../../src/wire/ie/registry.js';
import { makeTemplate } from '../../src/wire/template.js';
import { Prng } from './prng.js';

const reg = IeRegistry.builtin();
const pool: [number, number][] = [
  [8, 4], [12, 4], [1, 8], [2, 8], [27, 16], [28, 16], [7, 2], [11, 2], [4, 1], [6, 1], [5, 1], [10, 4], [14, 4], [16, 4],
  [17, 4], [58, 2], [15, 4], [9, 1], [13, 1], [61, 1], [136, 1], [56, 6], [80, 6], [152, 8], [153, 8], [32, 2], [34, 4], [62, 16],
];
const prng = new Prng(7);
const plans = Array.from({ length: 400 }, (_, i) => {
  const fields = pool.filter(() => prng.chance(0.5)).map(([id, length]) => ({ id, pen: 0, length, ie: reg.get(0, id) }));
  return flowPlan(makeTemplate(400 + i, 'ipfix', fields, 0));
});
const sameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)') as (a: object, b: object) => boolean;
process.stdout.write(`${plans.filter((p) => !sameMap(plans[0]!, p)).length}\n`);
