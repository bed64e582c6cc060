// First: on an unsupported Node (`npx vitest` on Node 20), one line says so, before Vitest fails
// in ways that do not (npm's scripts run the same check before they start Vitest).
import './kata/node-check.mjs';
import { defineConfig } from 'vitest/config';
import { exitOnUnknownExercise, vitestCommandLine } from './kata/vitest/command-line.ts';
import { mutatedExercise } from './kata/vitest/plan.ts';
import { plannedTargets, toolingProject, toProject } from './kata/vitest/projects.ts';

// Vitest's own command line (`npm test -- gather`); undefined when verify, stress or the kata
// command create Vitest themselves.
const commandLine = vitestCommandLine();
// `npm test -- gahter`: the list of exercises, instead of Vitest's "No test files found".
exitOnUnknownExercise(commandLine);
// The tooling tests run only when asked for by name (`npm run test:tooling`).
const tooling = commandLine?.projects.includes('tooling') ? [toolingProject] : [];

export default defineConfig({
  test: {
    projects: [...plannedTargets().map(toProject), ...tooling],
    // After Vitest's usual output, a run of the exercises project records the learner's progress
    // and ends with the progress bar and the next exercise: a plugin of that project adds the
    // reporter that does it (kata/vitest/record-progress.ts), so `--reporter=dot` keeps it too.
    // One file at a time, on every machine: the speed-up and event-loop tests measure the CPU,
    // and a second test file running beside them would steal it (vitest's default is cores - 1).
    fileParallelism: false,
    // A test that measures a speed-up needs the cores to itself: `npm run verify` runs the tests
    // with this tag on their own, after the rest (which it runs several at a time).
    tags: [{ name: 'speed-up', description: 'measures a speed-up, so it needs the CPU cores to itself' }],
    // Mutation testing (kata/mutate.ts) leaves them out: they judge timing, on a machine it keeps
    // busy. (A command-line option in Vitest's types, read from the config file too.)
    ...(mutatedExercise() ? ({ tagsFilter: ['!speed-up'] } as object) : {}),
    maxWorkers: 1,
    pool: 'forks',
    // The watchdog (kata/vitest/watchdog.ts) ends a learner's endless loop with the inspector's
    // terminateExecution. Node's async-hooks check would turn that into a crash of the whole test
    // process when the loop ran inside a callback (a timer, an event): without it, the test fails.
    execArgv: ['--no-force-async-hooks-checks'],
    // Each test file gets a process of its own (isolate, Vitest's default): that keeps one file's
    // threads and children apart from the next. Vitest's hint to turn isolation off is noise here.
    experimental: { diagnostics: { isolate: false } },
    // fsModuleCache (Vitest keeps transformed modules on disk) stays on: serve-target.ts puts the
    // target in the cache key of every module whose transform depends on it.
    // A backstop only: every test that can deadlock has its own, shorter deadline with a message.
    testTimeout: 20_000,
    hookTimeout: 20_000,
    teardownTimeout: 5_000,
  },
});
