import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { Timeline } from '#kata/testing/index.ts';
import { type ProgramRun, runProgram } from '#kata/testing/program.ts';
import { targetUrl } from '#kata/inside/target.ts';

// The learner's file is a whole program: the tests run it in a child process, never in this one,
// with guard.harness.ts preloaded into it and into every worker it starts. The harness reports
// each worker and kills the program (SIGKILL) the moment a worker starts a worker. Two more caps
// stand behind it: a thread-count watchdog (Linux) and a deadline.
const guard = fileURLToPath(new URL('./guard.harness.ts', import.meta.url));
const maxWorkers = 16;
// Node runs ~7 threads of its own (+4 once its thread pool is used), then one per worker.
const maxThreads = 12 + maxWorkers;

interface Job {
  from: number;
  to: number;
  threads: number;
  /** Known answer, counted once with primes.ts. */
  count: number;
}

interface GuardEvent {
  event: 'started' | 'part' | 'exited' | 'terminated' | 'nested' | 'too-many';
  /** part: the worker's workerData. */
  part?: unknown;
  threadId?: number;
  parent?: number;
  child?: number;
  code?: number;
  started?: number;
}

interface GuardedRun extends ProgramRun {
  events: GuardEvent[];
  timeline: Timeline;
}

/** Runs main-guard.ts as a program with `job` in its environment, watching every worker it starts. */
async function runGuarded(job: Job): Promise<GuardedRun> {
  const timeline = new Timeline();
  const events: GuardEvent[] = [];
  const spans = new Map<number, () => unknown>();
  let endProgram = () => {};
  const run = await runProgram(targetUrl(import.meta.url, './main-guard.ts'), [], {
    nodeArgs: ['--import', guard],
    env: {
      ...process.env,
      PRIMES_FROM: String(job.from),
      PRIMES_TO: String(job.to),
      PRIMES_THREADS: String(job.threads),
      KATA_GUARD_MAX_WORKERS: String(maxWorkers),
    },
    deadlineMs: 30_000,
    settleAfter: { output: /^\s*\d+\s*$/m, thenMs: 5_000 },
    maxThreads,
    onStart(pid) {
      endProgram = timeline.begin('program', { threadId: 0, pid });
    },
    // The harness writes a line as each worker starts and exits: the timeline follows it live.
    onLine(line, stream, pid) {
      const json = stream === 'stderr' ? /^\[kata-guard\] (.*)$/.exec(line)?.[1] : undefined;
      if (json === undefined) return;
      const event = JSON.parse(json) as GuardEvent;
      events.push(event);
      if (event.event === 'started') spans.set(event.threadId!, timeline.begin(`worker ${event.threadId}`, { threadId: event.threadId, pid }));
      if (event.event === 'nested') spans.set(event.child!, timeline.begin(`worker ${event.child} (by ${event.parent})`, { threadId: event.child, pid }));
      if (event.event === 'exited') spans.get(event.threadId!)?.();
    },
  });
  // Workers still open here died with their program (killed, or never reported as exited).
  for (const end of spans.values()) end();
  endProgram();
  // Like any stub, the unfinished program says so: fail with its own message, before anything else.
  const notImplemented = /^\w*Error: (Not implemented yet.*)$/m.exec(run.stderr)?.[1];
  if (notImplemented) throw new Error(notImplemented);
  return { ...run, events, timeline };
}

/** The failures every run is checked for first: a runaway program, and a program that did not end well. */
function expectNoRunaway(run: GuardedRun, job: Job): void {
  const nested = run.events.find((event) => event.event === 'nested');
  const picture = `\n${run.timeline.toText()}\n`;
  expect(
    nested,
    `A worker thread started a worker of its own (thread ${nested?.parent} started thread ${nested?.child}), so the test killed the program. ` +
      'Every thread that loads main-guard.ts runs its top-level code, and the code that starts workers ran again inside a worker: ' +
      'left alone, each new worker would start more, without end (the article\'s `if __name__ == "__main__"` warning). ' +
      "Guard the program's part with `if (isMainThread)`. Beware: import.meta.main and process.argv[1] are the same inside a worker, so neither guards it." +
      picture,
  ).toBeUndefined();
  expect(
    run.threadCapHit || run.events.some((event) => event.event === 'too-many'),
    `The program ran more than ${maxWorkers} workers or ${maxThreads} threads (seen: ${run.peakThreads ?? '?'} threads) for PRIMES_THREADS=${job.threads}, so the test killed it: ` +
      "are workers starting workers? Guard the program's part with `if (isMainThread)`." +
      picture,
  ).toBe(false);
  expect(
    run.timedOut,
    run.answeredAfterMs === undefined
      ? `The program printed no count within 30 s and was killed.\nstdout: ${run.stdout}\nstderr: ${run.stderr}${picture}`
      : `The program printed its count but did not exit within 5 s (it was killed): something kept it alive, most likely a worker ` +
          `still running (one that listens on its port), or else a timer, a server or stdin left open. Let each worker's code finish.${picture}`,
  ).toBe(false);
  expect(run.code, `The program failed (exit code ${run.code}, signal ${run.signal}).\nstderr: ${run.stderr}${picture}`).toBe(0);
}

/** A part as [from, to): from { from, to }, or any object or array that holds exactly two numbers. */
function boundsOf(part: unknown): [number, number] | undefined {
  const numbers = part !== null && typeof part === 'object' ? Object.values(part).filter((value) => typeof value === 'number' && Number.isFinite(value)) : [];
  return numbers.length === 2 ? [Math.min(...numbers), Math.max(...numbers)] : undefined;
}

/** The parts `run`'s workers were given, as [from, to), shown as such; fails unless each is readable and together they cover `job`'s range once. */
function partsCovering(run: GuardedRun, job: Job): { parts: [number, number][]; shown: string } {
  const given = run.events.filter((event) => event.event === 'part').map((event) => event.part);
  const read = given.map(boundsOf);
  const unreadable = given.find((_, index) => read[index] === undefined);
  expect(unreadable, `A worker was given ${JSON.stringify(unreadable)} as its workerData: expected its part of the range, { from, to }.`).toBeUndefined();
  const parts = read.map((part) => part!);
  const shown = parts.map((part) => `[${part[0]}, ${part[1]})`).join(', ');
  // Every number exactly once: laid end to end, the non-empty parts run from `from` to `to`.
  let reached = job.from;
  for (const [from, to] of parts.filter((part) => part[1] > part[0]).sort((a, b) => a[0] - b[0])) {
    if (from !== reached) break;
    reached = to;
  }
  expect(reached, `For [${job.from}, ${job.to}) the workers were given ${shown}: together they do not cover the range, each number exactly once.`).toBe(job.to);
  return { parts, shown };
}

const jobs: Job[] = [
  { from: 1_000_000, to: 1_100_003, threads: 4, count: 7216 },
  // 96 numbers in 5 parts, and 97, the last number, is prime.
  { from: 2, to: 98, threads: 5, count: 25 },
  { from: 1_000_000_000, to: 1_000_040_000, threads: 1, count: 1923 },
];

describe('main-guard.ts, run as a program', () => {
  test('starts workers from the main thread only: a worker never starts a worker', async () => {
    const job = { from: 1_000_000, to: 1_100_000, threads: 2, count: 7216 };
    const run = await runGuarded(job);
    expectNoRunaway(run, job);
    // Not a claim about no workers at all: the main thread did start them.
    const started = run.events.filter((event) => event.event === 'started').length;
    expect(started, `With PRIMES_THREADS=2 the main thread started ${started} worker(s): start one per part, 2 in all.\n${run.timeline.toText()}\n`).toBe(2);
  });

  test('prints the count of primes, counted by PRIMES_THREADS workers', async () => {
    for (const job of jobs) {
      const run = await runGuarded(job);
      expectNoRunaway(run, job);
      const started = run.events.filter((event) => event.event === 'started').length;
      const setting = `PRIMES_FROM=${job.from} PRIMES_TO=${job.to} PRIMES_THREADS=${job.threads}`;
      expect(started, `With ${setting} the program started ${started} worker(s): start one per part, ${job.threads} in all.\n${run.timeline.toText()}\n`).toBe(
        job.threads,
      );
      const printed = run.stdout.trim().split('\n').at(-1);
      expect(
        printed,
        `With ${setting} the program should print only the count of primes, ${job.count}. It printed:\n${run.stdout}\n` +
          'Do the parts cover [from, to) exactly once?',
      ).toBe(String(job.count));
      expect(
        run.stdout.trim(),
        `With ${setting} the program printed its total last, but more before it:\n${run.stdout}\n` +
          'It prints just the total, one number and nothing else (console.log(total)): whatever reads its output reads that one line.',
      ).toBe(String(job.count));
    }
  });

  test('starts exactly PRIMES_THREADS workers when the parts cannot all be the same size', async () => {
    // 9 numbers in 4 parts (parts of 3, 3, 3 and 0, or 3, 2, 2, 2), and 3 numbers in 4 parts:
    // a loop that steps through the range by the part size makes fewer parts than PRIMES_THREADS.
    const uneven: Job[] = [
      { from: 2, to: 11, threads: 4, count: 4 },
      { from: 2, to: 5, threads: 4, count: 2 },
    ];
    for (const job of uneven) {
      const run = await runGuarded(job);
      expectNoRunaway(run, job);
      const setting = `PRIMES_FROM=${job.from} PRIMES_TO=${job.to} PRIMES_THREADS=${job.threads}`;
      expect(run.stdout.trim(), `With ${setting} the program should print the count of primes, ${job.count}. It printed:\n${run.stdout}\n`).toBe(
        String(job.count),
      );
      const started = run.events.filter((event) => event.event === 'started').length;
      expect(
        started,
        `With ${setting} the program started ${started} worker(s), not ${job.threads}. ${job.to - job.from} numbers do not divide ` +
          `evenly into ${job.threads} parts: make exactly PRIMES_THREADS parts (some may be smaller, or empty), one worker each. ` +
          `A loop that steps through the range by the part size stops early when the last parts are short.\n${run.timeline.toText()}\n`,
      ).toBe(job.threads);
    }
  });

  test('splits the range into PRIMES_THREADS parts of about the same size, one for each worker', async () => {
    const job = jobs[0]!;
    const run = await runGuarded(job);
    expectNoRunaway(run, job);
    const { parts, shown } = partsCovering(run, job);
    const total = job.to - job.from;
    const most = Math.ceil(total / job.threads);
    const sizes = parts.map((part) => part[1] - part[0]);
    expect(
      Math.max(...sizes),
      `For [${job.from}, ${job.to}) in ${job.threads} parts, the workers were given ${shown}: ${sizes.join(', ')} numbers. One worker counts ` +
        `${Math.max(...sizes)} of the ${total} numbers while the others wait for it, so the threads barely help. Give each part at most ` +
        `Math.ceil((to - from) / threads) numbers, ${most} here (the last part may be shorter).\n${run.timeline.toText()}\n`,
    ).toBeLessThanOrEqual(most);
  });

  test('gives no part more than its share when the range does not divide evenly, the last part included', { timeout: 75_000 }, async () => {
    // 7 numbers in 5 parts, and 14 in 6: (to - from) / threads rounded to the nearest whole number
    // is below Math.ceil here (1 for 2, 2 for 3), so parts of that size leave the rest to one part.
    const uneven: Job[] = [
      { from: 2, to: 9, threads: 5, count: 4 },
      { from: 2, to: 16, threads: 6, count: 6 },
    ];
    for (const job of uneven) {
      const run = await runGuarded(job);
      expectNoRunaway(run, job);
      const { parts, shown } = partsCovering(run, job);
      const total = job.to - job.from;
      const share = Math.ceil(total / job.threads);
      const sizes = parts.map((part) => part[1] - part[0]);
      const largest = Math.max(...sizes);
      // Which part is too big, in the order of the range: the last, when the others left it their rest.
      const inOrder = [...parts].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      const last = inOrder.at(-1)!;
      const lastTookTheRest = last[1] - last[0] === largest && inOrder.slice(0, -1).every((part) => part[1] - part[0] < share);
      expect(
        largest,
        `${total} numbers, [${job.from}, ${job.to}), in ${job.threads} parts: the workers were given ${shown} (${sizes.join(', ')} numbers), ` +
          `so one part holds ${largest} numbers, above its share of Math.ceil(${total} / ${job.threads}) = ${share}. ` +
          (lastTookTheRest
            ? `The parts before the last are smaller than ${share}, and the last, [${last[0]}, ${last[1]}), holds all they left over: ` +
              "a part size rounded down (or to the nearest) makes the last part do the others' share. "
            : '') +
          `Parts of at most ${share} numbers cover the range in ${job.threads} parts (the last ones may be shorter, or empty).\n${run.timeline.toText()}\n`,
      ).toBeLessThanOrEqual(share);
    }
  });

  test('starts every worker before the first one ends: the PRIMES_THREADS workers count at the same time', { timeout: 75_000 }, async () => {
    const job = jobs[0]!;
    const run = await runGuarded(job);
    expectNoRunaway(run, job);
    // The harness reports each start and each exit from the program's main thread, in the order they
    // happened there: no clock is needed to tell whether a worker started before another ended.
    const order = run.events.filter((event) => event.event === 'started' || event.event === 'exited');
    const firstExit = order.findIndex((event) => event.event === 'exited');
    const startedFirst = order.slice(0, firstExit === -1 ? order.length : firstExit).filter((event) => event.event === 'started').length;
    let running = 0;
    let mostAtOnce = 0;
    for (const event of order) {
      running += event.event === 'started' ? 1 : -1;
      mostAtOnce = Math.max(mostAtOnce, running);
    }
    expect(
      startedFirst,
      `With PRIMES_THREADS=${job.threads}, only ${startedFirst} of the ${job.threads} workers had started when the first one exited ` +
        `(at most ${mostAtOnce} ran at once). ` +
        (mostAtOnce <= 1 ? 'Each worker started only once the one before it had exited: they counted one after another, so the threads gave nothing. ' : '') +
        `The ${job.threads} workers count the range together: start them all, then wait for their counts.\n${run.timeline.toText()}\n`,
    ).toBe(job.threads);
  });

  test('ends by itself, every worker exited, once it has printed', async () => {
    const job = jobs[0]!;
    const run = await runGuarded(job);
    expectNoRunaway(run, job);
    const terminated = run.events.filter((event) => event.event === 'terminated').length;
    expect(
      terminated,
      `The program called worker.terminate() ${terminated} time(s) for its ${job.threads} workers. A worker that has posted its count has nothing left to do and ends by itself, ` +
        `with exit code 0; terminate() stops one that is still running, with exit code 1. Leave each worker to end by itself.\n${run.timeline.toText()}\n`,
    ).toBe(0);
    const exits = run.events.filter((event) => event.event === 'exited');
    expect(
      exits.map((event) => event.code),
      `Each of the ${job.threads} workers should exit by itself, with code 0.\n${run.timeline.toText()}\n`,
    ).toEqual(Array.from({ length: job.threads }, () => 0));
  });
});
