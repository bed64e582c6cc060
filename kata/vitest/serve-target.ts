import path from 'node:path';
import type { Plugin } from 'vite';
import { exercisesDir, isInside, isTestOwned } from '../paths.ts';

/**
 * The tests live beside the stubs in exercises/. This plugin serves every module a test imports
 * from exercises/ out of `targetDir` instead (solutions/, or a wrong-answer fixture), so one suite
 * checks several implementations. Files Node loads itself (workers, children) follow because the
 * served module's `import.meta.url` now points into `targetDir`.
 */
export function serveTarget(targetDir: string): Plugin {
  return {
    name: 'kata:serve-target',
    enforce: 'pre',
    async resolveId(source, importer, options) {
      if (!importer || path.resolve(targetDir) === exercisesDir) return null;
      const resolved = await this.resolve(source, importer, { ...options, skipSelf: true });
      if (!resolved || resolved.external) return null;
      const file = resolved.id.split('?')[0]!;
      if (!isInside(file, exercisesDir) || isTestOwned(file)) return null;
      return path.join(targetDir, path.relative(exercisesDir, file));
    },
  };
}
