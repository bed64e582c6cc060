// First, so that a loop in the test file's imports is caught too.
import './watchdog.ts';
import { afterAll, afterEach, beforeEach, expect } from 'vitest';
import { endTestBudget, sleep, startTestBudget } from '../testing/deadline.ts';
import { measuringTest } from '../testing/measure.ts';
import { isChildAlive, liveChildren, liveWorkers, mayOutliveTests, originOf, spawnLog, stopWorkers } from '../testing/spawned.ts';
import { collectTimelines, type Timeline } from '../testing/timeline.ts';
import { escapedErrors, outsideAnyTest } from './escaped-errors.ts';
import { annotateFinishedTest, errorsOf } from './vitest-internals.ts';

// Start watching before the test file imports anything that could start a worker or a child.
spawnLog();

/** Where the log stood when the running test began: what it starts after that is its own. */
let spawnedBefore = { workers: 0, children: 0 };

beforeEach((context) => {
  startTestBudget(context.task);
  handMutantToWorkers();
  escapedErrors.start(context.task.name);
  const log = spawnLog();
  spawnedBefore = { workers: log.workers.length, children: log.children.length };
});

/**
 * Under mutation testing (kata/mutate.ts), the workers and children a test starts load the
 * solution themselves: Stryker's instrumented code in them reads the active mutant from this
 * variable, which they inherit.
 */
function handMutantToWorkers(): void {
  const active = stryker?.activeMutant;
  if (active !== undefined) process.env.__STRYKER_ACTIVE_MUTANT__ = String(active);
}

// Stryker runs only the mutants its first run saw covered, and cannot see into workers and
// children: under mutation testing every mutant counts as covered, so each runs every test.
const stryker = (globalThis as { __stryker__?: { activeMutant?: string; mutantCoverage?: { static: Record<string, number>; perTest: object } } }).__stryker__;
if (stryker !== undefined && stryker.activeMutant === undefined) {
  stryker.mutantCoverage ??= { static: {}, perTest: {} };
  for (let id = 0; id < 5_000; id += 1) stryker.mutantCoverage.static[id] ??= 1;
}

// Runs after the test file's own afterEach hooks (Vitest runs them last-registered first), so
// whatever the test's clean-up stops is not counted.
afterEach(async () => {
  endTestBudget();
  const problems = [...escapedErrors.stop(), ...(await leftRunning())];
  if (problems.length > 0) throw new Error(problems.join('\n\n'));
});

/** Workers and children the test started that are still alive a second after it (stopped now). */
async function leftRunning(): Promise<string[]> {
  if (mayOutliveTests()) return [];
  const log = spawnLog();
  const mine = () => ({
    workers: log.workers.slice(spawnedBefore.workers).filter((worker) => !log.exitedWorkers.has(worker)),
    children: log.children.slice(spawnedBefore.children).filter(isChildAlive),
  });
  let { workers, children } = mine();
  for (let waited = 0; waited < 1_000 && workers.length + children.length > 0; waited += 50) {
    await sleep(50);
    ({ workers, children } = mine());
  }
  if (workers.length + children.length === 0) return [];
  const where = (origin: string) => (origin ? `started at ${origin}` : 'started where the stack does not say');
  const lines = [
    ...workers.map((worker) => `  worker thread ${worker.threadId}, ${where(originOf(worker))}`),
    ...children.map((child) => `  child process ${child.pid}, ${where(originOf(child))}`),
  ];
  for (const child of children) child.kill('SIGKILL');
  const unstoppable = await stopWorkers(workers, 5_000);
  return [
    `Still running 1 s after the test ended (stopped now):\n${lines.join('\n')}\n` +
      'Whatever a call starts must be gone once its promise has settled: terminate() the worker, or let it exit, ' +
      'and wait for its "exit" event; end or kill a child and wait for its "exit" event.' +
      (unstoppable.length > 0 ? `\n(${unstoppable.length} of those threads had not stopped 5 s after terminate().)` : ''),
  ];
}

// Every Timeline a test creates is attached to it: a picture in Vitest UI, and on failure a
// text timeline in the terminal (unless the test's own message already shows one).
let stopCollecting: (() => Timeline[]) | undefined;
beforeEach(() => {
  stopCollecting = collectTimelines();
  measuringTest(expect.getState().currentTestName ?? '');
});
afterEach(async (context) => {
  const timelines = (stopCollecting?.() ?? []).filter((timeline) => timeline.spans.length > 0);
  stopCollecting = undefined;
  const errors = errorsOf(context);
  const failed = errors.length > 0;
  const shown = errors.some((error) => error.message?.includes('timeline (0 to '));
  for (const timeline of timelines) {
    const message = failed && !shown ? `${timeline.summary()}\n${timeline.toText()}` : timeline.summary();
    await annotateFinishedTest(context, message, { contentType: 'image/svg+xml', body: Buffer.from(timeline.toSvg()).toString('base64') });
  }
});

// Nothing outlives a test file: what a test file allowed to live on (a warm pool) is stopped here,
// so the run always exits and leaves no orphan process behind.
afterAll(async () => {
  for (const child of liveChildren()) child.kill('SIGKILL');
  await stopWorkers(liveWorkers(), 5_000);
  for (const late of outsideAnyTest()) console.warn(late);
});
