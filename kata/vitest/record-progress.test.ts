/**
 * The progress reporter joins every run of the exercises project once: added by the plugin when
 * `--reporter` (or a tool) left it out, and not again when the kata command brought its own.
 */
import path from 'node:path';
import { expect, test } from 'vitest';
import { createVitest } from 'vitest/node';
import { isProgressReporter, ProgressReporter } from './progress-reporter.ts';
import { repoRoot } from '../paths.ts';

async function progressReporters(reporters: NonNullable<Parameters<typeof createVitest>[1]>['reporters']): Promise<number> {
  const vitest = await createVitest({ config: path.join(repoRoot, 'vitest.config.ts'), project: 'exercises', watch: false, reporters });
  try {
    return vitest.config.reporters.filter(isProgressReporter).length;
  } finally {
    await vitest.close();
  }
}

test.each([['dot'], ['verbose'], ['default']])('--reporter=%s: one, added by the plugin', async (reporter) => {
  expect(await progressReporters([reporter])).toBe(1);
});

test("the kata command's own (another copy of the class than vitest.config.ts loads): no second one", async () => {
  expect(await progressReporters([new ProgressReporter({ summary: false })])).toBe(1);
});
