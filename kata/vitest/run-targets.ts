import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createVitest, type TestModule } from 'vitest/node';
import { repoRoot, stateDir } from '../paths.ts';
import type { Target } from './projects.ts';

export interface TargetRun {
  target: Target;
  modules: TestModule[];
  unhandled: unknown[];
}

/**
 * Runs the suite against each target in turn and keeps each target's results apart, unhandled
 * errors included (Vitest reports those per run, not per project).
 *
 * Each target gets a Vitest instance of its own. Within one instance a second run of the same
 * test file is served the module code of the first run's target (vitest 5.1, forks pool), so
 * two targets must never share an instance.
 */
export async function runTargets(
  targets: Target[],
  { verbose = false, onStart }: { verbose?: boolean; onStart?: (target: Target) => void } = {},
): Promise<Map<string, TargetRun>> {
  mkdirSync(stateDir, { recursive: true });
  process.env.CI ??= 'true';
  const runs = new Map<string, TargetRun>();
  for (const target of targets) {
    onStart?.(target);
    const plan = path.join(stateDir, `plan-${process.pid}.json`);
    writeFileSync(plan, JSON.stringify([target]));
    process.env.KATA_PLAN = plan;
    const vitest = await createVitest({
      config: path.join(repoRoot, 'vitest.config.ts'),
      watch: false,
      silent: !verbose,
      reporters: verbose ? ['default'] : [{}],
    });
    try {
      const result = await vitest.runTestSpecifications(await vitest.globTestSpecifications());
      runs.set(target.name, { target, modules: result.testModules, unhandled: result.unhandledErrors });
    } finally {
      await vitest.close();
      rmSync(plan, { force: true });
    }
  }
  return runs;
}
