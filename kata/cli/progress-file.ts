/**
 * What .kata/progress.json must look like, checked by hand (no schema library for one small file):
 * `{ "version": 1, "files": { "<test file>": { "exercise": "gather", "hash": "...", "passed": 3, ... } } }`.
 */

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/** "null", "a list", "a number": what a value is, for a message. */
function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

const texts = ['exercise', 'hash', 'at'] as const;
const counts = ['passed', 'failed', 'skipped', 'errors', 'notImplemented'] as const;

/** What is wrong with one test file's result, or undefined. */
function resultProblem(result: unknown): string | undefined {
  if (!isObject(result)) return `is ${kindOf(result)}, not an object`;
  for (const key of texts) if (typeof result[key] !== 'string') return `has no text "${key}"`;
  for (const key of counts) {
    const count = result[key];
    if (!(typeof count === 'number' && Number.isInteger(count) && count >= 0)) return `has no count "${key}"`;
  }
  return undefined;
}

/** What is wrong with parsed JSON as a progress file (one short phrase), or undefined when nothing is. */
export function progressProblem(data: unknown): string | undefined {
  if (!isObject(data)) return `it holds ${kindOf(data)}, not an object`;
  if (data.version !== 1) return `its "version" is ${JSON.stringify(data.version) ?? 'missing'}, not 1`;
  if (!isObject(data.files)) return `its "files" is ${data.files === undefined ? 'missing' : kindOf(data.files)}, not an object`;
  for (const [file, result] of Object.entries(data.files)) {
    const problem = resultProblem(result);
    if (problem !== undefined) return `the entry for ${file} ${problem}`;
  }
  return undefined;
}
