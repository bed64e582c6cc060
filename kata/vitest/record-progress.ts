/**
 * The learner's progress is recorded whatever the reporters: `--reporter=verbose` (or `dot`, or
 * any other) replaces the reporters of vitest.config.ts, so the progress reporter is not listed
 * there but added by this plugin of the exercises project. Vitest calls `configureVitest` before
 * it creates the reporters from its resolved config, so the one added here is created with them.
 */
import type { Plugin } from 'vite';
import type { VitestPluginContext } from 'vitest/node';
import { isProgressReporter, ProgressReporter } from './progress-reporter.ts';

export function recordProgress(): Plugin {
  return {
    name: 'kata:record-progress',
    configureVitest({ vitest }: VitestPluginContext) {
      const reporters = vitest.config.reporters;
      // The kata command brings its own (without the closing lines): one is enough. Told apart by a
      // brand, not instanceof: this file and the kata command load different copies of the class.
      if (!reporters.some(isProgressReporter)) reporters.push(new ProgressReporter());
    },
  };
}
