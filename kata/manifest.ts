import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * An exercise's `.meta/config.json` (exercism's model): which files the learner edits, which are
 * given, which only the tests use, and every promise of its README and stub as a requirement.
 *
 * ```json
 * {
 *   "files": { "edit": ["gather.ts"], "given": [], "tests": ["gather.test.ts"] },
 *   "requirements": [
 *     { "id": "in-task-order", "promise": "Resolve with the results in the order of `tasks`",
 *       "tests": ["gatherAll > keeps results in the order of the tasks, not the order they finished"] }
 *   ]
 * }
 * ```
 * A requirement's `promise` is the sentence of README.md (or of a stub's doc comment) it comes from;
 * its `tests` are the full names (`describe > test`) of the tests that check it. `verify` proves each
 * requirement is checked by one of its tests and broken by a wrong fixture (`// Breaks: <id>`).
 */
export interface Manifest {
  files: { edit: string[]; given: string[]; tests: string[] };
  requirements: Requirement[];
}

export interface Requirement {
  /** Short and stable, kebab-case, unique in its exercise: `in-task-order`. */
  id: string;
  promise: string;
  tests: string[];
}

export const manifestPath = (exerciseDir: string) => path.join(exerciseDir, '.meta', 'config.json');

/** The exercise's manifest, or undefined when it has none; a malformed one is an error naming the file and the field. */
export function readManifest(exerciseDir: string): Manifest | undefined {
  const file = manifestPath(exerciseDir);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const shown = path.relative(process.cwd(), file);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new Error(`${shown} is not JSON (${(error as Error).message}); expected { "files": {...}, "requirements": [...] }`);
  }
  const fail = (what: string): never => {
    throw new Error(`${shown}: ${what}`);
  };
  const strings = (value: unknown, field: string, nonEmpty: boolean): string[] => {
    if (!Array.isArray(value) || value.some((item) => typeof item !== 'string' || item === '')) fail(`"${field}" must be a list of non-empty strings`);
    if (nonEmpty && (value as string[]).length === 0) fail(`"${field}" must name at least one`);
    return value as string[];
  };
  if (typeof data !== 'object' || data === null) return fail('expected an object { "files": {...}, "requirements": [...] }');
  const { files, requirements } = data as Record<string, unknown>;
  if (typeof files !== 'object' || files === null) return fail('"files" must be an object { "edit": [...], "given": [...], "tests": [...] }');
  const { edit, given, tests } = files as Record<string, unknown>;
  if (!Array.isArray(requirements)) return fail('"requirements" must be a list of { "id", "promise", "tests" }');
  const ids = new Set<string>();
  const parsed = requirements.map((requirement, index): Requirement => {
    const { id, promise, tests: checkedBy } = (requirement ?? {}) as Record<string, unknown>;
    if (typeof id !== 'string' || !/^[a-z0-9]+(?:-[a-z0-9]+)*$/.test(id))
      fail(`requirements[${index}].id must be kebab-case (a-z, 0-9, "-"), got ${JSON.stringify(id)}`);
    if (ids.has(id as string)) fail(`requirement id "${id}" is used twice`);
    ids.add(id as string);
    if (typeof promise !== 'string' || promise.trim() === '') fail(`requirement "${id}" needs a "promise": the README or stub sentence it comes from`);
    return { id: id as string, promise: promise as string, tests: strings(checkedBy, `requirements[${index}].tests`, true) };
  });
  return {
    files: { edit: strings(edit, 'files.edit', true), given: strings(given ?? [], 'files.given', false), tests: strings(tests, 'files.tests', true) },
    requirements: parsed,
  };
}
