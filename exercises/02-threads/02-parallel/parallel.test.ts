import { once } from 'node:events';
import { availableParallelism } from 'node:os';
import { basename } from 'node:path';
import { inspect } from 'node:util';
import { MessagePort, Worker } from 'node:worker_threads';
import { describe, expect, test } from 'vitest';
import { measured as recorded, shownReason, Timeline, until, valueWithin, within } from '#kata/testing/index.ts';
import { watchingNewWorkers } from '#kata/testing/new-workers.ts';
import { recordWorkerSpans, withWorkerSpans } from '#kata/testing/worker-spans.ts';
import { countPrimesParallel, sumInWorker } from './parallel.ts';

// Known answers, counted once with primes.ts.
const cases = [
  { from: 1_000_000, to: 1_100_000, threads: 1, count: 7216 },
  { from: 1_000_000, to: 1_100_003, threads: 4, count: 7216 },
  // 96 numbers in 5 parts: the parts cannot all be the same size, and 97, the last number, is prime.
  { from: 2, to: 98, threads: 5, count: 25 },
  // More threads than numbers.
  { from: 2, to: 5, threads: 4, count: 2 },
  // Far more threads than numbers, with primes just past the end (11 is in, 13 is not): parts of at
  // least one number each walk past `to` and count them.
  { from: 8, to: 12, threads: 7, count: 1 },
];
// ~0.2 s of counting on one core: each part outlives the start-up of the workers.
const medium = { from: 1e9, to: 1e9 + 150_000, count: 7242 };
// ~1.6-2.5 s of counting on one core, short enough to repeat. Start-up is part of what a call costs (a
// worker each, and for a pool its own module: right-piscina's two threads took 1.1 s for 1.3 s of work
// at 600,000 numbers, 1.12x, refused once in .ci/run on Node 22.18): twice that work leaves it far
// above the bar.
const large = { from: 1e9, to: 1e9 + 1_200_000, count: 57_876 };

/**
 * The speed-up a right answer must show: the CPU time the work costs on one thread, divided by
 * the wall time it takes on two. A busy machine can only lower it (it stretches wall time, not
 * CPU time), so a wrong answer whose threads take turns can never reach it: it stays below 1.0.
 * Two idle cores give ~1.8; with a CPU hog beside the test, at most 4/3 (three busy threads share
 * two cores), less start-up: hence a bar clearly above 1 but below 4/3.
 */
const minSpeedUp = 1.15;
/**
 * Below this, the tests' own 2-thread split shows that no second core is really free right now, and
 * a failure is not judged. Right answers beside a CPU hog measured 1.21-1.43 while the split reached
 * 1.45: at 1.6 the split leaves a right answer far above the bar, or the test skips.
 */
const machineCanShow = 1.6;

interface Cost {
  wallMs: number;
  /** CPU time of the whole process (every thread, exited ones included) while `work` ran. */
  cpuMs: number;
}

/** What `work` cost, in wall time and in CPU time. */
async function measure(work: () => Promise<unknown>): Promise<Cost> {
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await work();
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  return { wallMs, cpuMs: (cpu.user + cpu.system) / 1000 };
}

/** The tests' own split, on the tests' own worker: what this machine can do right now. */
async function referenceCount(from: number, to: number, threads: 1 | 2): Promise<void> {
  const middle = Math.floor((from + to) / 2);
  const parts =
    threads === 1
      ? [{ from, to }]
      : [
          { from, to: middle },
          { from: middle, to },
        ];
  await Promise.all(parts.map((part) => once(new Worker(new URL('./reference.harness.ts', import.meta.url), { workerData: part }), 'message')));
}

/** CPU time at 1 thread over wall time at 2, each the least disturbed of its runs. */
function speedUpOf(runs: { 1: Cost[]; 2: Cost[] }): number {
  return Math.min(...runs[1].map((run) => run.cpuMs)) / Math.min(...runs[2].map((run) => run.wallMs));
}

const ms = (value: number) => `${Math.round(value)} ms`;

/** Explains a rejection of countPrimesParallel(from, to, threads), where the test expected `count`, the primes in [from, to). */
const countRejected = (from: number, to: number, threads: number, count: number) => (reason: unknown) =>
  `countPrimesParallel(${from}, ${to}, ${threads}) rejected with ${shownReason(reason)}, where the test expected ${count}, ` +
  `the number of primes in [${from}, ${to}).`;

/** Explains a rejection of sumInWorker(`what`), where the test expected `sum`, the sum of its values. */
const sumRejected = (what: string, sum: number) => (reason: unknown) =>
  `sumInWorker(${what}) rejected with ${shownReason(reason)}, where the test expected ${sum}, the sum of its values.`;

/**
 * Counts the medium range on `threads` parts, checks the count, and says which workers ran (only
 * the workers go on the timeline: its maxInFlight is how many ran at once).
 */
async function countMediumOn(threads: number) {
  const { counted, workers, timeline } = await withWorkerSpans(async (workers, timeline) => {
    const call = (async () => countPrimesParallel(medium.from, medium.to, threads))();
    const counted = await valueWithin(10_000, call, 'countPrimesParallel never settled', countRejected(medium.from, medium.to, threads, medium.count));
    return { counted, workers, timeline };
  });
  expect(counted, `Wrong count of primes in [${medium.from}, ${medium.to})`).toBe(medium.count);
  return { workers, timeline };
}

/** A worker started while `workersDuring` watched. */
interface StartedWorker {
  /** The name of the file it runs: `primes.worker.ts` for the workers that count. */
  script: string;
  workerData: unknown;
  threadId: number;
  /** Set once it has exited. */
  exitCode?: number;
}

/** The name of the file `new Worker(script)` runs, whether given as a URL or as a path. */
const scriptName = (script: unknown) => basename(script instanceof URL ? script.pathname : String(script));
const primesWorker = 'primes.worker.ts';

/**
 * Every worker started while `work` runs: its file, its `workerData`, and its exit code once it
 * exits. The tests watch `new Worker` itself (the module's export, which parallel.ts's import sees
 * once it is synced), and start no worker of their own meanwhile.
 */
async function workersDuring<T>(work: () => Promise<T>): Promise<{ result: T; started: StartedWorker[] }> {
  const started: StartedWorker[] = [];
  const created = (worker: Worker, args: ConstructorParameters<typeof Worker>) => {
    const record: StartedWorker = { script: scriptName(args[0]), workerData: args[1]?.workerData, threadId: worker.threadId };
    started.push(record);
    worker.once('exit', (code: number) => (record.exitCode = code));
  };
  return { result: await watchingNewWorkers({ created }, work), started };
}

const isPart = (data: unknown): data is { from: number; to: number } =>
  typeof data === 'object' && data !== null && Number.isFinite((data as { from?: unknown }).from) && Number.isFinite((data as { to?: unknown }).to);

/** Something handed to a worker thread, and the transfer list it went with. */
interface Handover {
  /** How it went: the workerData of a new Worker, or a postMessage. */
  how: string;
  value: unknown;
  transfer: readonly unknown[];
}

/** The transfer list of a postMessage: an array, or MessagePort's options form `{ transfer }`. */
const transferListOf = (transfer: unknown): readonly unknown[] => {
  if (Array.isArray(transfer)) return transfer;
  const listed = (transfer as { transfer?: unknown } | undefined)?.transfer;
  return Array.isArray(listed) ? listed : [];
};

/**
 * Everything handed to a worker while `work` runs, with its transfer list: the workerData of each
 * `new Worker` (watched as workersDuring watches it), and every message posted on a MessagePort
 * (worker.postMessage posts on the worker's port; a pool posts its tasks on ports of its own). The
 * messages Node itself posts while a Worker is being constructed are left out.
 */
async function handoversDuring<T>(work: () => Promise<T>): Promise<{ result: T; handovers: Handover[] }> {
  const post = MessagePort.prototype.postMessage;
  const handovers: Handover[] = [];
  let constructing = false;
  const watch = {
    constructing: (now: boolean) => (constructing = now),
    created: (_worker: Worker, args: ConstructorParameters<typeof Worker>) =>
      handovers.push({ how: `the workerData of new Worker(${scriptName(args[0])})`, value: args[1]?.workerData, transfer: args[1]?.transferList ?? [] }),
  };
  MessagePort.prototype.postMessage = function (this: MessagePort, value: unknown, transfer?: unknown) {
    if (!constructing) handovers.push({ how: 'a postMessage', value, transfer: transferListOf(transfer) });
    return post.call(this, value, transfer as Parameters<typeof post>[1]);
  };
  try {
    return { result: await watchingNewWorkers(watch, work), handovers };
  } finally {
    MessagePort.prototype.postMessage = post;
  }
}

/** Whether `value`, as handed to a worker, holds `buffer`: the buffer itself, a view over it, or either inside an array or object (a few levels down). */
function holdsBuffer(value: unknown, buffer: ArrayBufferLike, depth = 0): boolean {
  if (value === buffer) return true;
  if (ArrayBuffer.isView(value)) return value.buffer === buffer;
  if (typeof value !== 'object' || value === null || depth >= 3) return false;
  const inside = Array.isArray(value) ? value.slice(0, 100) : Object.values(value);
  return inside.some((item) => holdsBuffer(item, buffer, depth + 1));
}

describe('countPrimesParallel', () => {
  // Five calls of 5 s at most each (right answers take up to 0.6 s, beside a CPU hog too).
  test('counts every number exactly once, however the range splits', { timeout: 30_000 }, async () => {
    for (const { from, to, threads, count } of cases) {
      const call = `countPrimesParallel(${from}, ${to}, ${threads})`;
      const counted = await withWorkerSpans((_, timeline) =>
        valueWithin(
          5_000,
          timeline.run(call, () => countPrimesParallel(from, to, threads)),
          `${call} never settled`,
          countRejected(from, to, threads, count),
        ),
      );
      expect(
        counted,
        `${call} counted ${counted} primes, but there are ${count} in [${from}, ${to}). ` +
          (counted > count
            ? 'Some numbers were counted twice, or outside the range: parts that overlap, or that run past `to` (with more threads than numbers, parts of at least one number each do). '
            : `Some numbers were not counted: ${to - from} numbers do not always divide evenly into ${threads} parts, and a remainder rounded away, or a gap between parts, is lost. `) +
          'Make the parts cover [from, to) exactly once, none starting before `from` or ending after `to`.',
      ).toBe(count);
    }
  });

  test('gives no worker more than its share: ceil((to - from) / threads) numbers at most', { timeout: 60_000 }, async () => {
    // 12 numbers in 5 parts: a share of ceil(2.4) = 3, where a part size rounded to 2 leaves 4 numbers to the last part.
    const roundsBelowTheShare = { from: 2, to: 14, threads: 5, count: 6 };
    for (const { from, to, threads, count } of [cases[1]!, cases[2]!, roundsBelowTheShare]) {
      const call = `countPrimesParallel(${from}, ${to}, ${threads})`;
      const { started } = await workersDuring(() =>
        // Each call starts up to 5 workers: seconds beside a busy machine.
        valueWithin(15_000, countPrimesParallel(from, to, threads), `${call} never settled`, countRejected(from, to, threads, count)),
      );
      // A pool (piscina) starts its workers on a file of its own and hands them the parts as tasks:
      // those parts cannot be seen, nor judged here.
      const counting = started.filter((worker) => worker.script === primesWorker);
      if (counting.length === 0) continue;
      const partless = counting.filter((worker) => !isPart(worker.workerData));
      expect(
        partless.length,
        `${call} started ${counting.length} worker(s) on ${primesWorker}, and ${partless.length} of them got no { from, to } part in ` +
          `their workerData (${partless.map((worker) => `thread ${worker.threadId} got ${inspect(worker.workerData, { depth: 2, breakLength: Infinity })}`).join('; ')}). ` +
          'Each worker counts the part in its workerData, as the README says: hand it over in new Worker(file, { workerData }), ' +
          'where the tests see what each worker was given and check its share. A part that reaches the worker any other way is not that.',
      ).toBe(0);
      const parts = counting.map((worker) => worker.workerData as { from: number; to: number });
      const share = Math.ceil((to - from) / threads);
      const sizes = parts.map((part) => Math.max(0, part.to - part.from));
      expect(
        Math.max(...sizes),
        `${call} gave its workers parts of ${sizes.join(', ')} numbers ([${parts.map((part) => `${part.from}, ${part.to}`).join('), [')})): one holds more than its ` +
          `share of ${share}, and the others wait for it, so the threads barely help. Spread what does not divide evenly: parts of ` +
          'ceil((to - from) / threads), the last one shorter, or sizes that differ by one at most.',
      ).toBeLessThanOrEqual(share);
    }
  });

  // Two calls of 10 s at most each (right answers take up to 0.6 s, beside a CPU hog too).
  test('starts a worker thread per part, all before waiting for any', { timeout: 30_000 }, async () => {
    const threads = 3;
    const { workers, timeline } = await countMediumOn(threads);
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

    // A fixed 6, whatever the cores: more than the 4 threads of libuv's pool, a limit some answers borrow.
    const six = 6;
    const many = await countMediumOn(six);
    const manyIds = new Set(many.workers.seen.map((seen) => seen.threadId));
    expect(
      manyIds.size,
      `For threads = ${six}, ${manyIds.size} worker thread(s) counted the range: each of the ${six} parts is counted in a worker of its own, ` +
        `whatever their number.\n${many.timeline.toText()}\n`,
    ).toBeGreaterThanOrEqual(six);
    expect(
      many.timeline.maxInFlight,
      `For threads = ${six}, all ${manyIds.size} workers were started, but no more than ${many.timeline.maxInFlight} were running at any moment: ` +
        'some started only after others had reported their count, so their parts waited their turn. Start the worker of every part ' +
        'before waiting for any, with no limit of your own on how many run at once.\n' +
        `${many.timeline.toText()}\n`,
    ).toBeGreaterThanOrEqual(six);
  });

  test('starts one worker per part even when there are more parts than cores', async () => {
    // More parts than this machine has cores: the README asks for one worker per part, not per core.
    const threads = availableParallelism() + 2;
    const { workers, timeline } = await countMediumOn(threads);
    const threadIds = new Set(workers.seen.map((seen) => seen.threadId));
    expect(
      threadIds.size,
      `Only ${threadIds.size} worker thread(s) for threads = ${threads}, on a machine with ${availableParallelism()} cores. ` +
        `countPrimesParallel splits the range into \`threads\` parts and counts each part in its own worker, however many ` +
        `cores there are (capping the workers at the number of cores, or at any other number, gives fewer).\n${timeline.toText()}\n`,
    ).toBeGreaterThanOrEqual(threads);
    expect(
      timeline.maxInFlight,
      `At most ${timeline.maxInFlight} of the ${threads} workers ran at once: start every worker before waiting for any.\n${timeline.toText()}\n`,
    ).toBeGreaterThanOrEqual(threads);
  });

  // Two calls of 10 s at most each (right answers take well under a second, beside a CPU hog too).
  test('starts `threads` workers also when the range does not divide evenly into `threads` parts', { timeout: 30_000 }, async () => {
    // 9 numbers in 6 parts and 10 in 7: shares of ceil(1.5) = 2 and ceil(1.43) = 2 numbers, where parts of 2 laid end to end
    // cover the range in 5 parts. At least as many numbers as threads: every part can have one.
    const uneven = [
      { from: 0, to: 9, threads: 6, count: 4 },
      { from: 0, to: 10, threads: 7, count: 4 },
    ];
    for (const { from, to, threads, count } of uneven) {
      const call = `countPrimesParallel(${from}, ${to}, ${threads})`;
      const { result, started } = await workersDuring(() =>
        withWorkerSpans(async (workers) => {
          const counted = await valueWithin(10_000, countPrimesParallel(from, to, threads), `${call} never settled`, countRejected(from, to, threads, count));
          return { counted, threadIds: new Set(workers.seen.map((seen) => seen.threadId)) };
        }),
      );
      expect(result.counted, `${call} resolved with ${result.counted}, where [${from}, ${to}) holds ${count} primes: 2, 3, 5 and 7.`).toBe(count);
      // The parts are seen where each worker got its own (a pool's tasks are not).
      const parts = started
        .filter((worker) => worker.script === primesWorker && isPart(worker.workerData))
        .map((worker) => worker.workerData as { from: number; to: number });
      expect(
        result.threadIds.size,
        `${call} started ${result.threadIds.size} worker thread(s) for a range of ${to - from} numbers that does not divide evenly into ${threads} parts` +
          (parts.length > 0 ? `; it handed out ${parts.length} part(s), [${parts.map((part) => `${part.from}, ${part.to}`).join('), [')})` : '') +
          `. The README asks for \`threads\` parts, each counted in its own worker, however the numbers divide: make ${threads} parts ` +
          'of at most ceil((to - from) / threads) numbers each, some of them shorter than others where the numbers run short.',
      ).toBeGreaterThanOrEqual(threads);
    }
  });

  test('leaves no worker running once the count is in', async () => {
    await withWorkerSpans(async (workers, timeline) => {
      const counted = await valueWithin(
        10_000,
        timeline.run('countPrimesParallel', () => countPrimesParallel(medium.from, medium.to, 3)),
        'countPrimesParallel never settled',
        countRejected(medium.from, medium.to, 3, medium.count),
      );
      expect(counted, `Wrong count of primes in [${medium.from}, ${medium.to})`).toBe(medium.count);
      // A worker that posted its count and returned is gone within a moment; 5 s is far more than that.
      const waitedMs = 5_000;
      for (let waited = 0; workers.alive().length > 0 && waited < waitedMs; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
      const alive = workers.alive();
      expect(
        alive.length,
        `${alive.length} of the ${workers.seen.length} worker threads (${alive.map((seen) => `thread ${seen.threadId}`).join(', ')}) ` +
          `were still alive ${waitedMs / 1000} s after countPrimesParallel resolved. A worker that posts its count and ` +
          'returns ends by itself (exit code 0); one that listens on its port (parentPort.on("message")) never does, ' +
          'and keeps the program from exiting. Give each worker its part in workerData and let it return.\n' +
          `${timeline.toText()}\n`,
      ).toBe(0);
    });
  });

  test('lets each worker end by itself, with exit code 0', async () => {
    const threads = 3;
    const call = `countPrimesParallel(${medium.from}, ${medium.to}, ${threads})`;
    const { result: counted, started } = await workersDuring(() =>
      valueWithin(
        10_000,
        countPrimesParallel(medium.from, medium.to, threads),
        `${call} never settled`,
        countRejected(medium.from, medium.to, threads, medium.count),
      ),
    );
    expect(counted, `Wrong count of primes in [${medium.from}, ${medium.to})`).toBe(medium.count);
    // A pool (piscina) starts its workers on a file of its own, and stops them itself: only the
    // workers on primes.worker.ts are the README's, which end by themselves.
    const counting = started.filter((worker) => worker.script === primesWorker);
    // A worker that posted its count and returned is gone within a moment; 5 s is far more than that.
    const waitedMs = 5_000;
    await until(() => counting.every((worker) => worker.exitCode !== undefined), waitedMs, { everyMs: 20 });
    const unclean = counting.filter((worker) => worker.exitCode !== 0);
    const codeOne = unclean.some((worker) => worker.exitCode === 1);
    expect(
      unclean.length,
      `${unclean.length} of the ${counting.length} workers on ${primesWorker} did not end with exit code 0: ` +
        unclean
          .map(
            (worker) =>
              `thread ${worker.threadId} ${worker.exitCode === undefined ? `still ran ${waitedMs / 1000} s after ${call} resolved` : `exited with code ${worker.exitCode}`}`,
          )
          .join('; ') +
        '. ' +
        (codeOne ? 'Exit code 1 is what a worker stopped by worker.terminate() gets (an uncaught error in the worker gives it too). ' : '') +
        'The README asks each worker to end by itself once it has posted its count: nothing left listening on its port, ' +
        'no terminate() needed.',
    ).toBe(0);
  });

  test('finishes clearly sooner on two threads than on one: no GIL here', { tags: ['speed-up'], timeout: 180_000 }, async (ctx) => {
    // In the learner's code first: a stub fails here, whatever the machine.
    const few = await valueWithin(20_000, countPrimesParallel(2, 98, 2), 'countPrimesParallel(2, 98, 2) never settled', countRejected(2, 98, 2, 25));
    expect(few, 'countPrimesParallel(2, 98, 2) should count 25 primes').toBe(25);
    if (availableParallelism() < 2) ctx.skip('this machine has a single CPU core: no speed-up to measure');

    const timeline = new Timeline();
    const workers = recordWorkerSpans(timeline);
    const yours = { 1: [] as Cost[], 2: [] as Cost[] };
    const reference = { 1: [] as Cost[], 2: [] as Cost[] };
    const counted = new Set<number>();
    const runYours = async (threads: 1 | 2) => {
      const label = `yours, ${threads} thread${threads === 1 ? '' : 's'}`;
      const work = () => timeline.run(label, async () => counted.add(await countPrimesParallel(large.from, large.to, threads)));
      const rejected = countRejected(large.from, large.to, threads, large.count);
      yours[threads].push(await measure(() => valueWithin(30_000, work(), `countPrimesParallel(..., ${threads}) never settled`, rejected)));
    };
    const runReference = async (threads: 1 | 2) => {
      const work = () => timeline.run(`reference, ${threads}`, () => referenceCount(large.from, large.to, threads));
      reference[threads].push(await measure(() => within(30_000, work(), 'the reference never settled')));
    };
    try {
      // Up to three tries: a speed-up, once measured, cannot be luck (see minSpeedUp).
      for (let round = 0; round < 3 && !(speedUpOf(yours) >= minSpeedUp); round += 1) {
        await runYours(1);
        await runYours(2);
      }
      if (speedUpOf(yours) < minSpeedUp) {
        // Too slow, or a busy machine? Ask the tests' own split, and try yours again beside it.
        for (let round = 0; round < 3; round += 1) {
          await runReference(1);
          await runReference(2);
          await runYours(2);
        }
      }
    } finally {
      workers.stop();
    }
    expect([...counted], `Wrong count of primes in [${large.from}, ${large.to}): a fast answer must still be right`).toEqual([large.count]);
    const speedUp = speedUpOf(yours);
    const possible = reference[1].length > 0 ? speedUpOf(reference) : undefined;
    const measured =
      `At 1 thread the count cost ${yours[1].map((run) => ms(run.cpuMs)).join(', ')} of CPU time; ` +
      `at 2 threads it took ${yours[2].map((run) => ms(run.wallMs)).join(', ')} (speed-up ${speedUp.toFixed(2)}x).` +
      (possible === undefined ? '' : ` The tests' own 2-thread split, measured alongside: ${possible.toFixed(2)}x.`);
    await ctx.annotate(`speed-up ${speedUp.toFixed(2)}x at 2 threads${possible === undefined ? '' : ` (reference ${possible.toFixed(2)}x)`}`);
    if (speedUp < minSpeedUp && possible !== undefined && possible < machineCanShow) {
      ctx.skip(`this machine is too busy to show a speed-up right now (the tests' own 2-thread split reached only ${possible.toFixed(2)}x). ${measured}`);
    }
    expect(
      recorded('parallel: countPrimesParallel at 2 threads over 1 (x)', speedUp, minSpeedUp, 'min'),
      `Two threads were not clearly faster than one: ${measured} With no GIL, two workers each counting half the range ` +
        `finish in about half the time. Are both halves counted at the same time, each on its own worker?\n${timeline.toText()}\n`,
    ).toBeGreaterThanOrEqual(minSpeedUp);
  });
});

describe('sumInWorker', () => {
  test('moves the array to the worker instead of copying it', async () => {
    const values = new Float64Array(4_000_000).map((_, index) => index % 1000);
    const bytes = values.byteLength;
    // Kept: once detached, the array still names the buffer it had.
    const buffer = values.buffer;
    const expected = 4000 * ((999 * 1000) / 2);
    const {
      result: { sum, workers },
      handovers,
    } = await handoversDuring(() =>
      withWorkerSpans(async (workers, timeline) => {
        const call = timeline.run('sumInWorker', () => sumInWorker(values));
        const sum = await valueWithin(10_000, call, 'sumInWorker never settled', sumRejected(`a Float64Array of ${values.length} values`, expected));
        return { sum, workers };
      }),
    );
    expect(workers.seen.length, 'sumInWorker started no worker thread: post the array to a Worker, and sum it there.').toBeGreaterThanOrEqual(1);
    expect(sum, 'sumInWorker should resolve with the sum of the values, as computed by the worker').toBe(expected);
    expect(
      values.buffer.byteLength,
      `The ${bytes / 1e6} MB array was copied, not transferred: it is still readable on the main thread after the call. ` +
        "postMessage (and workerData) copy by default; list the array's buffer in transferList to move it instead.",
    ).toBe(0);
    // Moved means the worker gets that very memory: the buffer goes in the message, and in its transfer list.
    const listing = handovers.filter((handover) => handover.transfer.includes(buffer));
    const shown = (value: unknown) => inspect(value, { depth: 1, maxArrayLength: 3, breakLength: Infinity });
    expect(
      listing.some((handover) => holdsBuffer(handover.value, buffer)),
      (listing.length === 0
        ? "The array's buffer was detached, but no workerData or postMessage the tests saw listed it in a transfer list: it was emptied some " +
          'other way, and the worker got the values without it. '
        : `The array's buffer was in the transfer list of ${listing.map((handover) => handover.how).join(' and ')}, but what went with it ` +
          `(${listing.map((handover) => shown(handover.value)).join('; ')}) does not hold that buffer: the worker summed values copied ` +
          'into something else, and the listed buffer went along unused: detached here, read by nobody there. ') +
        'Nothing is copied when the worker gets the memory itself: send the array (or its buffer) in the same message whose transfer list holds its buffer.',
    ).toBe(true);
  });

  test('sums an empty array to 0', async () => {
    const empty = new Float64Array(0);
    const sum = await withWorkerSpans((_, timeline) =>
      valueWithin(
        10_000,
        timeline.run('sumInWorker', () => sumInWorker(empty)),
        'sumInWorker never settled for an empty array',
        (reason) =>
          `sumInWorker(new Float64Array(0)) rejected with "${String((reason as Error)?.message ?? reason)}": an empty array is an ` +
          'array too, and its sum is 0. Look at what the worker does with no values at all (reduce() without a starting value, for one, throws).',
      ),
    );
    expect(sum, 'sumInWorker(new Float64Array(0)) should resolve with 0: nothing to add up.').toBe(0);
  });

  test('sums exactly the values of an array that is a view into a larger buffer', async () => {
    // A Float64Array need not start at the start of its buffer, nor end at its end: this one is
    // elements 1000 to 4999 of a buffer of 10,000, and the elements around it hold other numbers.
    const whole = new Float64Array(10_000).fill(1_000_000);
    const view = whole.subarray(1_000, 5_000);
    for (let index = 0; index < view.length; index += 1) view[index] = index % 10;
    const expected = 400 * 45;
    const sum = await withWorkerSpans((_, timeline) =>
      valueWithin(
        10_000,
        timeline.run('sumInWorker', () => sumInWorker(view)),
        'sumInWorker never settled',
        sumRejected(`a view of elements 1000 to 4999 of a Float64Array of ${whole.length}`, expected),
      ),
    );
    const wholeBuffer = expected + 6_000 * 1_000_000;
    expect(
      sum,
      `sumInWorker(view) resolved with ${sum}, but the ${view.length} values of the view add up to ${expected}. The view is ` +
        `elements 1000 to 4999 of a buffer of 10,000 numbers: its buffer holds more than the array` +
        (sum === wholeBuffer ? `, and ${sum} is the sum of the whole buffer: the worker summed a Float64Array over all of it. ` : '. ') +
        'Send the array itself (postMessage(values, [values.buffer]) keeps its offset and length), and sum that.',
    ).toBe(expected);
    expect(
      view.buffer.byteLength,
      'The view was copied, not transferred: its buffer is still readable on the main thread after the call. ' +
        "List the array's buffer in transferList to move it.",
    ).toBe(0);
  });
});
