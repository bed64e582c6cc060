import { describe, expect, test } from 'vitest';
import { failureOf, measured, shownReason, sleep, Timeline, valueWithin, within } from '#kata/testing/index.ts';
import { gatherAll, gatherSettled, type Task } from './gather.ts';

/** Tasks that each wait `ms` on a timer and resolve with their own index, recorded on `timeline`. */
function waits(timeline: Timeline, delays: number[]): Array<Task<number>> {
  return delays.map((ms, index) => () => timeline.run(`task ${index}`, async () => (await sleep(ms), index)));
}

const boom = new Error('task 1 failed on purpose');
const failsAfter =
  (ms: number): Task<never> =>
  async () => {
    await sleep(ms);
    throw boom;
  };

/**
 * gatherAll(tasks) where no task fails, which must resolve: a rejection is explained in the test's
 * words (`what` names the tasks as the test made them), unless it is the stub's or a deadline's.
 */
function gatheredAll<T>(tasks: Array<Task<T>>, what: string, hung = 'gatherAll never resolved'): Promise<T[]> {
  return valueWithin(
    2_000,
    gatherAll(tasks),
    hung,
    (reason) =>
      `gatherAll(${what}) rejected with ${shownReason(reason)}, but ` +
      (tasks.length === 0
        ? 'with no tasks there is nothing to fail: it should resolve with [].'
        : `none of those tasks fails: it should resolve with their ${tasks.length} results, in the order of the tasks.`),
  );
}

/**
 * What is wrong with `results` (task i resolves with i), from what the test saw: a task still
 * running when gatherAll resolved, or results in the order the tasks finished.
 */
function wrongResults(results: unknown, timeline: Timeline, runningAtResolve: string[]): string {
  const shown = Array.isArray(results)
    ? `[${Array.from(results, (value) => (value === undefined ? 'undefined' : JSON.stringify(value))).join(', ')}]`
    : String(results);
  if (runningAtResolve.length > 0) {
    return (
      `gatherAll resolved with ${shown} while ${runningAtResolve.join(', ')} still ran: a result can only be there once its task has finished. ` +
      'Resolve when every task has finished (count the tasks done, not the length of the array: results[2] = x makes it 3 long).'
    );
  }
  const finished = timeline.finishOrder().map((task) => Number(task.replace('task ', '')));
  if (JSON.stringify(finished) === JSON.stringify(results)) {
    return (
      `gatherAll resolved with ${shown}: the order in which the tasks finished (${timeline.finishOrder().join(', ')}), not the order of the tasks. ` +
      'Store each result at its task index instead of pushing it when it arrives.'
    );
  }
  return `gatherAll resolved with ${shown}; task i resolves with i, so the results in the order of the tasks are [0, 1, 2].`;
}

describe('gatherAll', () => {
  test('starts every task before waiting for any of them', async () => {
    const timeline = new Timeline();
    await gatheredAll(waits(timeline, [50, 50, 50, 50]), '[four tasks of 50 ms]');
    expect(
      timeline.maxInFlight,
      `At most ${timeline.maxInFlight} of 4 tasks were running at once: ${timeline.maxInFlight === 1 ? 'they ran one after another' : 'some waited for others to finish'}. ` +
        `Start every task first, then wait for all the promises together.\n${timeline.toText()}\n`,
    ).toBe(4);
  });

  test('four 200 ms waits take under 450 ms, not 800 ms', async () => {
    const timeline = new Timeline();
    const started = performance.now();
    await gatheredAll(waits(timeline, [200, 200, 200, 200]), '[four tasks of 200 ms]');
    const took = performance.now() - started;
    // 201-209 ms measured, beside a CPU hog too; one after another they take 800.
    expect(
      measured('gather: four 200 ms waits (ms)', took, 450),
      `Four 200 ms waits took ${Math.round(took)} ms: waits that overlap cost one wait, not four.\n${timeline.toText()}\n`,
    ).toBeLessThan(450);
  });

  test('resolves only after every task has finished', async () => {
    const timeline = new Timeline();
    // The slowest task is neither the first nor the last: waiting for either one alone is not enough.
    const results = await gatheredAll(waits(timeline, [60, 90, 30]), '[three tasks of 60, 90, 30 ms]');
    const running = timeline.unfinished();
    expect(
      running,
      `gatherAll resolved while ${running.length} of 3 tasks (${running.join(', ')}) were still running. Wait for every ` +
        `task's promise before resolving: forEach(async ...) waits for none of the promises its callback returns, and ` +
        `awaiting one task (the first, or the last) misses the others.\n${timeline.toText()}\n`,
    ).toEqual([]);
    expect(results, wrongResults(results, timeline, [])).toEqual([0, 1, 2]);
  });

  test('keeps results in the order of the tasks, not the order they finished', async () => {
    const timeline = new Timeline();
    const results = await gatheredAll(waits(timeline, [90, 10, 50]), '[three tasks of 90, 10, 50 ms]');
    expect(results, wrongResults(results, timeline, timeline.unfinished())).toEqual([0, 1, 2]);
  });

  test('resolves with [] when there are no tasks', async () => {
    const results = await gatheredAll([], '[]', 'gatherAll([]) never resolved: with no tasks there is nothing to wait for');
    expect(results, 'gatherAll([]) must resolve with an empty list').toEqual([]);
  });

  test('rejects with the failing task’s error', async () => {
    const timeline = new Timeline();
    const error = await failureOf(
      () => within(2_000, gatherAll([...waits(timeline, [20]), failsAfter(10), ...waits(timeline, [30])]), 'gatherAll never settled'),
      'gatherAll resolved although task 1 failed: the rejection was dropped. Let a failure reach the caller as a rejection.',
    );
    expect(error, 'gatherAll rejected, but not with the error the failing task threw').toBe(boom);
  });

  test.each([
    { order: 'first', failingFirst: true },
    { order: 'after a slower task', failingFirst: false },
  ])('rejects as soon as one task fails, without waiting for slower ones (the failing task $order)', async ({ order, failingFirst }) => {
    // Judged by what had happened when the rejection came, not by the clock: the 400 ms task must still be running.
    let slowDone = false;
    const slow = () => sleep(400).then(() => void (slowDone = true));
    const tasks = failingFirst ? [failsAfter(10), slow] : [slow, failsAfter(10)];
    const started = performance.now();
    await failureOf(
      () => within(2_000, gatherAll(tasks), 'gatherAll never settled'),
      `gatherAll resolved although a task (listed ${order}) failed: the rejection was dropped. Let a failure reach the caller as a rejection.`,
    );
    const took = performance.now() - started;
    expect(
      slowDone,
      `gatherAll reported the failure of a 10 ms task listed ${order} after ${Math.round(took)} ms, only once the 400 ms task was done: ` +
        (failingFirst
          ? 'reject at the first failure.'
          : 'a failure counts when it happens, whatever its place in the list: awaiting the promises one by one, in the order of the tasks, ' +
            'hears of it only once every task before it has finished.'),
    ).toBe(false);
  });

  test('resolves with results that are undefined, null, 0, false or empty', async () => {
    const values = [undefined, null, 0, false, ''];
    const tasks = values.map((value) => async () => (await sleep(10), value));
    const results = await gatheredAll(
      tasks,
      '[five tasks resolving with undefined, null, 0, false and ""]',
      'gatherAll([five tasks resolving with undefined, null, 0, false and ""]) never resolved, though each of those tasks resolves ' +
        'after 10 ms: a task is done when it has resolved, whatever its value',
    );
    expect(
      results,
      'gatherAll should resolve with whatever the tasks resolve with, undefined, null, 0, false and "" too: a task is done when it ' +
        'has resolved, whatever its value, so count the tasks done rather than look for values in the array.',
    ).toEqual(values);
  });
});

describe('gatherSettled', () => {
  test('reports every outcome, in task order, and never rejects', async () => {
    const timeline = new Timeline();
    const outcomes = await valueWithin(
      2_000,
      gatherSettled([...waits(timeline, [40]), failsAfter(10), async () => (await sleep(20), 2)]),
      'gatherSettled never resolved',
      (reason) =>
        `gatherSettled rejected (with ${shownReason(reason)}) when task 1 failed: it never rejects; it reports the failure as { status: 'rejected', reason }.`,
    );
    expect(
      outcomes,
      'gatherSettled must resolve (never reject) with one outcome per task, in the order of the tasks: ' +
        `{ status: 'fulfilled', value } or { status: 'rejected', reason }. The tasks finished in the order 1, 2, 0.`,
    ).toEqual([
      { status: 'fulfilled', value: 0 },
      { status: 'rejected', reason: boom },
      { status: 'fulfilled', value: 2 },
    ]);
  });

  test('reports a failure that settles after every other task', async () => {
    const timeline = new Timeline();
    const outcomes = await valueWithin(
      2_000,
      gatherSettled([...waits(timeline, [10]), failsAfter(60)]),
      'gatherSettled([a 10 ms task, a task failing after 60 ms]) never resolved: the last task to settle was the failing one. ' +
        'A rejected task is settled too: count it as done, as a fulfilled one is',
      (reason) =>
        `gatherSettled rejected (with ${shownReason(reason)}) when its last task failed: it never rejects; it reports the failure as { status: 'rejected', reason }.`,
    );
    expect(outcomes, 'gatherSettled([a 10 ms task, a task failing after 60 ms]) must resolve with both outcomes, in the order of the tasks.').toEqual([
      { status: 'fulfilled', value: 0 },
      { status: 'rejected', reason: boom },
    ]);
  });

  test('resolves with [] when there are no tasks', async () => {
    const outcomes = await valueWithin(
      2_000,
      gatherSettled([]),
      'gatherSettled([]) never resolved: with no tasks there is nothing to wait for',
      (reason) => `gatherSettled([]) rejected with ${shownReason(reason)}: it never rejects, and with no tasks it should resolve with [].`,
    );
    expect(outcomes, 'gatherSettled([]) must resolve with an empty list').toEqual([]);
  });

  test('runs the tasks at the same time', async () => {
    const timeline = new Timeline();
    await valueWithin(
      2_000,
      gatherSettled(waits(timeline, [50, 50, 50])),
      'gatherSettled never resolved',
      (reason) => `gatherSettled([three tasks of 50 ms]) rejected with ${shownReason(reason)}: it never rejects, and none of those tasks fails.`,
    );
    expect(
      timeline.maxInFlight,
      `At most ${timeline.maxInFlight} of 3 tasks were running at once: ${timeline.maxInFlight === 1 ? 'they ran one after another' : 'some waited for others to finish'}.\n${timeline.toText()}\n`,
    ).toBe(3);
  });
});
