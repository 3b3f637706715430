/**
 * Builds the fields of sFlow's synthetic templates (and the AWS/text parsers'): IANA elements by
 * id, sluice's own (src/wire/ie/sluice-elements.ts) by name.
 */
import type { IeResolver } from '../fixed-formats.js';
import { SLUICE_ELEMENTS, SLUICE_PEN } from './sluice-elements.js';
import type { FieldSpec } from '../template.js';

const BY_NAME = new Map(SLUICE_ELEMENTS.map((e) => [e.name, e]));

/**
 * Builds template fields: IANA elements by id, sluice elements by name. Asks the registry first,
 * so a user definition for the same (PEN, id) takes precedence.
 */
export class SyntheticFieldFactory {
  constructor(private readonly reg: IeResolver) {}

  iana(id: number, length: number): FieldSpec {
    return { id, pen: 0, length, ie: this.reg.get(0, id) };
  }

  sluice(name: string, length: number): FieldSpec {
    const e = BY_NAME.get(name);
    if (e === undefined) throw new Error(`no sluice element named ${name}`); // a programming error, caught by the tests
    return { id: e.id, pen: SLUICE_PEN, length, ie: this.reg.get(SLUICE_PEN, e.id) ?? e };
  }
}
