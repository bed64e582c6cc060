// Loaded by tests and inside harness workers and children (to find the target's files): `node:` imports only.
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** exercises/ (kata/paths.ts re-exports it): found from here, so that this file needs nothing outside kata/inside/. */
export const exercisesDir = fileURLToPath(new URL('../../exercises', import.meta.url));

/** Names the folder a Vitest project runs against; set in the project's env, inherited by its workers and children. */
const targetVariable = 'KATA_TARGET';

/** The environment of a project whose target is `dir`. */
export function targetEnv(dir: string): Record<string, string> {
  return { [targetVariable]: path.resolve(dir) };
}

/** The folder the suite runs against: exercises/ (the learner's run), solutions/ or a fixture. */
export function targetDir(): string {
  return process.env[targetVariable] ?? exercisesDir;
}

/**
 * The URL of `relative` (beside the calling test) inside the current target. For test-owned
 * files that Node loads itself, such as a harness worker, which vitest's resolver never sees.
 */
export function targetUrl(testUrl: string, relative: string): URL {
  const folder = path.relative(exercisesDir, path.dirname(fileURLToPath(testUrl)));
  return pathToFileURL(path.join(targetDir(), folder, relative));
}

/** Test files, the files only tests load (`*.harness.ts`) and the manifest (`.meta/`) belong to the kata, not to a target. */
export function isTestOwned(file: string): boolean {
  return /\.(test|harness)\.ts$/.test(file) || /(?:^|[\\/])\.meta[\\/]/.test(file);
}
