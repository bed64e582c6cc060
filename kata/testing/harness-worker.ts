// The test side of harness workers; what runs inside them is in kata/inside/ (announceThread, start-barrier, atomics-spy).
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { within } from './deadline.ts';
import type { Timeline } from './timeline.ts';

/** What a harness worker posts: `{ type: 'started' }`, `{ type: 'done', ... }`, and so on. */
export interface HarnessMessage {
  type: string;
  [detail: string]: unknown;
}

/**
 * A test-owned worker (a `*.harness.ts` file) that runs learner code and says what it is doing
 * in messages. The test waits for a message by type, with a deadline. If the worker fails (a
 * stub's "Not implemented yet" included), every wait rejects with that very error.
 */
export class HarnessWorker {
  readonly worker: Worker;
  /** Read at creation: `worker.threadId` turns to -1 once the worker has exited. */
  readonly threadId: number;
  readonly received: HarnessMessage[] = [];
  #failure: Error | undefined;
  #exited = false;
  #listeners = new Set<() => void>();

  constructor(url: URL, workerData: unknown) {
    this.worker = new Worker(url, { workerData });
    this.threadId = this.worker.threadId;
    this.worker.on('message', (message: HarnessMessage) => {
      this.received.push(message);
      this.#changed();
    });
    this.worker.on('error', (error) => {
      this.#failure ??= error;
      this.#changed();
    });
    this.worker.on('exit', () => {
      this.#exited = true;
      this.#changed();
    });
  }

  /** The first message of `type` received so far. */
  find(type: string): HarnessMessage | undefined {
    return this.received.find((message) => message.type === type);
  }

  /** The first message of `type`, as soon as it comes (at once if it already has). */
  message(type: string, ms: number, stuck: string): Promise<HarnessMessage> {
    return within(ms, this.#arrival(type), stuck);
  }

  /** Resolves with the message, or rejects with the worker's error; never gives up by itself. */
  #arrival(type: string): Promise<HarnessMessage> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const message = this.find(type);
        if (message) resolve(message);
        else if (this.#failure) reject(this.#failure);
        else if (this.#exited) reject(new Error(`The test's harness worker exited before it reported "${type}".`));
        else return;
        this.#listeners.delete(check);
      };
      this.#listeners.add(check);
      check();
    });
  }

  /** Waits up to `ms` for a message of `type`; resolves with it, or with undefined if none came. */
  async maybeMessage(type: string, ms: number): Promise<HarnessMessage | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const quiet = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
    try {
      return await Promise.race([this.#arrival(type), quiet]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * CPU time the worker's thread has used so far, in ms, read from outside while it runs (even
   * while it is stuck in a loop or asleep): `worker.cpuUsage()` where Node has it (24), else
   * Linux's per-thread /proc counters (10 ms steps) once the harness has called `announceThread()`
   * (kata/inside/announce-thread.ts). Undefined where neither exists.
   */
  cpuTimeMs(): Promise<number | undefined> {
    return workerCpuTimeMs(this.worker, this.find('thread')?.proc);
  }

  /** Stops the worker, even one asleep in Atomics.wait forever (that takes a few ms). */
  async terminate(): Promise<void> {
    await this.worker.terminate();
  }

  #changed(): void {
    for (const check of [...this.#listeners]) check();
  }
}

export interface TogetherOptions {
  /** The harness: it calls `arriveAndWait(gate, parties)`, posts `started`, does its work, posts `done`. */
  harness: URL;
  parties: number;
  /** Each worker's data; `gate` and `parties` are added. */
  workerData: (index: number) => object;
  timeline: Timeline;
  label: (index: number) => string;
  /** How long all of them may take, start-up included. */
  ms: number;
}

export interface TogetherRun {
  /** Each worker's `done` message, by index: undefined for a worker that did not finish in time. */
  done: Array<HarnessMessage | undefined>;
  /** Indexes of the workers that had not finished when the time was up (they have been stopped). */
  stuck: number[];
}

/**
 * Starts `parties` harness workers that wait at a start barrier and then run at the same moment,
 * recording each one's work (from `started` to `done`) on the timeline, on its own thread. Waits
 * for all of them, at most `ms`; then stops any still running, so a deadlock ends as a `stuck`
 * list for the test to explain, not as a hang. A worker's error is thrown as it is.
 */
export async function runTogether(options: TogetherOptions): Promise<TogetherRun> {
  const gate = new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT));
  const workers = Array.from(
    { length: options.parties },
    (_, index) => new HarnessWorker(options.harness, { ...options.workerData(index), gate, parties: options.parties }),
  );
  workers.forEach((harness, index) => {
    let end: (() => unknown) | undefined;
    harness.worker.on('message', (message: HarnessMessage) => {
      if (message.type === 'started') end = options.timeline.begin(options.label(index), { threadId: harness.threadId });
      if (message.type === 'done') end?.();
    });
  });
  try {
    const done = await Promise.all(workers.map((harness) => harness.maybeMessage('done', options.ms)));
    return { done, stuck: done.flatMap((message, index) => (message ? [] : [index])) };
  } finally {
    await Promise.all(workers.map((harness) => harness.terminate()));
  }
}

/**
 * CPU time a worker's thread has used so far, in ms, read from outside while it runs (even while
 * it is stuck in a loop or asleep in Atomics.wait): `worker.cpuUsage()` where Node has it (24),
 * else Linux's per-thread /proc counters, found through `proc` (what `announceThread()` posted).
 * Undefined where neither exists. Only the thread's own time: Vitest's threads, the garbage
 * collector and the other threads of the test never count, so a sleeping thread reads ~0.
 */
export async function workerCpuTimeMs(worker: Worker, proc: unknown): Promise<number | undefined> {
  const withUsage = worker as Worker & { cpuUsage?: () => Promise<{ user: number; system: number }> };
  if (typeof withUsage.cpuUsage === 'function') {
    // It rejects once the worker has exited: then there is nothing left to measure.
    const used = await withUsage.cpuUsage().catch(() => undefined);
    return used && (used.user + used.system) / 1000;
  }
  if (typeof proc !== 'string') return undefined;
  try {
    // The first field: nanoseconds on a CPU (where the kernel keeps scheduler statistics).
    return Number(readFileSync(`/proc/${proc}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
  } catch {
    // Fields 14 and 15: user and system time, in clock ticks of 10 ms.
    const fields = statFields(proc);
    return fields && (Number(fields[11]) + Number(fields[12])) * 10;
  }
}

/** How often a thread was found running, or ready to run, while a test looked at it. */
export interface RunnableLooks {
  /** Looks that found the thread running or waiting only for a core ('R'). */
  runnable: number;
  looks: number;
}

/**
 * Looks at a thread (by what `announceThread()` posted) every few ms for `ms`, and counts how often
 * Linux had it running or ready to run. A thread asleep in Atomics.wait, or in an idle event loop,
 * is never found so; one that spins always is, whether or not the machine gives it a core at that
 * moment. Unlike its CPU time, this does not depend on how busy the machine is. Undefined off Linux.
 */
export async function lookAtThread(proc: unknown, ms: number): Promise<RunnableLooks | undefined> {
  if (typeof proc !== 'string' || threadState(proc) === undefined) return undefined;
  const looks: RunnableLooks = { runnable: 0, looks: 0 };
  const ends = performance.now() + ms;
  // At least 20 looks, however long the test's own thread goes unscheduled on a busy machine: with
  // none, a caller would fall back to judging by CPU time, which such a machine makes unreliable.
  while (looks.looks < 20 || performance.now() < ends) {
    const state = threadState(proc);
    if (state === undefined) break; // the thread has ended
    looks.looks += 1;
    if (state === 'R') looks.runnable += 1;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return looks;
}

/**
 * Waits until Linux finds the thread asleep in one look (not running, not ready to run), for at most
 * `ms`: a thread that has flagged itself about to wait is then inside its Atomics.wait, among the
 * sleepers that Atomics.notify wakes, not only about to call it. Off Linux it cannot look, and waits
 * `elsewhereMs` instead.
 */
export async function untilFoundAsleep(proc: unknown, ms: number, elsewhereMs = 0): Promise<void> {
  const ends = performance.now() + ms;
  while (performance.now() < ends) {
    const looks = await lookAtThread(proc, 0);
    if (!looks) return new Promise((resolve) => setTimeout(resolve, elsewhereMs));
    if (looks.runnable < looks.looks) return;
  }
}

/** The state letter in /proc/<pid>/task/<tid>/stat: R running or runnable, S asleep, D in I/O, ... */
function threadState(proc: string): string | undefined {
  return statFields(proc)?.[0];
}

/** The fields of /proc/<proc>/stat after the command name (which may hold spaces), from field 3 on; undefined once the thread is gone. */
function statFields(proc: string): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${proc}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
  } catch {
    return undefined;
  }
}
