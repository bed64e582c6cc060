import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createVitest, type Reporter, type TestCase, type TestModule, type Vitest } from 'vitest/node';
import { repoRoot, stateDir } from '../paths.ts';
import type { Target } from './projects.ts';

export interface TargetRun {
  target: Target;
  modules: TestModule[];
  unhandled: unknown[];
  ms: number;
}

/** Runs a target's tests only until one fails with `stopOnFailureWith`: enough to prove a wrong answer rejected. */
class StopWhenProven implements Reporter {
  phrase: string | undefined;
  #vitest: Vitest | undefined;

  onInit(vitest: Vitest): void {
    this.#vitest = vitest;
  }

  onTestCaseResult(test: TestCase): void {
    const result = test.result();
    if (this.phrase === undefined || result.state !== 'failed') return;
    if (result.errors.some((error) => error.message.includes(this.phrase!))) {
      this.phrase = undefined;
      // Not awaited: cancelling waits for the run, and this hook is part of the run.
      void this.#vitest?.cancelCurrentRun('test-failure');
    }
  }
}

/**
 * Groups targets so that no two in a group run the same test file: within one Vitest instance,
 * a second run of a test file is served the module code of the first run's target (vitest 5.1,
 * forks pool), so such targets must not share an instance. Targets of different exercises can.
 */
function intoRounds(targets: Target[]): Target[][] {
  const rounds: Array<{ targets: Target[]; files: Set<string> }> = [];
  for (const target of targets) {
    let round = rounds.find((r) => target.include.every((file) => !r.files.has(file)));
    if (!round) rounds.push((round = { targets: [], files: new Set() }));
    round.targets.push(target);
    for (const file of target.include) round.files.add(file);
  }
  return rounds.map((round) => round.targets);
}

/**
 * Runs the suite against each target in turn (one test file at a time, as always) and keeps each
 * target's results apart, unhandled errors included (Vitest reports those per run, not per
 * project, so every target gets a run of its own).
 */
export async function runTargets(
  targets: Target[],
  { verbose = false, onStart }: { verbose?: boolean; onStart?: (target: Target) => void } = {},
): Promise<Map<string, TargetRun>> {
  mkdirSync(stateDir, { recursive: true });
  process.env.CI ??= 'true';
  const runs = new Map<string, TargetRun>();
  const plan = path.join(stateDir, `plan-${process.pid}.json`);
  for (const round of intoRounds(targets)) {
    writeFileSync(plan, JSON.stringify(round));
    process.env.KATA_PLAN = plan;
    const stopper = new StopWhenProven();
    const vitest = await createVitest({
      config: path.join(repoRoot, 'vitest.config.ts'),
      watch: false,
      silent: !verbose,
      reporters: verbose ? ['default', stopper] : [stopper],
    });
    try {
      const specifications = await vitest.globTestSpecifications();
      for (const target of round) {
        onStart?.(target);
        stopper.phrase = target.stopOnFailureWith;
        const started = performance.now();
        const result = await vitest.runTestSpecifications(specifications.filter((spec) => spec.project.name === target.name));
        runs.set(target.name, { target, modules: result.testModules, unhandled: result.unhandledErrors, ms: performance.now() - started });
      }
    } finally {
      await vitest.close();
      rmSync(plan, { force: true });
    }
  }
  return runs;
}
