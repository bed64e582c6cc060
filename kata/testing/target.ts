import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { exercisesDir } from '../paths.ts';

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
