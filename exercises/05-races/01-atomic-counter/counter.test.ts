import { availableParallelism } from 'node:os';
import { describe, expect, test } from 'vitest';
import { realAtomics, spyOnAtomics, watchIndexedAccess } from '#kata/inside/atomics-spy.ts';
import { runTogether } from '#kata/testing/harness-worker.ts';
import { watchingNewWorkers } from '#kata/testing/new-workers.ts';
import { isNotImplemented, shownReason, Timeline, valueWithin } from '#kata/testing/index.ts';
import { recordWorkerSpans, type WorkerSpans } from '#kata/testing/worker-spans.ts';
import { countInWorkers, createCounter, increment } from './counter.ts';

const sharedInts = (length: number) => new Int32Array(new SharedArrayBuffer(length * Int32Array.BYTES_PER_ELEMENT));
const n = (value: number) => value.toLocaleString('en-US');

/** Explains a rejection of countInWorkers(threads, times), where the test expected a total, with what its workers were seen to do. */
const countRejected = (threads: number, times: number, spans: WorkerSpans) => (reason: unknown) => {
  const seen = spans.seen.map((w) => `thread ${w.threadId}: ${w.exitCode === undefined ? 'still running' : `exit code ${w.exitCode}`}`);
  return (
    `countInWorkers(${threads}, ${times}) rejected with ${shownReason(reason)}, where the test expected the shared counter's total, ${n(threads * times)}. ` +
    `The worker threads it started: ${seen.length === 0 ? 'none' : seen.join('; ')}.`
  );
};

/**
 * Runs `work` with `new Worker` watched, and pushes onto `given` the `workerData` of every worker
 * started meanwhile, as the main thread passed it: its counter is the very Int32Array countInWorkers
 * handed over, over the same memory the worker counts in when that memory is shared. `onStart` runs
 * right after each of those workers is created.
 */
const watchWorkerData = <T>(given: unknown[], work: () => Promise<T>, onStart: (workerData: unknown) => void = () => {}): Promise<T> =>
  watchingNewWorkers(
    {
      created(_worker, args) {
        given.push(args[1]?.workerData);
        onStart(args[1]?.workerData);
      },
    },
    work,
  );

/** The `counter` of a worker's `workerData`, when it is an Int32Array. */
const counterIn = (workerData: unknown) => {
  const counter = (workerData as { counter?: unknown } | null | undefined)?.counter;
  return counter instanceof Int32Array ? counter : undefined;
};

/** How many different buffers the counters of `given` (workerData, as watchWorkerData saw them) lie over. */
const buffersOf = (given: unknown[]) => new Set(given.map((workerData) => counterIn(workerData)?.buffer)).size;

describe('createCounter', () => {
  test('puts `slots` cells in shared memory, every one at 0, and none for 0', () => {
    const counter = createCounter(3);
    expect(
      counter.buffer instanceof SharedArrayBuffer,
      `createCounter(3) returned an Int32Array over ${counter.buffer.constructor.name}, not SharedArrayBuffer. ` +
        'An ArrayBuffer is copied when it is sent to a worker: each worker would count on its own copy, ' +
        'and the main thread would go on reading 0. Allocate the cells in a SharedArrayBuffer.',
    ).toBe(true);
    expect([...counter], 'createCounter(3) should give 3 cells, all 0').toEqual([0, 0, 0]);
    expect(createCounter(0).length, 'createCounter(0) should give no cells: `slots` cells, however many that is.').toBe(0);
  });

  test('gives one cell when called without `slots`', () => {
    const counter = createCounter();
    expect(
      { cells: counter.length, values: [...counter], shared: counter.buffer instanceof SharedArrayBuffer },
      `createCounter() (slots left out, so 1 by default) gave ${counter.length} cells over ${counter.buffer.constructor.name} ` +
        `(${counter.buffer.byteLength} bytes). Expected 1 cell at 0 in a SharedArrayBuffer of ${Int32Array.BYTES_PER_ELEMENT} bytes: ` +
        'keep the default `slots = 1`, and size the buffer as slots * Int32Array.BYTES_PER_ELEMENT.',
    ).toEqual({ cells: 1, values: [0], shared: true });
  });

  test('gives as many cells as asked for: 1,000 as well as 3', () => {
    const slots = 1000;
    let counter: Int32Array | undefined;
    let failure: unknown;
    try {
      counter = createCounter(slots);
    } catch (error) {
      // The stub's "Not implemented yet" fails the test as it is.
      if (isNotImplemented(error)) throw error;
      failure = error;
    }
    expect(
      failure,
      `createCounter(${n(slots)}) threw ${shownReason(failure)}. \`slots\` may be any number of cells, 0 or more, not only a few: ` +
        'is the buffer of a fixed size? Size it by `slots` (slots * Int32Array.BYTES_PER_ELEMENT bytes).',
    ).toBeUndefined();
    const cells = counter!;
    expect(
      { cells: cells.length, notZero: cells.filter((value) => value !== 0).length, shared: cells.buffer instanceof SharedArrayBuffer },
      `createCounter(${n(slots)}) gave ${n(cells.length)} cells over ${cells.buffer.constructor.name} (${n(cells.buffer.byteLength)} bytes), ` +
        `${n(cells.filter((value) => value !== 0).length)} of them not 0. Expected ${n(slots)} cells, all 0, in a SharedArrayBuffer.`,
    ).toEqual({ cells: slots, notZero: 0, shared: true });
  });
});

describe('increment', () => {
  test('adds `times` to its own cell and to no other', () => {
    const counter = sharedInts(3);
    counter.set([5, 10, 20]);
    increment(counter, 1, 1000);
    expect(
      [...counter],
      `increment(counter, 1, 1000) on [5, 10, 20] left [${[...counter].join(', ')}]: it must add all of \`times\` to cell \`index\`, and nothing to any other cell`,
    ).toEqual([5, 1010, 20]);
    increment(counter, 2, 0);
    expect([...counter], 'increment(counter, 2, 0) should change nothing').toEqual([5, 1010, 20]);
  });

  test('never reads or writes the counter with plain indexing', () => {
    const counter = sharedInts(2);
    // This test plays a second thread whose increment lands right after each of your plain reads.
    let theirs = 0;
    const probe = watchIndexedAccess(counter, {
      afterRead(index) {
        realAtomics.add(counter, index, 1);
        theirs += 1;
      },
    });
    let refused = false;
    try {
      increment(probe.proxy, 1, 100);
    } catch (error) {
      // Every Atomics function refuses the probe with a TypeError: code that uses only Atomics stops here.
      if (!(error instanceof TypeError)) throw error;
      refused = true;
    }
    const lost = 100 + theirs - counter[1]!;
    expect(
      { plainReads: probe.reads, plainWrites: probe.writes },
      `increment() used plain indexing on the shared counter: ${probe.reads} plain reads and ${probe.writes} plain writes of counter[1]. ` +
        'counter[i]++ (or counter[i] = counter[i] + 1) is three steps: read, add 1, write back. ' +
        (refused
          ? 'Another thread can write between your read and your write, and your write then overwrites it. '
          : `This test played another thread that added 1 right after each of your reads: counter[1] should have gained ${n(100 + theirs)}, ` +
            `it gained ${n(counter[1]!)}. ${n(lost)} updates were lost, overwritten by your writes. `) +
        'Atomics.add(counter, index, 1) does the three steps as one.',
    ).toEqual({ plainReads: 0, plainWrites: 0 });
  });

  test('keeps an update that another thread makes between its read and its write', () => {
    const counter = sharedInts(1);
    const used = new Set<string>();
    let theirs = 0;
    let calls = 0;
    /** What the learner's Atomics.add calls added, in all. */
    let added = 0;
    /** The other thread has written since the learner's last write: it waits for the learner's next one. */
    let waitingForYourWrite = false;
    const restore = spyOnAtomics((name, args, proceed) => {
      if (args[0] !== counter) return proceed();
      used.add(name);
      calls += 1;
      if (name === 'add') added += Number(args[2]);
      const result = proceed();
      const wrote = name === 'compareExchange' ? result === args[2] : name !== 'load' && name !== 'wait' && name !== 'notify';
      if (wrote) waitingForYourWrite = false;
      // Right after an Atomics call on the counter (a load, or any call that reads the cell, such as
      // Atomics.add(counter, i, 0)), this test plays another thread that adds 1; then it waits until
      // one of your writes has gone through, so that a compareExchange loop, however it re-reads,
      // gets its chance to succeed.
      if (!waitingForYourWrite) {
        realAtomics.add(counter, 0, 1);
        theirs += 1;
        waitingForYourWrite = true;
      }
      return result;
    });
    try {
      increment(counter, 0, 1000);
    } finally {
      restore();
    }
    // The test can only come between two Atomics calls: with none, it never played the other thread.
    expect(
      calls,
      `increment(counter, 0, 1000) made no Atomics call on the counter, so this test never got between a read and a write of it. ` +
        'Plain indexing (counter[index] += 1) reads and writes in two steps that another thread can come between, unseen: ' +
        'use Atomics.add(counter, index, 1), which reads, adds and writes as one step.',
    ).toBeGreaterThan(0);
    const expected = 1000 + theirs;
    const lost = expected - counter[0]!;
    // Atomics.add alone cannot overwrite another thread's update: then the loss is in what was added.
    const how = [...used].every((name) => name === 'add')
      ? `Only Atomics.add was called, which cannot overwrite another thread's update: none of theirs was lost, but your calls added ${n(added)} in all, ` +
        'not 1,000. increment must add all of `times`.'
      : used.has('compareExchange')
        ? 'When another thread had written first, your Atomics.compareExchange failed and that increment was dropped. ' +
          'compareExchange only tells you that you lost the race: retry (load again, compareExchange again) until it succeeds, or use Atomics.add.'
        : `You read the cell in one Atomics call and wrote your new value in another (you called Atomics.${[...used].join(', Atomics.') || '?'}), ` +
          'so your write overwrote theirs. Each Atomics call is atomic on its own, but a load followed by a store is not (nor any read ' +
          'followed by a separate write): use Atomics.add(counter, index, 1), which reads, adds and writes as one step.';
    expect(
      counter[0],
      `increment(counter, 0, 1000) made ${n(calls)} Atomics calls on the counter; right after ${n(theirs)} of them, this test played another ` +
        `thread that added 1. counter[0] should be ${n(expected)}, it is ${n(counter[0]!)}: ${n(lost)} updates were lost. ${how}`,
    ).toBe(expected);
  });

  test('four threads released together lose no update', async ({ annotate }) => {
    const threads = 4;
    const times = 1_000_000;
    const timeline = new Timeline();
    const race = async (kind: 'learner' | 'plain') => {
      const counter = sharedInts(1);
      const run = await runTogether({
        harness: new URL('./race.harness.ts', import.meta.url),
        parties: threads,
        workerData: () => ({ counter, times, increment: kind }),
        timeline,
        label: (index) => `${kind === 'plain' ? 'plain ++' : 'increment'} ${index}`,
        ms: 10_000,
      });
      return { ...run, total: counter[0]! };
    };

    const yours = await race('learner');
    expect(yours.stuck, `Threads ${yours.stuck.join(', ')} were still inside increment(counter, 0, ${n(times)}) after 10 s.\n${timeline.toText()}\n`).toEqual(
      [],
    );
    // The same race with counter[0]++, to show what Atomics.add protects against.
    const plain = await race('plain');
    const plainLost = threads * times - plain.total;
    const yoursLost = threads * times - yours.total;
    await annotate(
      `Released together, four threads lost ${n(plainLost)} of ${n(threads * times)} updates with plain counter[0]++; with your increment(), ${n(yoursLost)}.`,
    );
    expect(
      yours.total,
      `${threads} threads, released at the same moment by a start barrier, each called increment(counter, 0, ${n(times)}). ` +
        `counter[0] should be ${n(threads * times)}, it is ${n(yours.total)}: ${n(yoursLost)} updates were lost. ` +
        `(For comparison, plain counter[0]++ in the same threads lost ${n(plainLost)}.) ` +
        'Two threads that read the same value both write back value + 1: one increment is gone. Use Atomics.add.\n' +
        `${timeline.toText()}\n`,
    ).toBe(threads * times);
  });
});

describe('countInWorkers', () => {
  test('counts in `threads` workers that share one counter, and waits for all of them', async () => {
    const timeline = new Timeline();
    const spans = recordWorkerSpans(timeline, (threadId) => `worker ${threadId}`);
    let total: number;
    let stillRunning: number;
    try {
      total = await valueWithin(10_000, countInWorkers(4, 250_000), 'countInWorkers(4, 250000) never resolved', countRejected(4, 250_000, spans));
      // Read at once: a worker that is still running now was not waited for.
      stillRunning = spans.alive().length;
    } finally {
      spans.stop();
    }
    expect(spans.seen.length, `countInWorkers(4, 250000) started ${spans.seen.length} worker threads; expected 4, one per thread.`).toBe(4);
    expect(
      stillRunning,
      `countInWorkers resolved while ${stillRunning} of its 4 workers were still running, so their increments may not be in yet. ` +
        "Wait for every worker's 'exit' event before reading the total.\n" +
        `${timeline.toText()}\n`,
    ).toBe(0);
    expect(
      total,
      `4 workers each added 1 to one shared counter 250,000 times: expected 1,000,000, got ${n(total)}. ` +
        (total === 0 ? "A total of 0 means the workers counted on copies: is the counter's buffer a SharedArrayBuffer? " : '') +
        'Does each worker call increment(counter, 0, times) on the counter it received?',
    ).toBe(1_000_000);
  });

  test('hands every worker the same counter: one SharedArrayBuffer in all their workerData', async () => {
    const timeline = new Timeline();
    const spans = recordWorkerSpans(timeline, (threadId) => `worker ${threadId}`);
    const given: unknown[] = [];
    let total: number;
    try {
      total = await watchWorkerData(given, () =>
        valueWithin(10_000, countInWorkers(3, 1000), 'countInWorkers(3, 1000) never resolved', countRejected(3, 1000, spans)),
      );
    } finally {
      spans.stop();
    }
    expect(
      given.length,
      `countInWorkers(3, 1000) started ${spans.seen.length} worker threads, and the test saw the workerData of ${given.length} of them ` +
        "(it watches new Worker() of 'node:worker_threads' while the call runs). Start the 3 workers there, with new Worker(file, { workerData: { counter, times } }).",
    ).toBe(3);
    const without = given.filter((workerData) => counterIn(workerData) === undefined);
    expect(
      without.length,
      `${without.length} of the 3 workers of countInWorkers(3, 1000) got no Int32Array as the counter of their workerData ` +
        `(one got ${shownReason(without[0])}): counter.worker.ts reads { counter, times } from it.`,
    ).toBe(0);
    const buffers = buffersOf(given);
    expect(
      buffers,
      `countInWorkers(3, 1000) handed its 3 workers ${buffers} different buffers in their workerData: ` +
        `${buffers === 3 ? 'each worker counted on a counter of its own' : 'some workers counted on counters of their own'}, so those threads never ` +
        'touched the same cell, and there was no race for increment() to survive. The exercise is one counter that every thread shares: ' +
        'create one counter for the call, and hand that same counter to every worker.',
    ).toBe(1);
    expect(total, `3 workers each added 1,000 to one shared counter: expected 3,000, got ${n(total)}.`).toBe(3000);
  });

  test('resolves with the value it reads from the shared counter, not a total it works out', async () => {
    const timeline = new Timeline();
    const spans = recordWorkerSpans(timeline, (threadId) => `worker ${threadId}`);
    const given: unknown[] = [];
    // While the workers run, the test adds `extra` to the shared counter itself, through the workerData
    // of the first worker: Atomics.add, so no increment of the workers is lost to it. It happens as that
    // worker is created, before any worker can have exited, so the counter holds it when the call reads it.
    const extra = 7;
    let addedTo: Int32Array | undefined;
    let total: number;
    try {
      total = await watchWorkerData(
        given,
        () => valueWithin(10_000, countInWorkers(3, 1000), 'countInWorkers(3, 1000) never resolved', countRejected(3, 1000, spans)),
        (workerData) => {
          const counter = counterIn(workerData);
          if (addedTo !== undefined || counter === undefined || !(counter.buffer instanceof SharedArrayBuffer) || counter.length === 0) return;
          Atomics.add(counter, 0, extra);
          addedTo = counter;
        },
      );
    } finally {
      spans.stop();
    }
    expect(
      addedTo,
      `countInWorkers(3, 1000) started ${given.length} workers whose workerData the test saw, and none of them held a counter in shared memory ` +
        `(the first one's workerData: ${shownReason(given[0])}), so the test could not add to the counter the workers share. ` +
        'Hand every worker { counter, times }, the counter from createCounter().',
    ).toBeDefined();
    const inCell = Atomics.load(addedTo!, 0);
    expect(
      total,
      `countInWorkers(3, 1000) resolved with ${n(total)}, but the counter it handed its workers holds ${n(inCell)}: while the workers ran, this test ` +
        `added ${extra} to that counter itself, so it should have resolved with ${n(3000 + extra)} (3 workers of 1,000, and the ${extra}). ` +
        (total === 3000 && inCell !== total ? 'It resolved with exactly threads * times: the total was worked out, not read from the counter. ' : '') +
        "Resolve with the value in the counter's cell, read once every worker has exited.",
    ).toBe(3000 + extra);
  });

  test('gives each of two calls made at once its own total', async () => {
    const timeline = new Timeline();
    const spans = recordWorkerSpans(timeline, (threadId) => `worker ${threadId}`);
    const given: unknown[] = [];
    let totals: number[];
    try {
      totals = await watchWorkerData(given, () =>
        Promise.all([
          valueWithin(10_000, countInWorkers(2, 1000), 'countInWorkers(2, 1000) never resolved beside countInWorkers(3, 1000)', countRejected(2, 1000, spans)),
          valueWithin(10_000, countInWorkers(3, 1000), 'countInWorkers(3, 1000) never resolved beside countInWorkers(2, 1000)', countRejected(3, 1000, spans)),
        ]),
      );
    } finally {
      spans.stop();
    }
    const buffers = buffersOf(given);
    expect(
      totals,
      `Two calls made at once, countInWorkers(2, 1000) and countInWorkers(3, 1000), resolved with ${n(totals[0]!)} and ${n(totals[1]!)} ` +
        '(expected 2,000 and 3,000). ' +
        (buffers === 1 && given.length === 5
          ? 'All 5 of their workers were handed the same buffer: the two calls shared one counter, so what a call reads from it ' +
            "takes in the other call's increments too. Each call creates a counter of its own."
          : `Their ${given.length} workers were handed ${buffers} different buffers. Each call counts on a counter of its own, ` +
            'and resolves with what that counter holds once its own workers have exited.') +
        `\n${timeline.toText()}\n`,
    ).toEqual([2000, 3000]);
  });

  test('starts every worker before waiting for any of them', async () => {
    const timeline = new Timeline();
    const spans = recordWorkerSpans(timeline, (threadId) => `worker ${threadId}`);
    let total: number;
    try {
      total = await valueWithin(10_000, countInWorkers(3, 1000), 'countInWorkers(3, 1000) never resolved', countRejected(3, 1000, spans));
    } finally {
      spans.stop();
    }
    // A span runs from `new Worker(...)` to that worker's exit, both seen on this thread.
    expect(
      timeline.maxInFlight,
      `countInWorkers(3, 1000) started ${spans.seen.length} workers, but at most ${timeline.maxInFlight} of them were alive at once ` +
        `(from new Worker() to its exit): ${timeline.maxInFlight === 1 ? 'each was started only after the one before had exited' : 'some were started only after others had exited'}. ` +
        "Start all `threads` workers first, then wait for all of their 'exit' events together.\n" +
        `${timeline.toText()}\n`,
    ).toBe(3);
    expect(total, `3 workers each added 1,000: expected 3,000, got ${n(total)}`).toBe(3000);
  });

  test('starts exactly `threads` workers: none for 0, one for 1, and more than there are cores', async () => {
    for (const threads of [0, 1, availableParallelism() + 1]) {
      const timeline = new Timeline();
      const spans = recordWorkerSpans(timeline, (threadId) => `worker ${threadId}`);
      let total: number;
      try {
        const none = threads === 0 ? ': with no workers there is nothing to wait for, so resolve with the counter as it is, 0' : '';
        total = await valueWithin(
          8_000,
          countInWorkers(threads, 1000),
          `countInWorkers(${threads}, 1000) never resolved${none}`,
          countRejected(threads, 1000, spans),
        );
      } finally {
        spans.stop();
      }
      expect(
        spans.seen.length,
        `countInWorkers(${threads}, 1000) started ${spans.seen.length} worker threads; expected ${threads}, one per thread asked for ` +
          `(this machine has ${availableParallelism()} cores: the caller chose the number of threads, not the machine).\n${timeline.toText()}\n`,
      ).toBe(threads);
      expect(total, `${threads} workers each added 1 to one shared counter 1,000 times: expected ${n(threads * 1000)}, got ${n(total)}.`).toBe(threads * 1000);
    }
  });
});
