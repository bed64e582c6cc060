import { once } from 'node:events';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { describe, expect, test } from 'vitest';
import { Timeline, within } from '#kata/testing/index.ts';
import { recordWorkerSpans } from '#kata/testing/worker-spans.ts';
import { countPrimesParallel, sumInWorker } from './parallel.ts';

// Known answers, counted once with primes.ts.
const cases = [
  { from: 1_000_000, to: 1_100_000, threads: 1, count: 7216 },
  { from: 1_000_000, to: 1_100_003, threads: 4, count: 7216 },
  // 96 numbers in 5 parts: the parts cannot all be the same size, and 97, the last number, is prime.
  { from: 2, to: 98, threads: 5, count: 25 },
  // More threads than numbers.
  { from: 2, to: 5, threads: 4, count: 2 },
];
// ~0.2 s of counting on one core: each part outlives the start-up of the workers.
const medium = { from: 1e9, to: 1e9 + 150_000, count: 7242 };
// ~0.6 s of counting on one core (an idle one): enough that start-up costs little, short enough to repeat.
const large = { from: 1e9, to: 1e9 + 450_000, count: 21_638 };

/** The speed-up a right answer shows at least; wrong answers measure ~1.0 (their 2 threads take turns). */
const minSpeedUp = 1.2;
/** Below this, the tests' own 2-thread reference shows the machine has no second core free right now. */
const machineCanShow = 1.45;

/** ms that `work` took. */
async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

/** The tests' own split, on the tests' own worker: what this machine can do right now. */
async function referenceCount(from: number, to: number, threads: 1 | 2): Promise<void> {
  const middle = Math.floor((from + to) / 2);
  const parts = threads === 1 ? [{ from, to }] : [{ from, to: middle }, { from: middle, to }];
  await Promise.all(
    parts.map((part) => once(new Worker(new URL('./reference.harness.ts', import.meta.url), { workerData: part }), 'message')),
  );
}

const ms = (value: number) => `${Math.round(value)} ms`;

describe('countPrimesParallel', () => {
  test('counts every number exactly once, however the range splits', async () => {
    for (const { from, to, threads, count } of cases) {
      const counted = await within(20_000, countPrimesParallel(from, to, threads), `countPrimesParallel(${from}, ${to}, ${threads}) never settled`);
      expect(
        counted,
        `countPrimesParallel(${from}, ${to}, ${threads}) counted ${counted} primes, but there are ${count}. ` +
          `${to - from} numbers do not always divide evenly into ${threads} parts: make the parts cover [from, to) exactly once, ` +
          'the last part taking what is left over.',
      ).toBe(count);
    }
  });

  test('starts a worker thread per part, all before waiting for any', async () => {
    const threads = 3;
    const timeline = new Timeline();
    const workers = recordWorkerSpans(timeline);
    let counted: number;
    try {
      counted = await within(30_000, countPrimesParallel(medium.from, medium.to, threads), 'countPrimesParallel never settled');
    } finally {
      workers.stop();
    }
    expect(counted, `Wrong count of primes in [${medium.from}, ${medium.to})`).toBe(medium.count);
    const threadIds = new Set(workers.seen.map((seen) => seen.threadId));
    expect(
      threadIds.size,
      threadIds.size === 0
        ? 'No worker thread was started: Promise.all over async functions (or promises) still runs them on the main thread, ' +
            'one after another. Only a Worker runs code on another thread: start one per part.'
        : `Only ${threadIds.size} worker thread(s) for threads = ${threads}: split the range into ${threads} parts, one worker each.\n${timeline.toText()}\n`,
    ).toBeGreaterThanOrEqual(threads);
    expect(
      timeline.maxInFlight,
      `The workers ran one after another (at most ${timeline.maxInFlight} at once): awaiting each worker before starting ` +
        'the next gives you threads, but no parallelism. Start every worker first, then wait for all of them together.\n' +
        `${timeline.toText()}\n`,
    ).toBeGreaterThanOrEqual(threads);
  });

  test('finishes clearly sooner on two threads than on one: no GIL here', async (ctx) => {
    // In the learner's code first: a stub fails here, whatever the machine.
    const counted = await within(20_000, countPrimesParallel(2, 98, 2), 'countPrimesParallel(2, 98, 2) never settled');
    expect(counted, 'countPrimesParallel(2, 98, 2) should count 25 primes').toBe(25);
    if (availableParallelism() < 2) ctx.skip('this machine has a single CPU core: no speed-up to measure');

    // Same work at 1 and at 2 threads, interleaved, three times: the fastest of each ratio,
    // so start-up costs cancel out and a noisy neighbour only makes a run slower, never faster.
    const timeline = new Timeline();
    const workers = recordWorkerSpans(timeline);
    const yours = { 1: [] as number[], 2: [] as number[] };
    const reference = { 1: [] as number[], 2: [] as number[] };
    try {
      for (let round = 1; round <= 3; round += 1) {
        for (const threads of [1, 2] as const) {
          const label = `yours, ${threads} thread${threads === 1 ? '' : 's'}`;
          yours[threads].push(
            await timed(() =>
              within(30_000, timeline.run(label, () => countPrimesParallel(large.from, large.to, threads)), `countPrimesParallel(..., ${threads}) never settled`),
            ),
          );
        }
        for (const threads of [1, 2] as const) {
          const label = `reference, ${threads}`;
          reference[threads].push(await timed(() => within(30_000, timeline.run(label, () => referenceCount(large.from, large.to, threads)), 'the reference never settled')));
        }
      }
    } finally {
      workers.stop();
    }
    const speedUp = Math.min(...yours[1]) / Math.min(...yours[2]);
    const possible = Math.min(...reference[1]) / Math.min(...reference[2]);
    const measured =
      `1 thread: ${yours[1].map(ms).join(', ')}; 2 threads: ${yours[2].map(ms).join(', ')} (speed-up ${speedUp.toFixed(2)}x). ` +
      `The tests' own split on the same machine: ${possible.toFixed(2)}x.`;
    await ctx.annotate(`speed-up ${speedUp.toFixed(2)}x at 2 threads (reference ${possible.toFixed(2)}x)`);
    if (speedUp < minSpeedUp && possible < machineCanShow) {
      ctx.skip(`this machine is too busy to show a speed-up right now (the tests' own 2-thread split reached only ${possible.toFixed(2)}x). ${measured}`);
    }
    expect(
      speedUp,
      `Two threads were not clearly faster than one: ${measured} With no GIL, two workers each counting half the range ` +
        `finish in about half the time. Are both halves counted at the same time, each on its own worker?\n${timeline.toText()}\n`,
    ).toBeGreaterThanOrEqual(minSpeedUp);
  }, 180_000);
});

describe('sumInWorker', () => {
  test('moves the array to the worker instead of copying it', async () => {
    const values = new Float64Array(4_000_000).map((_, index) => index % 1000);
    const bytes = values.byteLength;
    const expected = 4000 * ((999 * 1000) / 2);
    const timeline = new Timeline();
    const workers = recordWorkerSpans(timeline);
    let sum: number;
    try {
      sum = await within(20_000, timeline.run('sumInWorker', () => sumInWorker(values)), 'sumInWorker never settled');
    } finally {
      workers.stop();
    }
    expect(workers.seen.length, 'sumInWorker started no worker thread: post the array to a Worker, and sum it there.').toBeGreaterThanOrEqual(1);
    expect(sum, 'sumInWorker should resolve with the sum of the values, as computed by the worker').toBe(expected);
    expect(
      values.buffer.byteLength,
      `The ${bytes / 1e6} MB array was copied, not transferred: it is still readable on the main thread after the call. ` +
        'postMessage (and workerData) copy by default; list the array\'s buffer in transferList to move it instead.',
    ).toBe(0);
  });
});
