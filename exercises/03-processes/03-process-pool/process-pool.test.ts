import { fork } from 'node:child_process';
import { afterEach, describe, expect, test } from 'vitest';
import { liveChildren, measured, spawnCounts, spawnLog, Timeline, within } from '#kata/testing/index.ts';
import { failureWithin } from '#kata/testing/deadline.ts';
import { pidsStillAlive, reapChildren, recordRemoteRun } from '#kata/testing/processes.ts';
import { ChildCrashed, ProcessPool } from './process-pool.ts';
import type { SquaresReply, SquaresTask } from './squares.harness.ts';

const squares = new URL('./squares.harness.ts', import.meta.url);
const sumOfSquares = (n: number) => (n * (n + 1) * (2 * n + 1)) / 6;
const show = (value: unknown) => (value instanceof Error ? `${value.name}: ${value.message}` : JSON.stringify(value));

/** Small CPU tasks, each a different fixed amount of work, so each has its own answer. */
const smallTasks = (count: number): SquaresTask[] => Array.from({ length: count }, (_, i) => ({ n: 20_000 + i }));
// Each small task is microseconds of work, and a fork takes ~70 ms: a batch that has not settled
// in 4 s is stuck, and the learner hears so in 4 s rather than 10.
const SMALL_TASKS_MS = 8_000;

// Every pool a test opens is closed after it, and no child may outlive the test.
const opened: ProcessPool[] = [];
function openPool(size: number): ProcessPool {
  const pool = new ProcessPool(squares, size);
  opened.push(pool);
  return pool;
}
afterEach(async () => {
  for (const pool of opened.splice(0)) {
    await within(3_000, Promise.resolve().then(() => pool.close()), 'close() never settled').catch(() => {});
  }
  const left = await reapChildren(2_000);
  expect(left.map((child) => child.pid), `${left.length} child process(es) still ran after the pool was closed (killed now).`).toEqual([]);
});

/** Runs `tasks` through `pool`, recording where and when each ran; waits for all of them to settle. */
async function runAll(pool: ProcessPool, tasks: SquaresTask[], timeline: Timeline, ms: number, stuck = 'is a task stuck in the queue, or sent to a child that is gone?') {
  const outcomes = await within(
    ms,
    Promise.allSettled(
      tasks.map(async (task, i) => {
        const reply = await pool.run<SquaresReply>(task);
        if (reply?.pid !== undefined) recordRemoteRun(timeline, `task ${i}`, reply);
        return reply;
      }),
    ),
    `Not all of the ${tasks.length} tasks settled within ${ms / 1000} s: ${stuck}`,
  );
  const notImplemented = outcomes.find((o) => o.status === 'rejected' && String(o.reason).includes('Not implemented yet'));
  if (notImplemented) throw (notImplemented as PromiseRejectedResult).reason;
  return outcomes;
}

const replies = (outcomes: Array<PromiseSettledResult<SquaresReply>>) =>
  outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));

/** Fails (saying why) if more than `size` processes were started since `before`: the pool forks too often. */
function expectAtMostStarted(before: number, size: number, tasks: number, timeline: Timeline): void {
  const started = spawnCounts().children - before;
  expect(
    started,
    `${tasks} tasks on a pool of ${size} started ${started} processes: a new process for every task (or more children ` +
      `than the pool size). A pool starts its N children once and sends them task after task.\n${timeline.toText()}\n`,
  ).toBeLessThanOrEqual(size);
}

/** The baseline: a fresh child for every task, two at a time, as a pool-less program would do. */
async function processPerTask(tasks: SquaresTask[], timeline: Timeline): Promise<void> {
  const queue = tasks.map((task, i) => ({ task, label: `task ${i}` }));
  const oneChild = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const child = fork(squares);
      const reply = await new Promise<SquaresReply>((resolve, reject) => {
        child.once('message', (message) => resolve(message as SquaresReply));
        child.once('exit', (code) => reject(new Error(`baseline child exited with code ${code}`)));
        child.send(next.task);
      });
      recordRemoteRun(timeline, next.label, reply);
      await new Promise((resolve) => {
        child.once('exit', resolve);
        child.disconnect();
      });
    }
  };
  await Promise.all([oneChild(), oneChild()]);
}

describe('ProcessPool', () => {
  test('runs many tasks on its N children, reusing them', async () => {
    const timeline = new Timeline();
    const before = spawnCounts().children;
    const pool = openPool(2);
    const tasks = smallTasks(40);
    // Starting too many processes is the likeliest reason for a slow run: say so if it happens.
    const outcomes = await runAll(pool, tasks, timeline, 15_000).catch((error: unknown) => {
      expectAtMostStarted(before, 2, tasks.length, timeline);
      throw error;
    });
    expectAtMostStarted(before, 2, tasks.length, timeline);

    const failed = outcomes.flatMap((o, i) => (o.status === 'rejected' ? [`task ${i}: ${show(o.reason)}`] : []));
    expect(failed, 'Every task should succeed.').toEqual([]);
    const sums = replies(outcomes).map((reply) => reply?.sum);
    expect(sums, 'Each task should resolve with the reply its child sent for it.').toEqual(tasks.map((task) => sumOfSquares(task.n)));
    const pids = new Set(replies(outcomes).map((reply) => reply.pid));
    expect(
      pids.size,
      `40 tasks on a pool of 2 ran in only ${pids.size} process: hand a task to every free child, not always to the same one.\n${timeline.toText()}\n`,
    ).toBe(2);
  });

  test('is much faster than starting a process for every task', async () => {
    const tasks = smallTasks(20);
    const timeline = new Timeline();
    const before = spawnCounts().children;
    const started = performance.now();
    // The pool's own start-up and shutdown count: they are part of what a pool costs.
    const pool = openPool(2);
    const outcomes = await runAll(pool, tasks, timeline, 10_000).catch((error: unknown) => {
      expectAtMostStarted(before, 2, tasks.length, timeline);
      throw error;
    });
    await within(5_000, pool.close(), 'close() never settled');
    const poolMs = performance.now() - started;
    expect(outcomes.every((o) => o.status === 'fulfilled'), 'Every task should succeed.').toBe(true);

    const baselineTimeline = new Timeline();
    const baselineStarted = performance.now();
    // 20 forks took up to 15.7 s beside a CPU hog, on a loaded machine.
    await within(40_000, processPerTask(tasks, baselineTimeline), 'the baseline (a new process per task) never finished');
    const baselineMs = performance.now() - baselineStarted;

    const speedUp = baselineMs / poolMs;
    // Measured on 2 cores shared with other test runs: the pool took 0.26-1.0 s, 20 forks 2.9-11.1 s,
    // speed-ups of 7.5 to 17 (5.6 to 17 beside a CPU hog). A pool that forks for every task scores about 1.
    expect(
      measured('process-pool: pool over a process per task (x)', speedUp, 2.5, 'min'),
      `20 small tasks took ${Math.round(poolMs)} ms on the pool and ${Math.round(baselineMs)} ms with a new process ` +
        `for every task (2 at a time): a speed-up of ${speedUp.toFixed(2)}, expected at least 2.5. Starting a Node ` +
        'process costs tens of milliseconds, far more than each of these tasks: if the pool starts a new process for ' +
        `every task, it pays that every time.\n${timeline.toText()}\n`,
    ).toBeGreaterThanOrEqual(2.5);
  }, 60_000); // A backstop above the deadlines inside (10 + 5 + 40 s): forks are slow on a busy machine.

  test('matches each reply to the task its child was running', async () => {
    const timeline = new Timeline();
    const pool = openPool(2);
    // Task 0 holds its reply back for 300 ms, so tasks 1 and 2 are answered before it.
    const tasks: SquaresTask[] = [{ n: 1_000, holdMs: 300 }, { n: 2_000 }, { n: 3_000 }];
    const outcomes = await runAll(pool, tasks, timeline, 10_000);
    const sums = outcomes.map((o) => (o.status === 'fulfilled' ? o.value?.sum : show(o.reason)));
    expect(
      sums,
      'A task got the result of another task. Replies come back in the order the children finish, not the order ' +
        'the tasks were sent: resolve the task that the replying child was running, not the oldest one waiting.\n' +
        `${timeline.toText()}\n`,
    ).toEqual(tasks.map((task) => sumOfSquares(task.n)));
  });

  test('a child that crashes fails only its own task, is replaced, and the other tasks finish', async () => {
    const timeline = new Timeline();
    const before = spawnCounts().children;
    const pool = openPool(2);
    // Task 0's child exits with code 7 half-way through; tasks 1 to 10 are queued behind it.
    const crashing = pool.run<SquaresReply>({ n: 4_000_000, crash: true });
    const end = timeline.begin('task 0 (crashes)');
    const others = runAll(pool, smallTasks(10), timeline, SMALL_TASKS_MS);
    others.catch(() => {}); // Judged below, after the crashed task.

    // The child crashes after a few milliseconds of work; a fork beside a CPU hog took up to 2.8 s.
    const error = await failureWithin(8_000, () => crashing, {
      hung:
        'The task whose child crashed (exit code 7) never settled: the pool must notice a child’s exit and ' +
        'reject the task that child was running',
      resolved: 'The task whose child crashed (exit code 7) resolved: it should reject with a ChildCrashed.',
    });
    const span = end();
    span.pid = (error as ChildCrashed)?.pid ?? span.pid;
    expect(error, `The crashed task rejected with ${show(error)}, expected a ChildCrashed.`).toBeInstanceOf(ChildCrashed);
    expect((error as ChildCrashed).exitCode, 'The ChildCrashed should carry the exit code of the child that died.').toBe(7);

    const outcomes = await others;
    const failed = outcomes.flatMap((o, i) => (o.status === 'rejected' ? [`task ${i + 1}: ${show(o.reason)}`] : []));
    expect(
      failed,
      'Only the task that was running in the crashed child may fail; these failed too. Send a task to a child only ' +
        `when it is free, and keep the others in the pool’s queue.\n${timeline.toText()}\n`,
    ).toEqual([]);

    // At full strength again: the next tasks run on two children, one of them the replacement.
    const after = replies(await runAll(pool, smallTasks(10), timeline, SMALL_TASKS_MS));
    const pidsAfter = new Set(after.map((reply) => reply.pid));
    const started = spawnLog().children.slice(before).length;
    const verdict =
      started > 3
        ? 'it starts more processes than it needs: a new process for every task?'
        : 'the crashed child was not replaced, and the pool would shrink with every crash.';
    expect(
      { processesStarted: started, childrenServingTasks: pidsAfter.size },
      `After the crash, the pool had started ${started} processes in all (expected 3: 2, plus 1 to replace the ` +
        `crashed child) and 10 more tasks ran on ${pidsAfter.size} child(ren) (expected 2): ${verdict}\n${timeline.toText()}\n`,
    ).toEqual({ processesStarted: 3, childrenServingTasks: 2 });
  });

  test('a child that dies while idle is replaced as well', async () => {
    const timeline = new Timeline();
    const pool = openPool(2);
    const first = replies(await runAll(pool, smallTasks(4), timeline, SMALL_TASKS_MS));
    const victim = first[0]?.pid;
    expect(victim, 'The first tasks should resolve with their replies.').toBeTypeOf('number');
    process.kill(victim!, 'SIGKILL');
    expect(await pidsStillAlive([victim!], 2_000), `The child ${victim} survived SIGKILL.`).toEqual([]);

    const outcomes = await runAll(pool, smallTasks(10), timeline, SMALL_TASKS_MS);
    const failed = outcomes.flatMap((o, i) => (o.status === 'rejected' ? [`task ${i}: ${show(o.reason)}`] : []));
    expect(
      failed,
      `Tasks failed after an idle child (pid ${victim}) was killed: the pool still sent them to the dead child. ` +
        'Listen for every child’s exit, not only while it runs a task, and replace it.',
    ).toEqual([]);
    const pids = new Set(replies(outcomes).map((reply) => reply.pid));
    expect(pids.has(victim!), `A task was answered by pid ${victim}, which is dead.`).toBe(false);
    expect(pids.size, `The 10 tasks ran on ${pids.size} child(ren): the dead child was not replaced, so the pool shrank.`).toBe(2);
  });

  test('close() lets the submitted tasks finish, then ends every child', async () => {
    const timeline = new Timeline();
    const pool = openPool(2);
    const tasks = Array.from({ length: 6 }, (_, i): SquaresTask => ({ n: 10_000 + i, holdMs: 50 }));
    const running = runAll(pool, tasks, timeline, 10_000, 'close() dropped tasks that were submitted before it (they never settled).');
    running.catch(() => {}); // Judged below, after close().
    await within(5_000, pool.close(), 'close() never settled: does it wait for something that never happens?');
    const stillRunning = liveChildren().map((child) => child.pid);

    const outcomes = await running;
    const dropped = outcomes.flatMap((o, i) => (o.status === 'rejected' ? [`task ${i}: ${show(o.reason)}`] : []));
    expect(
      dropped,
      'close() dropped tasks that were submitted before it: let the queue run dry, then end the children.',
    ).toEqual([]);
    expect(
      stillRunning,
      `close() resolved while ${stillRunning.length} child process(es) still ran: end every child and wait for its exit.\n${timeline.toText()}\n`,
    ).toEqual([]);
    const pids = replies(outcomes).map((reply) => reply.pid);
    expect(await pidsStillAlive(pids, 2_000), 'These children were still running after close().').toEqual([]);
  });

  test('refuses new tasks after close()', async () => {
    const pool = openPool(2);
    await within(5_000, pool.close(), 'close() never settled for an idle pool');
    const before = spawnCounts().children;
    const error = await failureWithin(5_000, () => pool.run({ n: 10 }), {
      hung: 'run() after close() never settled: a closed pool must refuse new work at once, rejecting with an Error that says so',
      resolved: 'run() after close() resolved: a closed pool must refuse new work with an Error.',
    });
    expect(error, `run() after close() should reject with an Error; it rejected with ${show(error)}.`).toBeInstanceOf(Error);
    expect(String((error as Error).message), 'The error should say that the pool is closed.').toMatch(/closed|shut/i);
    expect(spawnCounts().children - before, 'run() after close() started a child process.').toBe(0);
  });
});
