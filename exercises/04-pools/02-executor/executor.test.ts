import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import os from 'node:os';
import { threadId as mainThreadId, type Worker } from 'node:worker_threads';
import { afterEach, describe, expect, test } from 'vitest';
import {
  isChildAlive,
  isNotImplemented,
  letSpawnedOutliveTests,
  liveChildren,
  liveWorkers,
  shownReason,
  sleep,
  spawnLog,
  stopWorkers,
  Timeline,
  valueWithin,
  within,
} from '#kata/testing/index.ts';
import { failureWithin } from '#kata/testing/deadline.ts';
import { settle } from '#kata/testing/settlement.ts';
import { startTaskProbe, type TaskProbe } from '#kata/testing/task-probe.ts';
import { type Executor, type ExecutorOptions, ProcessPoolExecutor, ThreadPoolExecutor } from './executor.ts';
import type { Whereabouts } from './tasks.ts';

/** What the shared suite needs to know about each implementation: swapping them is swapping this row. */
interface Kind {
  name: string;
  create(options?: ExecutorOptions): Executor;
  /** "thread" or "process", and its plural, for messages. */
  unit: string;
  units: string;
  /** Every worker thread or child process started so far in this test file. */
  started(): Array<Worker | ChildProcess>;
  isAlive(unit: Worker | ChildProcess): boolean;
  /** Which worker ran a task: its thread id, or its pid. */
  idOf(where: Whereabouts): number;
}

const kinds: Kind[] = [
  {
    name: 'ThreadPoolExecutor',
    create: (options) => new ThreadPoolExecutor(options),
    unit: 'thread',
    units: 'threads',
    started: () => spawnLog().workers,
    isAlive: (worker) => !spawnLog().exitedWorkers.has(worker as Worker),
    idOf: (where) => where.threadId,
  },
  {
    name: 'ProcessPoolExecutor',
    create: (options) => new ProcessPoolExecutor(options),
    unit: 'process',
    units: 'processes',
    started: () => spawnLog().children,
    isAlive: (child) => isChildAlive(child as ChildProcess),
    idOf: (where) => where.pid,
  },
];

// Every executor and probe a test opens is closed after it, even when the test failed half-way.
const executors: Executor[] = [];
const probes: TaskProbe[] = [];

async function probe(): Promise<TaskProbe> {
  // Tasks that `meet` give up after 3 s: long enough for a slow fork, short enough to fail fast.
  const started = await startTaskProbe(new Timeline(), { meetTimeoutMs: 3_000 });
  probes.push(started);
  return started;
}

// What a pool leaves running is judged by the tests that promise it (the shutdown tests), with their own
// messages; the clean-up below then stops every thread, and a pool may start a thread again as
// one it owned is stopped under it: not the learner's leak, so the setup file does not judge it.
letSpawnedOutliveTests('the clean-up after each test stops the pools; the tests of close and shutdown judge what they leave');

afterEach(async () => {
  // Releasing the probes' waiting tasks first lets shutdown() finish what it waits for.
  await Promise.all(probes.splice(0).map((p) => p.close()));
  // Only a clean-up: the shutdown tests judge shutdown(), so an executor that hangs here gets 2 s.
  await Promise.allSettled(executors.splice(0).map((executor) => within(2_000, executor.shutdown(), 'shutdown() never resolved')));
  // Whatever an executor left running must not disturb the next test (the shutdown tests check this properly).
  await stopWorkers(liveWorkers(), 5_000);
  await Promise.all(liveChildren().map((child) => (child.kill('SIGKILL'), once(child, 'exit'))));
});

const count = (n: number, kind: Kind) => `${n} ${n === 1 ? kind.unit : kind.units}`;
const describeError = (reason: unknown) => (reason instanceof Error ? `${reason.name}: ${reason.message}` : String(reason));

/** What the probe tasks these tests run owe their caller: none of them fails. */
const probesOwed =
  'the probe task throws nothing for these cues (one that waits in vain for others gives up after 3 s and goes on): ' +
  'map() should resolve with one result per item, in the order of the items';

describe.each(kinds)('$name', (kind) => {
  const open = (options?: ExecutorOptions): Executor => {
    const executor = kind.create(options);
    executors.push(executor);
    return executor;
  };

  /**
   * What `work`, the call `called` on an executor of this kind (as the test made it), resolves with.
   * Its tasks cannot fail, so a rejection fails the test with what it owed them (`owed`), unless it
   * is the stub's or a deadline's.
   */
  const resultWithin = <T>(ms: number, work: Promise<T>, hung: string, called: string, owed: string): Promise<T> =>
    valueWithin(ms, work, hung, (reason) => `${kind.name}: ${called} rejected with ${shownReason(reason)}, but ${owed}.`);

  /** `call` (`made` says what it is), made once shutdown() has resolved, rejects at once with an error that says the executor is shut down. */
  const expectRefusedAsShutDown = async (call: () => Promise<unknown>, made: string) => {
    const refusal = await failureWithin(5_000, call, {
      hung: `${made} never settled: refuse new tasks at once, with an error`,
      resolved: `${made} was accepted and ran: an executor that is shut down refuses new tasks with an error`,
    });
    expect(
      refusal instanceof Error && /shut/i.test(refusal.message),
      `${made} should reject with an error that says the executor is shut down, not ${describeError(refusal)}`,
    ).toBe(true);
  };

  test(`runs a task in another ${kind.unit} and resolves with its result`, async () => {
    const executor = open({ maxWorkers: 2 });
    const where = await resultWithin(
      15_000,
      executor.submit('whereAmI'),
      'submit() never settled',
      'submit("whereAmI") with maxWorkers: 2',
      'the task whereAmI throws nothing: it should resolve with where the task ran ({ threadId, pid })',
    );
    if (kind.unit === 'thread') {
      expect(where.pid, 'ThreadPoolExecutor ran the task in another process: a thread pool uses worker_threads, in this process').toBe(process.pid);
      expect(where.threadId, 'ThreadPoolExecutor ran the task on the main thread: run it on a worker thread').not.toBe(mainThreadId);
    } else {
      expect(where.pid, `ProcessPoolExecutor ran the task in this process (pid ${process.pid}): a process pool runs tasks in child processes (fork)`).not.toBe(
        process.pid,
      );
    }
    expect(
      await resultWithin(
        10_000,
        executor.submit('square', 7),
        'submit() never settled',
        'submit("square", 7)',
        'square(7) throws nothing: it should resolve with 49',
      ),
      'submit("square", 7) should resolve with 49',
    ).toBe(49);
  });

  test(`starts a ${kind.unit} only when there is work for it: none before the first task, one for one task`, async () => {
    const first = kind.started().length;
    const executor = open({ maxWorkers: 3 });
    const atStart = kind.started().length - first;
    const result = await resultWithin(
      15_000,
      executor.submit('square', 3),
      'submit() never settled',
      'submit("square", 3) with maxWorkers: 3',
      'square(3) throws nothing: it should resolve with 9',
    );
    const forOneTask = kind.started().length - first;
    expect(result, 'submit("square", 3) should resolve with 9').toBe(9);
    expect(
      { atStart, forOneTask },
      `With maxWorkers: 3, the executor had started ${count(atStart, kind)} before any task was submitted, and ` +
        `${count(forOneTask, kind)} once one task had run. Workers start when there is work for them: none for no ` +
        'work, one for one task (maxWorkers is the most, not how many to start).',
    ).toEqual({ atStart: 0, forOneTask: 1 });
  });

  test(`reuses an idle ${kind.unit} rather than starting another, also for a task that comes 1.5 s later`, async () => {
    const first = kind.started().length;
    const executor = open({ maxWorkers: 3 });
    // One task at a time, each submitted once the one before has resolved: the worker that ran it is free for
    // the next. The third comes 1.5 s after the second: a pool keeps its workers however long they sit idle.
    const ranOn: number[] = [];
    for (const [nth, ms] of [
      [1, 15_000],
      [2, 10_000],
      [3, 10_000],
    ] as const) {
      if (nth === 3) await sleep(1_500);
      const where = await resultWithin(
        ms,
        executor.submit('whereAmI'),
        'submit() never settled',
        `submit("whereAmI") number ${nth} of 3 with maxWorkers: 3, each submitted once the one before had resolved${nth === 3 ? ', this one 1.5 s after,' : ','}`,
        'the task whereAmI throws nothing: it should resolve with where the task ran ({ threadId, pid })',
      );
      ranOn.push(kind.idOf(where));
    }
    const started = kind.started().slice(first);
    const alive = started.filter(kind.isAlive).length;
    const places = new Set(ranOn).size;
    // Tasks 1 and 2 on one worker, task 3, after the pause, on a new one.
    const newAfterThePause = ranOn[0] === ranOn[1] && ranOn[2] !== ranOn[1];
    const firstGone = started.length > 0 && !kind.isAlive(started[0]!);
    // A worker still alive at the end was alive all along, done with its task, when the next one was started.
    const seen =
      started.length < 2
        ? ''
        : newAfterThePause
          ? ` Tasks 1 and 2 ran on one ${kind.unit}, and task 3, submitted 1.5 s after task 2 had resolved, on a new one` +
            (firstGone
              ? ': the first had exited, though shutdown() was never called. A worker of the pool was stopped while it sat idle, and an ' +
                'exited worker cannot take the next task.'
              : ', though the first was still there, idle all that time.')
          : alive === started.length
            ? ` All ${started.length} were still alive: a new one was started although the one before had finished its task and sat idle.`
            : ` ${started.length - alive} of them had exited already: a worker stopped after its task cannot be reused.`;
    expect(
      { started: started.length, ranOn: places },
      `With maxWorkers: 3, 3 tasks submitted one at a time (each once the one before had resolved, the third 1.5 s after) started ${count(started.length, kind)} ` +
        `and ran on ${count(places, kind)} (${kind.unit === 'thread' ? 'thread ids' : 'pids'} ${ranOn.join(', ')}).${seen} When a task arrives while a worker is idle, that worker ` +
        'takes it, however long it has waited: a pool starts a new worker only when every worker it has is busy, and keeps the ones it started for the next tasks until shutdown().',
    ).toEqual({ started: 1, ranOn: 1 });
  });

  test('carries the numbers JSON cannot: square(Infinity), square(NaN) and square(0.5) give Infinity, NaN and 0.25', async () => {
    const executor = open({ maxWorkers: 2 });
    const items = [Number.POSITIVE_INFINITY, Number.NaN, 0.5];
    const results = await resultWithin(
      15_000,
      executor.map('square', items),
      'map() never settled',
      'map("square", [Infinity, NaN, 0.5]) with maxWorkers: 2',
      'square throws nothing: it should resolve with [Infinity, NaN, 0.25]',
    );
    // JSON turns Infinity and NaN into null, and null * null is 0: what a JSON channel gives back.
    const throughJson = results.length === 3 && results[0] === 0 && results[1] === 0 && results[2] === 0.25;
    expect(
      results,
      `${kind.name}: map("square", [Infinity, NaN, 0.5]) resolved with [${results.map(String).join(', ')}]. ` +
        (throughJson ? 'That is what the squares of null give: Infinity and NaN crossed to the worker as null, as JSON carries them. ' : '') +
        'A task gets its arguments, and its caller its value, as they were: the same call gives the same value in both pools, ' +
        'which is what makes them interchangeable.',
    ).toEqual([Number.POSITIVE_INFINITY, Number.NaN, 0.25]);
  });

  test("map() runs the article's example: squares of 1 to 5 with 3 workers", async () => {
    const executor = open({ maxWorkers: 3 });
    const results = await resultWithin(
      15_000,
      executor.map('square', [1, 2, 3, 4, 5]),
      'map() never settled',
      'map("square", [1, 2, 3, 4, 5]) with maxWorkers: 3',
      'square throws nothing: it should resolve with [1, 4, 9, 16, 25]',
    );
    expect(results, 'map("square", [1, 2, 3, 4, 5]) should resolve with each square, in order').toEqual([1, 4, 9, 16, 25]);
  });

  test('map() keeps the order of the items, not the order in which their tasks finish', async () => {
    const executor = open({ maxWorkers: 2 });
    const { cue, timeline } = await probe();
    // Tasks meet in pairs, then the first of each pair naps longer: each pair finishes second-first.
    const items = [cue('a slow', { meet: 2, napMs: 300 }), cue('b fast', { meet: 2 }), cue('c slow', { meet: 2, napMs: 300 }), cue('d fast', { meet: 2 })];
    // Two pairs that meet at once and nap 300 ms take well under a second (3.5 s at worst, beside a
    // CPU hog, processes included); run one at a time, each task waits 3 s for its partner in vain.
    const results = await resultWithin(
      10_000,
      executor.map('probe', items),
      'map() never settled (its tasks wait for each other in pairs: run one at a time, they wait in vain)',
      'map("probe", [4 tasks that meet in pairs, the first of each pair napping 300 ms]) with maxWorkers: 2',
      probesOwed,
    );
    expect(
      results.map((result) => result.label),
      `map() must resolve with the results in the order of the items; the tasks finished in the order ${timeline.finishOrder().join(', ')}. ` +
        `Store each result at its item's index, or let Promise.all keep the order.\n${timeline.toText()}\n`,
    ).toEqual(['a slow', 'b fast', 'c slow', 'd fast']);
  });

  test(`runs maxWorkers tasks at once, on at most maxWorkers ${kind.units}, reused from task to task`, async () => {
    const first = kind.started().length;
    const executor = open({ maxWorkers: 2 });
    const { cue, timeline, unmet } = await probe();
    // Each task waits until another one is waiting too: they can only finish if two run at once.
    const items = Array.from({ length: 6 }, (_, i) => cue(`task ${i}`, { meet: 2, napMs: 20 }));
    // Three pairs that meet at once finish in well under a second (2.8 s at worst, beside a CPU hog,
    // processes included); run one at a time, every task waits 3 s for a partner in vain: 18 s.
    const results = await resultWithin(
      10_000,
      executor.map('probe', items),
      'map() of 6 tasks that wait for each other in pairs did not finish: they never met, so the executor ran them one at a time',
      'map("probe", [6 tasks that meet in pairs]) with maxWorkers: 2',
      probesOwed,
    );
    const picture = `\n${timeline.toText()}\n`;
    expect(unmet, `Tasks waited in vain for a second task to run at the same time: the executor ran them one at a time.${picture}`).toEqual([]);
    expect(
      timeline.maxInFlight,
      `${timeline.maxInFlight} tasks ran at once with maxWorkers: 2: more than maxWorkers. The rest should wait in a queue.${picture}`,
    ).toBeLessThanOrEqual(2);
    const ids = new Set(results.map(kind.idOf));
    const started = kind.started().length - first;
    expect(
      Math.max(ids.size, started),
      `${count(started, kind)} were started and ${ids.size} ran the 6 tasks with maxWorkers: 2. A pool starts at most maxWorkers ` +
        `workers and reuses them: a new worker per task pays the start-up every time, and more than maxWorkers at once ` +
        `fight over the CPU cores.${picture}`,
    ).toBeLessThanOrEqual(2);
  });

  test("a task's error reaches the caller as a rejection, and the executor keeps working", async () => {
    const executor = open({ maxWorkers: 2 });
    // One warm worker inverts a number in microseconds; a process starting beside a CPU hog took 1.5 s.
    const error = await failureWithin(6_000, () => executor.submit('inverse', 0), {
      hung: 'submit() never settled after its task threw: the error must reach the caller as a rejection, not only a log line',
      resolved: 'submit() resolved although its task threw "cannot invert 0": the error vanished. Send it back and reject with it.',
    });
    expect(
      error instanceof Error ? error.message : error,
      `submit() rejected, but not with the task's error (${describeError(error)}): send back its message`,
    ).toContain('cannot invert 0');
    const after = await resultWithin(
      10_000,
      executor.submit('inverse', 4),
      'After a task failed, the executor never ran the next one',
      'submit("inverse", 4), after submit("inverse", 0) had failed,',
      'inverse(4) throws nothing: after a failed task the executor keeps working, and this call should resolve with 0.25',
    );
    expect(after, 'After a task failed, the next task resolved with the wrong value').toBe(0.25);

    const mapped = await failureWithin(6_000, () => executor.map('inverse', [1, 0, 2]), {
      hung: 'map() never settled after one of its tasks threw: the error must reach the caller as a rejection',
      resolved: 'map() resolved although one of its tasks threw: the error vanished',
    });
    expect(mapped instanceof Error ? mapped.message : mapped, `map() should reject with the failing task's error, not ${describeError(mapped)}`).toContain(
      'cannot invert 0',
    );
  });

  test('map() of no items resolves with []', async () => {
    const executor = open({ maxWorkers: 2 });
    const results = await resultWithin(
      5_000,
      executor.map('square', []),
      'map() of no items never settled: with no task to finish, nothing will ever count the last one in (resolve at once, or let Promise.all do it)',
      'map("square", [])',
      'with no items there is no task to fail: it should resolve with []',
    );
    expect(results, 'map() of no items should resolve with an empty list').toEqual([]);
  });

  test(`map() starts a ${kind.unit} only for an item to run: none for no items, one for one item`, async () => {
    const first = kind.started().length;
    const executor = open({ maxWorkers: 3 });
    const none = await resultWithin(
      5_000,
      executor.map('square', []),
      'map() of no items never settled',
      'map("square", []) with maxWorkers: 3',
      'map() of no items has no task to run, nor to fail: it should resolve with [] at once',
    );
    const forNoItems = kind.started().length - first;
    const one = await resultWithin(
      12_000,
      executor.map('square', [3]),
      'map() of one item never settled',
      'map("square", [3]) with maxWorkers: 3, after map("square", []),',
      'square(3) throws nothing: it should resolve with [9]',
    );
    const forOneItem = kind.started().length - first;
    expect({ none, one }, 'map("square", []) should resolve with [], and map("square", [3]) with [9]').toEqual({ none: [], one: [9] });
    expect(
      { forNoItems, forOneItem },
      `With maxWorkers: 3, map() of no items had started ${count(forNoItems, kind)}, and ${count(forOneItem, kind)} were started ` +
        'once map() of one item had run too. map() needs a worker only for an item to run: an empty map() starts none, and one ' +
        'item needs one. Starting the pool up to maxWorkers before submitting readies workers that may never get work.',
    ).toEqual({ forNoItems: 0, forOneItem: 1 });
  });

  test('map() takes any iterable of items, not only an array: a Set, a generator', async () => {
    const executor = open({ maxWorkers: 2 });
    function* fourAndFive(): Generator<number> {
      yield 4;
      yield 5;
    }
    const notOnlyArrays = (made: string, what: string) =>
      `${kind.name}: ${made} ${what}, but map() takes any Iterable of items, as its signature says, not only an array. ` +
      'A Set or a generator has no array methods (no .map(), no .length, no [i]); code that treats the items as an array ' +
      'breaks on them, while for...of (or Array.from) walks any iterable.';
    /** Calls map() (`made` says how), turning an error it throws at once into this test's own words. */
    const mapOf = (made: string, call: () => Promise<number[]>): Promise<number[]> => {
      try {
        return call();
      } catch (error) {
        if (isNotImplemented(error)) throw error;
        throw new Error(notOnlyArrays(made, `threw ${shownReason(error)} at once`), { cause: error });
      }
    };
    const fromSet = await valueWithin(
      15_000,
      mapOf('map("square", new Set([1, 2, 3]))', () => executor.map('square', new Set([1, 2, 3]))),
      'map() of a Set never settled',
      (reason) => notOnlyArrays('map("square", new Set([1, 2, 3]))', `rejected with ${shownReason(reason)}`),
    );
    expect(fromSet, 'map("square", new Set([1, 2, 3])) should resolve with the square of each item the Set gives, in order').toEqual([1, 4, 9]);
    const fromGenerator = await valueWithin(
      10_000,
      mapOf('map("square", a generator of 4 and 5)', () => executor.map('square', fourAndFive())),
      'map() of a generator never settled',
      (reason) => notOnlyArrays('map("square", a generator of 4 and 5)', `rejected with ${shownReason(reason)}`),
    );
    expect(fromGenerator, 'map("square", a generator of 4 and 5) should resolve with [16, 25] (a generator gives its items only once)').toEqual([16, 25]);
  });

  test('a task that returns a promise which rejects later reaches the caller as that rejection', async () => {
    const executor = open({ maxWorkers: 1 });
    const { cue } = await probe();
    // This probe task reports to an address the probe does not serve: its promise rejects after an HTTP round trip.
    const lost = { ...cue('reports to nowhere'), url: `${cue('address').url}/nowhere` };
    const error = await failureWithin(6_000, () => executor.submit('probe', lost), {
      hung: 'submit() never settled for a task whose promise rejects: wait for the promise the task returns, then reply',
      resolved: 'submit() resolved although the promise its task returned rejected: await the task’s promise before replying',
    });
    expect(
      error instanceof Error ? error.message : error,
      `submit() rejected, but not with the rejection of the task's promise ("task probe: begin answered 404"): it ` +
        `rejected with ${describeError(error)}. A task may return a promise that rejects later: await it in the runner, ` +
        'and reply with that error, as with one it throws.',
    ).toContain('begin answered 404');
    expect(
      await resultWithin(
        10_000,
        executor.submit('square', 5),
        'After a task failed, the executor never ran the next one',
        'submit("square", 5), after a task whose promise rejected,',
        'square(5) throws nothing: after a failed task the executor keeps working, and this call should resolve with 25',
      ),
      'The next task should resolve with 25',
    ).toBe(25);
  });

  test('after a failed call, the next calls on the same worker get their own replies, none left over', async () => {
    const executor = open({ maxWorkers: 1 });
    // One worker: the failed call, then three more, one after another on it.
    const calls = [settle(executor.submit('inverse', 0)), settle(executor.submit('square', 3)), settle(executor.submit('square', 4))];
    const outcomes = await within(10_000, Promise.all(calls), 'The three calls never all settled');
    const seen = outcomes.map((o) => (o.status === 'fulfilled' ? `resolved with ${JSON.stringify(o.value)}` : `rejected with ${describeError(o.reason)}`));
    const last = await within(10_000, settle(executor.submit('square', 5)), 'A fourth call never settled');
    seen.push(last.status === 'fulfilled' ? `resolved with ${JSON.stringify(last.value)}` : `rejected with ${describeError(last.reason)}`);
    expect(
      seen.slice(1),
      `inverse(0), square(3), square(4) and square(5) ran one after another on one worker: ${seen.join('; ')}. ` +
        'A reply went to the wrong call. One cause: a call that got two replies (an error, then a value), which shifts ' +
        'every reply after it onto the next call; another: replies matched to the wrong call. The runner sends exactly ' +
        'one reply per call, the value or the error (return after sending it), and each reply settles the call its worker was running.',
    ).toEqual(['resolved with 9', 'resolved with 16', 'resolved with 25']);
  });

  test("a task's error arrives as an Error with its name, its message and the stack from where it threw", async () => {
    const executor = open({ maxWorkers: 2 });
    const error = await failureWithin(6_000, () => executor.submit('inverse', 0), {
      hung: 'submit() never settled after its task threw',
      resolved: 'submit() resolved although its task threw "cannot invert 0"',
    });
    expect(error, `submit() rejected with ${typeof error} ${describeError(error)}, not with an Error: rebuild an Error on this side.`).toBeInstanceOf(Error);
    const { name, message, stack } = error as Error;
    expect(
      { name, message },
      'inverse(0) throws a RangeError("cannot invert 0"): the rejection should carry its name and message. Send the ' +
        'name, the message and the stack across, and rebuild an Error from all three.',
    ).toEqual({ name: 'RangeError', message: 'cannot invert 0' });
    expect(
      String(stack),
      `The error's stack does not mention tasks.ts, where the task threw, so it points at the wrong place:\n${stack}\n` +
        'Send the stack from the worker and put it on the rebuilt Error.',
    ).toContain('tasks.ts');
  });

  // A wrong default of 1 worker meets no group: each of its tasks waits 3 s in vain, one after another.
  test(`without maxWorkers, runs as many tasks at once as the machine has CPU cores, and no more`, { timeout: 30_000 }, async () => {
    const cores = os.availableParallelism();
    const first = kind.started().length;
    const executor = open();
    const { cue, timeline, unmet } = await probe();
    // Tasks meet in groups of `cores`: they only finish if that many run at the same time.
    const items = Array.from({ length: 2 * cores }, (_, i) => cue(`task ${i}`, { meet: cores, napMs: 20 }));
    const results = await resultWithin(
      20_000,
      executor.map('probe', items),
      `map() of ${2 * cores} tasks that wait for each other in groups of ${cores} did not finish: with maxWorkers left out, fewer than ${cores} ran at once: ` +
        `the default should be the number of CPU cores (${cores}, os.availableParallelism())`,
      `map("probe", [${items.length} tasks that meet in groups of ${cores}]) with maxWorkers left out`,
      probesOwed,
    );
    const picture = `\n${timeline.toText()}\n`;
    expect(
      unmet,
      `With maxWorkers left out, tasks waited in vain for ${cores} of them to run at once: the default should be the ` +
        `number of CPU cores (${cores}, os.availableParallelism()).${picture}`,
    ).toEqual([]);
    // No more: counted exactly, in the workers started and those that ran a task (the overlap of
    // quick tasks alone would let a larger default pass whenever the workers started slowly).
    const ids = new Set(results.map(kind.idOf));
    const started = kind.started().length - first;
    expect(
      Math.max(ids.size, started, timeline.maxInFlight),
      `With maxWorkers left out, ${count(started, kind)} were started, ${ids.size} ran the ${items.length} tasks, and at most ` +
        `${timeline.maxInFlight} tasks ran at once, on ${cores} cores: the default is one worker per core (os.availableParallelism()).${picture}`,
    ).toBeLessThanOrEqual(cores);
  });

  test('gives the next task to whichever worker is free, not to one decided in advance', async () => {
    const executor = open({ maxWorkers: 2 });
    const { cue, timeline } = await probe();
    // Both workers started and warm: two tasks that meet ran at the same time.
    await resultWithin(
      15_000,
      executor.map('probe', [cue('warm 1', { meet: 2 }), cue('warm 2', { meet: 2 })]),
      'map() of 2 tasks that meet never settled',
      'map("probe", [2 tasks that meet]) with maxWorkers: 2, warming both workers up,',
      probesOwed,
    );
    // The first task keeps its worker busy for 4 s; the six behind it take a few ms each.
    const items = [cue('long', { napMs: 4_000 }), ...Array.from({ length: 6 }, (_, i) => cue(`short ${i}`))];
    const results = await resultWithin(
      15_000,
      executor.map('probe', items),
      'map() never settled',
      'map("probe", [a task that naps 4 s, then 6 short ones]) with maxWorkers: 2',
      probesOwed,
    );
    const long = kind.idOf(results[0]!);
    const waited = results.slice(1).flatMap((result) => (kind.idOf(result) === long ? [result.label] : []));
    expect(
      waited,
      `These short tasks ran on the ${kind.unit} busy with the 4 s task (${long}), while the other worker was free: tasks ` +
        'given to a worker in advance (in turn, or into a queue of its own) wait behind a long one. Keep one queue, and ' +
        `let each worker take the next task when it is done with one.\n${timeline.toText()}\n`,
    ).toEqual([]);
  });

  test('runs queued tasks in the order they were submitted', async () => {
    const executor = open({ maxWorkers: 1 });
    const { cue, timeline } = await probe();
    // One worker: the first task takes it, and the four submitted behind it wait in the queue.
    const labels = ['task 1', 'task 2', 'task 3', 'task 4', 'task 5'];
    await resultWithin(
      15_000,
      Promise.all(labels.map((label) => executor.submit('probe', cue(label)))),
      'The 5 tasks submitted to one worker never all settled',
      'one of 5 submit("probe") calls in a row with maxWorkers: 1',
      'the probe task throws nothing for these cues: each call should resolve with its own result',
    );
    const order = timeline.spans.map((span) => span.label);
    // From the second task on, each was submitted before the one that ran just before it: the newest waiting went first.
    const newestFirst = order.slice(2).every((label, k) => labels.indexOf(label) < labels.indexOf(order[k + 1]!));
    expect(
      order,
      `With maxWorkers: 1, tasks submitted in the order ${labels.join(', ')} started in the order ${order.join(', ')}` +
        `${newestFirst ? ': each time the worker came free, it took the newest task waiting (last in, first out)' : ''}. ` +
        `Tasks wait in a queue, and a worker that is done with one takes the next: the one that has waited longest.\n${timeline.toText()}\n`,
    ).toEqual(labels);
  });

  test('shutdown() resolves, and stops every worker, even when a task submitted before it fails', async () => {
    const first = kind.started().length;
    const executor = open({ maxWorkers: 2 });
    const { cue } = await probe();
    const failing = settle(executor.submit('inverse', 0));
    const others = [1, 2, 3].map((i) => settle(executor.submit('probe', cue(`task ${i}`, { napMs: 50 }))));
    const closing = settle(executor.shutdown());
    const outcome = await within(15_000, closing, 'shutdown() never settled while a task submitted before it failed');
    expect(
      outcome.status === 'fulfilled' ? 'resolved' : `rejected with ${describeError((outcome as { reason: unknown }).reason)}`,
      "shutdown() should resolve once every submitted task has settled, a failed one too: a task's failure is its " +
        "caller's to handle (wait with Promise.allSettled, not Promise.all).",
    ).toBe('resolved');
    const alive = kind.started().slice(first).filter(kind.isAlive);
    expect(alive.length, `${count(alive.length, kind)} of the executor were still alive after shutdown() resolved.`).toBe(0);
    const failed = await within(5_000, failing, 'the failing task never settled');
    expect(failed.status, 'The task that threw should reject').toBe('rejected');
    const done = await within(5_000, Promise.all(others), 'the other tasks never settled');
    expect(
      done.map((o) => o.status),
      'The other tasks submitted before shutdown() should finish',
    ).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
  });

  test('shutdown() lets every task already submitted finish, then resolves', async () => {
    const executor = open({ maxWorkers: 2 });
    const { cue, timeline } = await probe();
    const tasks = Array.from({ length: 6 }, (_, i) => executor.submit('probe', cue(`task ${i}`, { napMs: 100 })));
    let settledCount = 0;
    const outcomes = Promise.all(tasks.map((task) => settle(task).finally(() => (settledCount += 1))));

    const closing = executor.shutdown();
    await resultWithin(
      15_000,
      closing,
      'shutdown() never resolved',
      'shutdown() with maxWorkers: 2, called while 6 probe tasks of 100 ms were running or queued,',
      'those tasks throw nothing: shutdown() should resolve once the queued tasks have run and the workers have stopped',
    );
    const settledAtShutdown = settledCount;
    const settled = await within(
      5_000,
      outcomes,
      `shutdown() resolved, but ${6 - settledCount} of 6 tasks submitted before it never settled: shutdown() dropped them`,
    );
    const picture = `\n${timeline.toText()}\n`;
    const dropped = settled.filter((outcome) => outcome.status === 'rejected');
    expect(
      dropped.map((outcome) => describeError((outcome as { reason: unknown }).reason)),
      `shutdown() dropped ${dropped.length} of 6 tasks submitted before it: they failed instead of running. ` +
        `Shut down like Python's executor.shutdown(wait=True): refuse new tasks, finish the queued ones, then stop the workers.${picture}`,
    ).toEqual([]);
    expect(
      settledAtShutdown,
      `shutdown() resolved while ${6 - settledAtShutdown} of 6 tasks were still running or queued: resolve only once they are done.${picture}`,
    ).toBe(6);
  });

  test('after shutdown(), new tasks are refused with an error that says so', async () => {
    const executor = open({ maxWorkers: 2 });
    await resultWithin(
      15_000,
      executor.submit('square', 2),
      'submit() never settled',
      'submit("square", 2) with maxWorkers: 2',
      'square(2) throws nothing: it should resolve with 4',
    );
    const closing = executor.shutdown();
    const meanwhile = settle(executor.submit('square', 3));
    await resultWithin(
      10_000,
      closing,
      'shutdown() never resolved',
      'shutdown() with maxWorkers: 2, once submit("square", 2) had resolved,',
      'no task was left to run (and square(3), submitted after shutdown() was called, throws nothing either, were it run): ' +
        'shutdown() should resolve once the workers have stopped',
    );

    await expectRefusedAsShutDown(() => executor.submit('square', 4), 'submit() after shutdown()');
    const early = await within(5_000, meanwhile, 'submit() made while shutdown() was under way never settled');
    expect(
      early.status,
      'submit() made after shutdown() was called (before it resolved) was accepted: refuse new tasks from the moment shutdown() is called',
    ).toBe('rejected');
    const earlyReason = (early as { reason?: unknown }).reason;
    expect(
      earlyReason instanceof Error && /shut/i.test(earlyReason.message),
      'submit() made after shutdown() was called (before it resolved) failed, but not because the executor is shut down: ' +
        `it rejected with ${describeError(earlyReason)}. Whether it was refused with another message, or accepted and then ` +
        'lost as the workers stopped, the caller cannot tell that the executor is shut down: refuse it at once, from ' +
        'the moment shutdown() is called, with an error that says so.',
    ).toBe(true);
    const mapRefusal = await failureWithin(5_000, () => executor.map('square', [1, 2]), {
      hung: 'map() after shutdown() never settled: refuse it at once, as submit() does',
      resolved: 'map() after shutdown() was accepted and ran: refuse it as submit() does',
    });
    expect(
      mapRefusal instanceof Error && /shut/i.test(mapRefusal.message),
      `map() after shutdown() should reject with an error that says the executor is shut down, not ${describeError(mapRefusal)}`,
    ).toBe(true);
  });

  test('shutdown() of an executor that ran no task resolves, and then refuses tasks', async () => {
    const first = kind.started().length;
    const executor = open({ maxWorkers: 2 });
    const before = kind.started().length - first;
    // Nothing to finish and nothing to stop: a right answer resolves in microseconds.
    await resultWithin(
      5_000,
      executor.shutdown(),
      `shutdown() of an executor that was never given a task never resolved (it had started ${count(before, kind)})` +
        (before === 0
          ? ': no worker was running, so no exit will ever come. Does it wait for the last worker to exit? With none started, there is nothing to wait for'
          : ''),
      'shutdown() with maxWorkers: 2, before any task was submitted,',
      'there was nothing to run and nothing to fail: shutdown() should resolve once every worker it started (none was needed) has exited',
    );
    await expectRefusedAsShutDown(() => executor.submit('square', 2), 'submit() after shutdown() of an executor that had run no task');
  });

  test('shutdown() called right after map() lets every item of that map() run: map() resolves with all the results', async () => {
    const executor = open({ maxWorkers: 2 });
    // More items than workers, and shutdown() called before map() has resolved: Python's `with` block does this.
    const mapping = executor.map('square', [1, 2, 3, 4, 5, 6]);
    const closing = executor.shutdown();
    closing.catch(() => {}); // Judged below, after map().
    const results = await valueWithin(15_000, mapping, 'map() never settled with shutdown() called right after it', (reason) => {
      const refused = reason instanceof Error && /shut/i.test(reason.message);
      return (
        `${kind.name}: map("square", [1, 2, 3, 4, 5, 6]) with maxWorkers: 2, and shutdown() called right after it, rejected with ${shownReason(reason)}. ` +
        (refused ? 'Items of that map() were refused as shut down: they had not all been handed to the executor when map() was called. ' : '') +
        'map() was called before shutdown(), so all 6 of its tasks were submitted before it, and shutdown() lets every task ' +
        'already submitted finish: map() should resolve with [1, 4, 9, 16, 25, 36].'
      );
    });
    expect(results, 'map("square", [1, 2, 3, 4, 5, 6]), with shutdown() called right after it, should resolve with each square, in order').toEqual([
      1, 4, 9, 16, 25, 36,
    ]);
    await resultWithin(
      10_000,
      closing,
      'shutdown() never resolved',
      'shutdown() with maxWorkers: 2, called right after map("square", [1, 2, 3, 4, 5, 6]),',
      'square throws nothing: shutdown() should resolve once those 6 tasks have run and the workers have stopped',
    );
  });

  test('shutdown() called again resolves too: while the first call is still under way, and after it has resolved', async () => {
    const executor = open({ maxWorkers: 2 });
    const tasks = [1, 2, 3, 4].map((n) => settle(executor.submit('square', n)));
    // Both calls made before any task has run: the second comes while the first waits for the tasks.
    const firstCall = settle(executor.shutdown());
    const secondCall = settle(executor.shutdown());
    const first = await within(
      15_000,
      firstCall,
      'The first shutdown() never settled after shutdown() was called a second time while it waited for 4 submitted tasks',
    );
    const second = await within(
      5_000,
      secondCall,
      'A second shutdown(), called while the first was still waiting for 4 submitted tasks, never settled although the first one resolved',
    );
    const shown = (outcome: { status: string; reason?: unknown }) =>
      outcome.status === 'fulfilled' ? 'resolved' : `rejected with ${shownReason(outcome.reason)}`;
    expect(
      { first: shown(first), second: shown(second) },
      'shutdown() called twice in a row (the second call while the first was still waiting for the 4 tasks submitted before it): ' +
        'both calls should resolve, once the tasks have run and every worker has exited.',
    ).toEqual({ first: 'resolved', second: 'resolved' });
    const done = await within(5_000, Promise.all(tasks), 'the 4 tasks submitted before shutdown() never all settled');
    expect(
      done.map((o) => o.status),
      'The 4 tasks submitted before shutdown() (called twice) should finish',
    ).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']);
    // Every worker has exited: a later call has nothing left to wait for. A right answer resolves in microseconds.
    const later = await within(
      5_000,
      settle(executor.shutdown()),
      `shutdown() called once more, after an earlier call had resolved, never settled: every ${kind.unit} of the executor had ` +
        'exited by then, so there was nothing left to wait for',
    );
    expect(shown(later), 'shutdown() called once more, after an earlier call had resolved: it should resolve, as every worker has exited.').toBe('resolved');
  });

  test(`after shutdown(), no ${kind.unit} of the executor is left alive`, async () => {
    const first = kind.started().length;
    const executor = open({ maxWorkers: 2 });
    await resultWithin(
      15_000,
      executor.map('square', [1, 2, 3, 4]),
      'map() never settled',
      'map("square", [1, 2, 3, 4]) with maxWorkers: 2',
      'square throws nothing: it should resolve with [1, 4, 9, 16]',
    );
    await resultWithin(
      10_000,
      executor.shutdown(),
      'shutdown() never resolved',
      'shutdown() with maxWorkers: 2, once map("square", [1, 2, 3, 4]) had resolved,',
      'no task was left to run: shutdown() should resolve once the workers have stopped',
    );
    const alive = kind.started().slice(first).filter(kind.isAlive);
    expect(
      alive.length,
      `${count(alive.length, kind)} of the executor were still alive after shutdown() resolved: stop every worker ` +
        `and wait until it has exited (${kind.unit === 'thread' ? 'worker.terminate() resolves then' : "a child's 'exit' event"}).`,
    ).toBe(0);
  });
});
