/**
 * Loads a module only when a configuration needs it (Kafka, CloudWatch Logs), so their client
 * libraries cost nothing to those who do not use them, and a build without one fails with a
 * message that says what is missing rather than at start.
 *
 * @param url the module, resolved by the caller: `new URL('./kafka.js', import.meta.url)`
 * @param what the feature, for the error: "the Kafka output"
 * @param exportName an export the module must have
 */
import { SluiceError } from './errors.js';
export async function loadOptional<T>(url: URL, what: string, exportName: string): Promise<T> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(url.href)) as Record<string, unknown>;
  } catch (err) {
    throw new SluiceError('usage', `${what} is not available in this build (${(err as Error).message})`);
  }
  if (mod[exportName] === undefined) throw new SluiceError('usage', `${what} is not available in this build (no ${exportName})`);
  return mod as T;
}
