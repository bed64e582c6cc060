import { defineConfig } from 'vitest/config';
import { plannedTargets, toProject } from './kata/vitest/projects.ts';

export default defineConfig({
  test: {
    projects: plannedTargets().map(toProject),
    setupFiles: ['./kata/vitest/setup.ts'],
    // One file at a time, on every machine: the speed-up and event-loop tests measure the CPU,
    // and a second test file running beside them would steal it (vitest's default is cores - 1).
    fileParallelism: false,
    maxWorkers: 1,
    pool: 'forks',
    // The persistent transform cache is keyed by the requested path, so it would hand the
    // solutions' code to the exercises project (and back): every target must be transformed afresh.
    fsModuleCache: false,
    // A backstop only: every test that can deadlock has its own, shorter deadline with a message.
    testTimeout: 20_000,
    hookTimeout: 20_000,
    teardownTimeout: 5_000,
  },
});
