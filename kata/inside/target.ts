// Loaded by tests and inside harness workers and children (to find the target's files): `node:` imports only.
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** exercises/, as kata/paths.ts names it: found from here, so that this file needs nothing outside kata/inside/. */
const exercisesDir = fileURLToPath(new URL('../../exercises', import.meta.url));

/** The folder the suite runs against: exercises/ (the learner's run), solutions/ or a fixture. */
export function targetDir(): string {
  return process.env.KATA_TARGET ?? exercisesDir;
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
