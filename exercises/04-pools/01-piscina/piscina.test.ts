import os from 'node:os';
import { threadId as mainThreadId, Worker } from 'node:worker_threads';
import { afterEach, describe, expect, test } from 'vitest';
import {
  letSpawnedOutliveTests,
  liveWorkers,
  measured,
  shownReason,
  sleep,
  spawnLog,
  stopWorkers,
  Timeline,
  valueWithin,
  within,
} from '#kata/testing/index.ts';
import { settle } from '#kata/testing/settlement.ts';
import { startTaskProbe, type TaskProbe } from '#kata/testing/task-probe.ts';
import { createPool, type Job, type PoolOptions, type Report, type SquaresPool } from './piscina.ts';
import { sumOfSquares } from './task.worker.ts';

// Every pool and probe a test opens is closed after it, even when the test failed half-way.
const pools: SquaresPool[] = [];
const probes: TaskProbe[] = [];

function open(options: PoolOptions): SquaresPool {
  const pool = createPool(options);
  pools.push(pool);
  return pool;
}

async function probe(): Promise<TaskProbe> {
  // Tasks that `meet` give up after 3 s: long enough for a slow thread start, short enough to fail fast.
  const started = await startTaskProbe(new Timeline(), { meetTimeoutMs: 3_000 });
  probes.push(started);
  return started;
}

// What a pool leaves running is judged by the tests that promise it (close() stops every thread of the pool), with their own
// messages; the clean-up below then stops every thread, and a pool may start a thread again as
// one it owned is stopped under it: not the learner's leak, so the setup file does not judge it.
letSpawnedOutliveTests('the clean-up after each test stops the pools; the tests of close and shutdown judge what they leave');

afterEach(async () => {
  // Opening the gates first lets held tasks finish, so a pool's close() has nothing to wait for.
  await Promise.all(probes.splice(0).map((p) => p.close()));
  await Promise.allSettled(pools.splice(0).map((pool) => within(5_000, pool.close(), 'close() never resolved')));
  // A pool that kept its threads must not steal the CPU from the next test (the close() test
  // checks that properly): stop whatever is left.
  await stopWorkers(liveWorkers(), 5_000);
});

const describeError = (reason: unknown) => (reason instanceof Error ? `${reason.name}: ${reason.message}` : String(reason));

/**
 * What `work`, the run() call(s) `called` names as the test made them, resolves with. Those tasks
 * cannot fail (the task throws nothing, and no signal or queue bound is given), so a rejection fails
 * the test in its own words, unless it is the stub's or a deadline's.
 */
function reportsWithin<T>(ms: number, work: Promise<T>, hung: string, called: string): Promise<T> {
  return valueWithin(
    ms,
    work,
    hung,
    (reason) =>
      `${called} rejected with ${shownReason(reason)}, but the task in task.worker.ts throws nothing for such a job, and no AbortSignal ` +
      "or queue bound was given to stop or refuse it: run() should resolve with the task's Report.",
  );
}

/** Worker threads started since the spawn log held `count` of them. */
const workersSince = (count: number): Worker[] => spawnLog().workers.slice(count);
const isAlive = (worker: Worker) => !spawnLog().exitedWorkers.has(worker);

describe('createPool', () => {
  test('runs a task on a pool thread and resolves with its report', async () => {
    const pool = open({ threads: 2 });
    const { cue } = await probe();
    const report = await reportsWithin(
      10_000,
      pool.run({ n: 1_000, cue: cue('task') }),
      'run() never resolved',
      'run({ n: 1000 }) on createPool({ threads: 2 })',
    );
    expect(report.sum, 'run() resolved, but not with the report of the task in task.worker.ts').toBe(sumOfSquares(1_000));
    expect(
      report.threadId,
      'The task ran on the main thread. A pool runs it on one of its worker threads: give piscina the file URL of task.worker.ts.',
    ).not.toBe(mainThreadId);
  });

  test('runs as many tasks at once as it has threads, each on a thread of its own', async () => {
    const pool = open({ threads: 2 });
    const { cue, unmet, timeline } = await probe();
    // The two tasks wait for each other before they work: they can only both finish if they run at the same time.
    const reports = await reportsWithin(
      10_000,
      Promise.all([pool.run({ n: 1_000, cue: cue('task 0', { meet: 2 }) }), pool.run({ n: 1_000, cue: cue('task 1', { meet: 2 }) })]),
      'Two tasks that wait for each other never both finished: the pool of 2 threads ran them one at a time, or not at all',
      'One of 2 calls run({ n: 1000 }) on createPool({ threads: 2 })',
    );
    expect(
      unmet,
      `Two tasks given to a pool of 2 threads never ran at the same time: it ran them one at a time (they waited for each other in vain).\n${timeline.toText()}\n`,
    ).toEqual([]);
    const threads = new Set(reports.map((report) => report.threadId));
    expect(
      threads.size,
      `Two tasks ran at the same time but both on thread ${[...threads].join(', ')}: they took turns on one thread's event loop. ` +
        `concurrentTasksPerWorker lets tasks share a thread; it adds no thread. Size the pool with maxThreads.\n${timeline.toText()}\n`,
    ).toBe(2);
  });

  test('reuses its threads for many tasks: it starts `threads` of them, once', async () => {
    const first = spawnLog().workers.length;
    const pool = open({ threads: 2 });
    const { cue, timeline } = await probe();
    const job = (label: string): Job => ({ n: 100_000, cue: cue(label) });

    // A burst of 12 tasks at once, then 8 more one at a time with pauses between them, as a server's
    // requests come: a pool outlives its bursts.
    await reportsWithin(
      15_000,
      Promise.all(Array.from({ length: 12 }, (_, i) => pool.run(job(`burst ${i}`)))),
      'run() never resolved',
      'One of 12 calls run({ n: 100000 }) made at once on createPool({ threads: 2 })',
    );
    const afterBurst = spawnLog().workers.length;
    const reports: Report[] = [];
    for (let i = 0; i < 8; i++) {
      await sleep(20);
      reports.push(
        await reportsWithin(
          10_000,
          pool.run(job(`one by one ${i}`)),
          'run() never resolved',
          `run({ n: 100000 }) on createPool({ threads: 2 }), task ${i + 1} of 8 run one by one after a burst of 12,`,
        ),
      );
    }
    const inBurst = afterBurst - first;
    const total = workersSince(first).length;
    const picture = `\n${timeline.toText()}\n`;

    expect(
      total,
      `${total} worker threads were started for 20 tasks: a new pool per task. Starting a thread costs tens of ms and ` +
        `megabytes; a pool starts its threads once. Create the Piscina in createPool(), not in run().${picture}`,
    ).toBeLessThan(20);
    expect(
      inBurst,
      inBurst > 2
        ? `${inBurst} threads were started for a pool of 2 threads: more threads than asked for. ` +
            `Piscina's own default is about 1.5 per CPU core; set maxThreads.${picture}`
        : `${inBurst} thread(s) were started for a burst of 12 tasks in a pool of 2 threads: fewer than asked for, so the tasks ` +
            `could not run 2 at a time. Set maxThreads to threads.${picture}`,
    ).toBe(2);
    expect(
      total - inBurst,
      `The pool started ${total - inBurst} new thread(s) for 8 tasks run one after another: its threads were stopped when idle ` +
        `and started again for the next task. Keep them: minThreads (or a longer idleTimeout).${picture}`,
    ).toBe(0);
    expect(new Set(reports.map((report) => report.threadId)).size, 'More than 2 threads ran the tasks of a pool of 2').toBeLessThanOrEqual(2);
  });

  test('a warm pool of 2 threads does a fixed amount of CPU work about twice as fast as a pool of 1', { tags: ['speed-up'], timeout: 60_000 }, async ({
    skip,
    annotate,
  }) => {
    const one = open({ threads: 1 });
    const two = open({ threads: 2 });
    skip(os.availableParallelism() < 2, 'needs at least 2 CPU cores: with one core, two threads can only take turns');
    const { cue, timeline } = await probe();
    const n = 1.2e8; // ~85 ms per task on a laptop core; 8 tasks: ~0.7 s of work
    // CPU time / wall time of a batch: at most 1 for one thread, up to 2 for two. One CPU hog beside
    // the pool leaves its 2 threads ~1.33 cores, too few to show the bar below reliably: skip then.
    // With 1.6 cores at work, a right answer shows ~1.5x, far above the bar.
    const enoughCores = 1.6;
    const speedUpNeeded = 1.15;

    // Warm up: every thread of each pool has started and run the task once (the barrier proves both of `two`'s did).
    await reportsWithin(
      20_000,
      one.run({ n: 1e6, cue: cue('warm 1/1') }),
      'run() never resolved',
      'run({ n: 1000000 }) on createPool({ threads: 1 }), warming it up,',
    );
    await reportsWithin(
      20_000,
      Promise.all([1, 2].map((i) => two.run({ n: 1e6, cue: cue(`warm 2/${i}`, { meet: 2 }) }))),
      'run() never resolved',
      'One of 2 calls run({ n: 1000000 }) on createPool({ threads: 2 }), warming it up,',
    );

    /** Runs 8 tasks at once; returns the wall time and how many cores were busy on average (CPU time / wall time). */
    const batch = async (pool: SquaresPool, name: string) => {
      const cpuBefore = process.cpuUsage();
      const started = performance.now();
      await reportsWithin(
        20_000,
        Promise.all(Array.from({ length: 8 }, (_, i) => pool.run({ n, cue: cue(`${name} #${i}`) }))),
        'run() never resolved',
        `One of 8 calls run({ n: ${n} }) made at once, in the batch "${name}",`,
      );
      const wall = performance.now() - started;
      const { user, system } = process.cpuUsage(cpuBefore);
      return { wall, cores: (user + system) / 1_000 / wall };
    };
    // Alternate the two pools and keep each one's best batch: a noisy neighbour slows a batch, never speeds it up.
    // One round when it already shows two cores at work and the speed-up; otherwise two, and more while the
    // machine has not let the 2-thread pool use two cores, fewer if it is very slow. (Two cores at work cannot
    // be luck: one thread never keeps more than one core busy, so a pool of one thread never stops early.)
    const alone: Array<{ wall: number; cores: number }> = [];
    const paired: Array<{ wall: number; cores: number }> = [];
    const best = (runs: Array<{ wall: number }>) => Math.min(...runs.map((run) => run.wall));
    const budgetEnds = performance.now() + 10_000;
    for (let round = 1; round <= 5; round++) {
      alone.push(await batch(one, `1 thread r${round}`));
      paired.push(await batch(two, `2 threads r${round}`));
      const twoCoresSeen = paired.some((run) => run.cores >= enoughCores);
      if (twoCoresSeen && (round >= 2 || best(alone) / best(paired) > speedUpNeeded)) break;
      if (performance.now() > budgetEnds) break;
    }
    const speedUp = best(alone) / best(paired);
    const cores = Math.max(...paired.map((run) => run.cores));
    const show = (runs: Array<{ wall: number; cores: number }>) =>
      runs.map((run) => `${Math.round(run.wall)} ms (${run.cores.toFixed(2)} cores busy)`).join(', ');
    const figures = `1 thread: ${show(alone)}; 2 threads: ${show(paired)}`;
    await annotate(`speed-up of 2 threads over 1: ${speedUp.toFixed(2)}x (${figures})`);

    // The mechanism first: while the 2-thread pool worked, did two of its threads compute at the same time?
    const spans = timeline.spans.filter((span) => span.label.startsWith('2 threads'));
    const together = spans.some((a) => spans.some((b) => a.threadId !== b.threadId && a.start < b.end! && b.start < a.end!));
    expect(together, `The pool of 2 threads never had two tasks running on two threads at the same time.\n${timeline.toText()}\n`).toBe(true);
    // Then the hardware: two threads computing at once get two cores only if nothing else wants them.
    skip(
      cores < enoughCores,
      `the machine was too busy to measure a speed-up: the pool's 2 threads computed at the same time, but got only ` +
        `${cores.toFixed(2)} cores between them (${figures}). Run it again on a quieter machine.`,
    );
    // Two cores busy are not two cores' worth of work when they slow each other down (two hyperthreads
    // of one core, or a host running other machines): the same 8 tasks then cost more CPU time on two
    // threads than on one. Seen in CI: 829 ms of CPU on one thread, 1,326 ms on two, and a 1.10x "speed-up".
    const cpuOf = (runs: Array<{ wall: number; cores: number }>) => Math.min(...runs.map((run) => run.wall * run.cores));
    skip(
      cpuOf(paired) > 1.3 * cpuOf(alone),
      `the machine's cores slowed each other down: the same 8 tasks took ${Math.round(cpuOf(alone))} ms of CPU time on one thread ` +
        `and ${Math.round(cpuOf(paired))} ms on two (${figures}), so no speed-up can be measured here. Run it again on a quieter machine.`,
    );
    expect(
      measured('piscina: warm pool of 2 over a pool of 1 (x)', speedUp, speedUpNeeded, 'min'),
      `8 tasks of fixed CPU work took ${figures}: a speed-up of only ${speedUp.toFixed(2)}x for 2 threads over 1. ` +
        `Two threads should share the work between two cores.\n${timeline.toText()}\n`,
    ).toBeGreaterThan(speedUpNeeded);
  });

  test('cancels a running task when its AbortSignal fires, and stays usable', async () => {
    const pool = open({ threads: 1 });
    const { cue, waiting, stopped, timeline } = await probe();
    const controller = new AbortController();
    const task = settle(pool.run({ n: 1_000, cue: cue('cancelled', { hold: 'gate' }) }, { signal: controller.signal }));
    await within(10_000, waiting('gate', 1), 'The task never started on the pool thread');

    controller.abort();
    const outcome = await within(
      2_000,
      task,
      'run() neither resolved nor rejected within 2 s after its AbortSignal fired: the signal was ignored. ' +
        'Pass it on to piscina with the task, so that piscina can stop the task',
    );
    stopped('cancelled');
    expect(outcome.status, 'run() resolved although its AbortSignal fired first: the signal was ignored').toBe('rejected');
    const reason = (outcome as { reason: unknown }).reason;
    expect((reason as Error).name, `run() should reject with an AbortError, but rejected with ${describeError(reason)}`).toBe('AbortError');

    const report = await reportsWithin(
      10_000,
      pool.run({ n: 1_000, cue: cue('next') }),
      'After a task was cancelled, the pool never ran the next one',
      'run({ n: 1000 }) on createPool({ threads: 1 }), the task after the cancelled one,',
    );
    expect(report.sum, `The pool ran the next task, but it reported the wrong sum\n${timeline.toText()}\n`).toBe(sumOfSquares(1_000));
  });

  test('rejects with an AbortError whatever the signal aborted with: abort(reason), AbortSignal.timeout()', async () => {
    const pool = open({ threads: 1 });
    const { cue, waiting, stopped } = await probe();
    const controller = new AbortController();
    const hungUp = settle(pool.run({ n: 1_000, cue: cue('hung up', { hold: 'gate' }) }, { signal: controller.signal }));
    await within(10_000, waiting('gate', 1), 'The task never started on the pool thread');
    controller.abort('the client hung up');
    const aborted = await within(
      2_000,
      hungUp,
      'run() neither resolved nor rejected within 2 s after its AbortSignal fired with a reason (abort("the client hung up"))',
    );
    stopped('hung up');
    // Held at a gate nobody opens, this task cannot finish before its signal times out, queued or running.
    const timedOut = await within(
      10_000,
      settle(pool.run({ n: 1_000, cue: cue('timed out', { hold: 'never opened' }) }, { signal: AbortSignal.timeout(100) })),
      'run() with the signal AbortSignal.timeout(100), its task held at a gate nobody opens, neither resolved nor rejected within 10 s',
    );
    stopped('timed out');
    const nameOf = (outcome: typeof aborted) => {
      if (outcome.status === 'fulfilled') return 'resolved';
      const { reason } = outcome;
      return typeof reason === 'object' && reason !== null && 'name' in reason ? String(reason.name) : `rejected with ${describeError(reason)}`;
    };
    // The reason each signal carries: a string the caller chose, and the DOMException AbortSignal.timeout() aborts with.
    const ownReason =
      (aborted.status === 'rejected' && aborted.reason === 'the client hung up') ||
      (timedOut.status === 'rejected' && timedOut.reason instanceof DOMException && timedOut.reason.name === 'TimeoutError');
    expect(
      { 'abort("the client hung up")': nameOf(aborted), 'AbortSignal.timeout(100)': nameOf(timedOut) },
      `run() gave these for a task whose signal aborted with a reason: abort("the client hung up") on a running task: ${nameOf(aborted)}; ` +
        `AbortSignal.timeout(100): ${nameOf(timedOut)}. ` +
        (ownReason
          ? 'It rejected with the reason the signal carries (signal.reason), which is whatever the caller aborted with: an AbortError only for abort() with no reason. '
          : '') +
        'Whatever the reason, a cancelled task rejects with an AbortError, so that its caller can tell a cancellation from a failure.',
    ).toEqual({ 'abort("the client hung up")': 'AbortError', 'AbortSignal.timeout(100)': 'AbortError' });
  });

  test('cancels a task still waiting in the queue: it never runs', async () => {
    const pool = open({ threads: 1 });
    const { cue, waiting, open: openGate, timeline } = await probe();
    const first = settle(pool.run({ n: 1_000, cue: cue('first', { hold: 'gate' }) }));
    await within(10_000, waiting('gate', 1), 'The first task never started on the pool thread');
    const controller = new AbortController();
    const queued = settle(pool.run({ n: 1_000, cue: cue('queued') }, { signal: controller.signal }));

    controller.abort();
    const outcome = await within(
      2_000,
      queued,
      'run() of a waiting task neither resolved nor rejected within 2 s after its AbortSignal fired: the signal was ignored',
    );
    expect(outcome.status, 'A waiting task whose AbortSignal fired ran anyway: the signal was ignored').toBe('rejected');
    expect(
      timeline.spans.map((span) => span.label),
      'A task cancelled while it waited in the queue started anyway',
    ).not.toContain('queued');
    openGate('gate');
    const firstOutcome = await within(10_000, first, 'The running task never finished after a queued one was cancelled');
    expect(firstOutcome.status, 'Cancelling a waiting task made the running one fail').toBe('fulfilled');
    // The one thread is free now: a task still in the queue would run before this one.
    await reportsWithin(
      10_000,
      pool.run({ n: 1_000, cue: cue('after') }),
      'After a queued task was cancelled, the pool never ran the next one',
      'run({ n: 1000 }) on createPool({ threads: 1 }), the task after the cancelled queued one,',
    );
    expect(
      timeline.spans.map((span) => span.label),
      'The cancelled task ran later anyway, once the thread was free: its promise rejected, but the task stayed in ' +
        `the pool's queue. Rejecting the caller's promise does not take the task out; pass the signal to piscina.\n${timeline.toText()}\n`,
    ).not.toContain('queued');
  });

  test('rejects a task whose AbortSignal aborted before run() was called: it never starts', async () => {
    const pool = open({ threads: 1 });
    const { cue, timeline } = await probe();
    const controller = new AbortController();
    controller.abort();
    const outcome = await within(
      10_000,
      settle(pool.run({ n: 1_000, cue: cue('aborted before the call') }, { signal: controller.signal })),
      'run() with an AbortSignal that had aborted before the call neither resolved nor rejected within 10 s',
    );
    expect(
      outcome.status,
      'run() was given an AbortSignal that had aborted before the call, and resolved: the task ran anyway. An abort that came ' +
        "before the call counts too. An 'abort' listener added to a signal that has aborted already never runs: look at " +
        `signal.aborted first, or hand piscina the signal itself (its run() checks it).\n${timeline.toText()}\n`,
    ).toBe('rejected');
    const reason = (outcome as { reason: unknown }).reason;
    expect(
      (reason as Error).name,
      `run() with an AbortSignal aborted before the call should reject with an AbortError, but rejected with ${describeError(reason)}`,
    ).toBe('AbortError');
    // The one thread runs its queue in order: a task still queued would start before this one.
    await reportsWithin(
      10_000,
      pool.run({ n: 1_000, cue: cue('after') }),
      'After a task whose signal had aborted before the call, the pool never ran the next one',
      'run({ n: 1000 }) on createPool({ threads: 1 }), the task after the one aborted before the call,',
    );
    expect(
      timeline.spans.map((span) => span.label),
      'run() rejected for an AbortSignal aborted before the call, but the task started on the pool thread anyway: the promise ' +
        `was rejected while the task was still handed to the pool. Give it to piscina with the signal, or not at all.\n${timeline.toText()}\n`,
    ).not.toContain('aborted before the call');
  });

  test('with maxQueue: 0, refuses a task as soon as every thread is busy', async () => {
    const pool = open({ threads: 2, maxQueue: 0 });
    const { cue, waiting, open: openGate, timeline } = await probe();
    const job = (label: string): Job => ({ n: 1_000, cue: cue(label, { hold: 'gate' }) });
    const running = [0, 1].map((i) => settle(pool.run(job(`running ${i}`))));
    await within(10_000, waiting('gate', 2), "The first 2 tasks never both started on the pool's 2 threads");
    const extra = settle(pool.run(job('no room to wait')));
    openGate('gate');
    const accepted = await within(10_000, Promise.all(running), 'The 2 running tasks never finished');
    const refused = await within(10_000, extra, 'The task with no room to wait neither ran nor was refused');
    expect(
      refused.status,
      'With maxQueue: 0 no task may wait, yet a 3rd task was accepted while both threads were busy: the pool let it ' +
        'wait. Was 0 taken for "left out"? (`maxQueue || ...` treats 0 as missing; `??` does not.)\n' +
        `${timeline.toText()}\n`,
    ).toBe('rejected');
    const reason = (refused as { reason: unknown }).reason;
    expect(
      reason instanceof Error && /queue/i.test(reason.message),
      `The refused task should reject with an error about the queue, not ${describeError(reason)}`,
    ).toBe(true);
    expect(
      accepted.map((outcome) => outcome.status),
      'The 2 running tasks should finish',
    ).toEqual(['fulfilled', 'fulfilled']);
  });

  // Two pools, each with two rounds of 15 s at most (right answers take well under a second each).
  test('runs exactly `threads` tasks at once, even more threads than the machine has cores', { timeout: 60_000 }, async () => {
    const cores = os.availableParallelism();
    // One more thread than cores: "a thread per core" is advice for the caller, not the pool's to decide. Then a fixed 6,
    // whatever the cores: above 4, the size of libuv's own pool, a limit some pools are given.
    for (const threads of [cores + 1, 6]) {
      const pool = open({ threads });
      const { cue, unmet, timeline } = await probe();
      const reports = await reportsWithin(
        15_000,
        Promise.all(Array.from({ length: threads }, (_, i) => pool.run({ n: 1_000, cue: cue(`task ${i}`, { meet: threads }) }))),
        `${threads} tasks that wait for each other never all finished on a pool of ${threads} threads: it ran fewer at a time`,
        `One of ${threads} calls run({ n: 1000 }) on createPool({ threads: ${threads} })`,
      );
      const atOnce = timeline.maxInFlight;
      expect(
        unmet,
        `${threads} tasks on a pool of ${threads} threads (on ${cores} cores) never all ran at the same time: the pool ran fewer at a time ` +
          `than asked for, at most ${atOnce} at once. ` +
          (atOnce === cores
            ? 'As many as the cores: its threads capped at the number of cores (or capped at a limit of its own that equals it), or tasks sharing a thread. '
            : `Not the number of cores (${cores}): its threads capped at a limit of its own, or tasks sharing a thread. `) +
          `The caller chose the size, however many cores there are; use it as given.\n${timeline.toText()}\n`,
      ).toEqual([]);
      expect(new Set(reports.map((report) => report.threadId)).size, `The ${threads} tasks should run on ${threads} different threads`).toBe(threads);
      // A second round with twice as many tasks: never more than `threads` at once.
      await reportsWithin(
        15_000,
        Promise.all(Array.from({ length: 2 * threads }, (_, i) => pool.run({ n: 1_000, cue: cue(`more ${i}`) }))),
        'run() never resolved',
        `One of ${2 * threads} calls run({ n: 1000 }) on createPool({ threads: ${threads} }), in a second round,`,
      );
      expect(timeline.maxInFlight, `A pool of ${threads} threads ran ${timeline.maxInFlight} tasks at once\n${timeline.toText()}\n`).toBeLessThanOrEqual(
        threads,
      );
    }
  });

  test('refuses a task with an error when its queue is full, and runs every task it accepted', async () => {
    const pool = open({ threads: 2, maxQueue: 3 });
    const { cue, waiting, open: openGate, timeline } = await probe();
    const job = (label: string): Job => ({ n: 1_000, cue: cue(label, { hold: 'gate' }) });

    const running = [0, 1].map((i) => settle(pool.run(job(`running ${i}`))));
    await within(10_000, waiting('gate', 2), "The first 2 tasks never both started on the pool's 2 threads");
    const queued = [0, 1, 2].map((i) => settle(pool.run(job(`queued ${i}`))));
    const extra = settle(pool.run(job('one too many')));
    openGate('gate');
    const accepted = await within(10_000, Promise.all([...running, ...queued]), 'The accepted tasks never finished');
    const refused = await within(10_000, extra, 'The task beyond the queue bound neither ran nor was refused');
    const picture = `\n${timeline.toText()}\n`;

    expect(
      refused.status,
      'The pool accepted a 6th task while 2 were running and 3 were waiting with maxQueue: 3: its queue is unbounded (or bigger than asked). ' +
        `A bounded queue makes callers slow down instead of piling up work in memory: give piscina maxQueue.${picture}`,
    ).toBe('rejected');
    const reason = (refused as { reason: unknown }).reason;
    expect(
      reason instanceof Error && /queue/i.test(reason.message),
      `A refused task should reject with an error that says the queue is full, not ${describeError(reason)}`,
    ).toBe(true);
    const failed = accepted.filter((outcome) => outcome.status === 'rejected');
    expect(
      failed.map((outcome) => describeError((outcome as { reason: unknown }).reason)),
      `Tasks within the bound (2 running + 3 waiting) must run, but ${failed.length} failed${picture}`,
    ).toEqual([]);
    expect(timeline.maxInFlight, `A pool of 2 threads ran ${timeline.maxInFlight} tasks at once${picture}`).toBeLessThanOrEqual(2);
  });

  test('without maxQueue, queues every task it is given: 2,000 at once on one thread all run', async () => {
    const pool = open({ threads: 1 });
    const outcomes = await within(10_000, Promise.allSettled(Array.from({ length: 2_000 }, () => pool.run({ n: 10 }))), 'The 2,000 tasks never all settled');
    const refused = outcomes.filter((outcome) => outcome.status === 'rejected');
    expect(
      refused.length,
      `${refused.length} of 2,000 tasks given at once to a pool of 1 thread with no maxQueue were refused (the first: ${describeError((refused[0] as PromiseRejectedResult | undefined)?.reason)}). ` +
        'Left out, maxQueue means no bound: every task waits its turn. A bound of your own (a default such as 1,024) refuses work the caller was promised.',
    ).toBe(0);
  });

  test('close() stops every thread of the pool', async () => {
    const first = spawnLog().workers.length;
    // Which threads were told to stop, and when: a pool may stop a thread it no longer needs
    // (piscina above minThreads, once idle) before close() is called, and not wait for its exit.
    const told = new Set<Worker>();
    const terminate = Worker.prototype.terminate;
    Worker.prototype.terminate = function (this: Worker) {
      told.add(this);
      return terminate.call(this);
    };
    try {
      const pool = open({ threads: 2 });
      const { cue } = await probe();
      await reportsWithin(
        10_000,
        Promise.all([0, 1, 2, 3].map((i) => pool.run({ n: 1_000, cue: cue(`task ${i}`) }))),
        'run() never resolved',
        'One of 4 calls run({ n: 1000 }) on createPool({ threads: 2 })',
      );
      const stoppingBefore = new Set(told);
      await valueWithin(
        10_000,
        pool.close(),
        'close() never resolved',
        (reason) =>
          `close() on createPool({ threads: 2 }), once its 4 tasks had resolved, rejected with ${shownReason(reason)}, but nothing was left ` +
          "running or waiting: close() should resolve once the pool's threads have stopped.",
      );
      // A thread stopped before close() has been told already: it gets a few seconds to exit (a
      // busy machine made one take that long once). Every other one must be gone when close() resolves.
      const alive = workersSince(first).filter(isAlive);
      const notStopped = alive.filter((worker) => !stoppingBefore.has(worker));
      expect(
        notStopped.length,
        `${notStopped.length} of the pool's threads were still alive after close() resolved: they keep the process from exiting ` +
          'and hold their memory. Stop the pool (piscina has close() and destroy()) and wait until it has stopped.',
      ).toBe(0);
      const exiting = alive.filter((worker) => stoppingBefore.has(worker));
      await within(
        5_000,
        Promise.all(exiting.map((worker) => new Promise((resolve) => (isAlive(worker) ? worker.once('exit', resolve) : resolve(undefined))))),
        'A thread the pool stopped before close() never exited',
      );
    } finally {
      Worker.prototype.terminate = terminate;
    }
  });
});
