import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** Absolute paths of the kata's top-level folders. */
export const repoRoot = fileURLToPath(new URL('..', import.meta.url));
export const exercisesDir = path.join(repoRoot, 'exercises');
export const solutionsDir = path.join(repoRoot, 'solutions');
export const fixturesDir = path.join(repoRoot, 'fixtures');
/** The kata's own state (progress, backups, verify's copies); the tooling tests point KATA_STATE_DIR elsewhere. */
export const stateDir = process.env.KATA_STATE_DIR ? path.resolve(process.env.KATA_STATE_DIR) : path.join(repoRoot, '.kata');

export function isInside(file: string, dir: string): boolean {
  const rel = path.relative(dir, file);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/** Test files, the files only tests load (`*.harness.ts`) and the manifest (`.meta/`) belong to the kata, not to a target. */
export function isTestOwned(file: string): boolean {
  return /\.(test|harness)\.ts$/.test(file) || /(?:^|[\\/])\.meta[\\/]/.test(file);
}
