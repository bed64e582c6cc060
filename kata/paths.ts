import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** Absolute paths of the kata's top-level folders. */
export const repoRoot = fileURLToPath(new URL('..', import.meta.url));
// Its home is kata/inside/target.ts, which code inside workers loads to find the target's files.
export { exercisesDir } from './inside/target.ts';
export const solutionsDir = path.join(repoRoot, 'solutions');
export const fixturesDir = path.join(repoRoot, 'fixtures');
/** The kata's own state (progress, backups, verify's copies); the tooling tests point KATA_STATE_DIR elsewhere. */
export const stateDir = process.env.KATA_STATE_DIR ? path.resolve(process.env.KATA_STATE_DIR) : path.join(repoRoot, '.kata');

/** Where a failing verify keeps its lanes' logs until the next verify (stress copies them per run). */
export const verifyLogsDir = path.join(stateDir, 'verify-logs');

export function isInside(file: string, dir: string): boolean {
  const rel = path.relative(dir, file);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

// Its home is kata/inside/target.ts: a watch of timers inside a harness worker needs it too.
export { isTestOwned } from './inside/target.ts';
