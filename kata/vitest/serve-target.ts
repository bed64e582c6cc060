import path from 'node:path';
import type { Plugin } from 'vite';
import type { VitestPluginContext } from 'vitest/node';
import { exercisesDir, isInside, isTestOwned, repoRoot, stateDir } from '../paths.ts';

/**
 * The tests live beside the stubs in exercises/. This plugin serves every module a test imports
 * from exercises/ out of `targetDir` instead (solutions/, or a wrong-answer fixture), so one suite
 * checks several implementations. Files Node loads itself (workers, children) follow because the
 * served module's `import.meta.url` now points into `targetDir`.
 */
export function serveTarget(targetDir: string): Plugin {
  const target = path.resolve(targetDir);
  return {
    name: 'kata:serve-target',
    enforce: 'pre',
    async resolveId(source, importer, options) {
      if (!importer || target === exercisesDir) return null;
      const resolved = await this.resolve(source, importer, { ...options, skipSelf: true });
      if (!resolved || resolved.external) return null;
      const file = resolved.id.split('?')[0]!;
      if (!isInside(file, exercisesDir) || isTestOwned(file)) return null;
      return path.join(target, path.relative(exercisesDir, file));
    },
    // Vitest keeps transformed modules on disk (fsModuleCache), keyed by the module's path and
    // source. A test file's transform names the modules this plugin chose for it, so it differs
    // from target to target: its key must name the target. Verify's fixture copies live in a
    // folder of their own for one run, and are not worth keeping at all.
    configureVitest({ defineCacheKeyGenerator }: VitestPluginContext) {
      const throwaway = isInside(target, stateDir);
      defineCacheKeyGenerator(({ id }) => {
        const file = id.split('?')[0]!;
        if (isInside(file, stateDir)) return false;
        if (isInside(file, exercisesDir)) return throwaway ? false : `target:${path.relative(repoRoot, target)}`;
        return ''; // kata/testing, kata/inside and the like: the same for every target
      });
    },
  };
}
