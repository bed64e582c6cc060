import { createHook } from 'node:async_hooks';
import { readFileSync } from 'node:fs';

/** A clock that advances only while the calling thread runs on a CPU, in ms. */
export interface ThreadClock {
  name: 'threadCpuUsage' | 'schedstat' | 'wall';
  now(): number;
}

/**
 * The best thread CPU clock this Node and OS offer: process.threadCpuUsage() (Node >= 22.19 /
 * 23.9), else Linux's /proc/thread-self/schedstat (ns on CPU), else wall time. CPU time tells
 * "this thread was busy" apart from "this thread was not scheduled": on a loaded machine an idle
 * event loop can sit still for 80 ms of wall time while using no CPU at all.
 */
export function threadClock(): ThreadClock {
  const process_ = process as NodeJS.Process & { threadCpuUsage?: () => NodeJS.CpuUsage };
  if (typeof process_.threadCpuUsage === 'function') {
    const usage = process_.threadCpuUsage.bind(process);
    return { name: 'threadCpuUsage', now: () => ((u) => (u.user + u.system) / 1_000)(usage()) };
  }
  try {
    const read = () => Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e6;
    if (Number.isFinite(read())) return { name: 'schedstat', now: read };
  } catch {
    // Not Linux: fall through to wall time.
  }
  return { name: 'wall', now: () => performance.now() };
}

export interface MainThreadWatch<T> {
  result: T;
  /**
   * The most CPU time, in ms, this thread spent between two firings of a 5 ms interval timer. A
   * timer fires only when the event loop turns, so a piece of work that holds the loop for X ms
   * of CPU shows as at least X, whatever the machine's load; a loop that keeps turning shows a
   * few ms (the interval plus one slice of work).
   */
  longestBusyMs: number;
  /** The longest the event loop went without a turn, in wall ms (includes time not scheduled). */
  longestStallMs: number;
  /** CPU ms the call itself took before it returned (work done synchronously inside it). */
  callBusyMs: number;
  /** CPU ms between the call's return and the loop's first turn (work done in microtasks). */
  beforeFirstTurnBusyMs: number;
  /**
   * The callbacks (timers, immediates, I/O callbacks, promise reactions) that ran in the longest
   * stretch, the wall ms of the longest one, and the stretch's own wall ms: many callbacks none of
   * which took much of the stretch mean work queued all at once; one that took most of it, a piece
   * of work too big. (Wall time: on a busy machine a short callback can wait for a core, so judge
   * by its share of the stretch, never by its length alone.)
   */
  longestStretch: { callbacks: number; longestCallbackMs: number; wallMs: number };
  /** How many times a 5 ms interval fired while the work ran: 0 means the loop never turned. */
  turns: number;
  elapsedMs: number;
  clock: ThreadClock['name'];
}

interface Sample {
  wall: number;
  cpu: number;
  /** Callbacks that ended since the previous sample, and the wall ms of the longest of them. */
  callbacks: number;
  longestCallbackMs: number;
}

/**
 * Runs `work` while sampling this thread's CPU clock every 5 ms (an interval timer, which can only
 * fire when the event loop turns) and when the work settles. Work that never lets the loop turn
 * falls between two samples in one piece, so its CPU time shows whole.
 */
export async function watchMainThread<T>(work: () => Promise<T> | T): Promise<MainThreadWatch<T>> {
  const clock = threadClock();
  // Each callback the loop runs, timed from async_hooks' before to after (outermost only). In wall
  // time: it runs for every promise reaction too (a million for a file read line by line), and the
  // thread's CPU clock costs a system call (on Node 22.18, a file read) where performance.now() does not.
  let depth = 0;
  let callbackStarted = 0;
  let callbacks = 0;
  let longestCallbackMs = 0;
  const hook = createHook({
    before() {
      if (depth++ === 0) callbackStarted = performance.now();
    },
    after() {
      // The callback running when the hook was enabled ends with an after() and no before(): skip it.
      if (depth === 0) return;
      if (--depth > 0) return;
      callbacks += 1;
      const took = performance.now() - callbackStarted;
      if (took > longestCallbackMs) longestCallbackMs = took;
    },
  });
  const sample = (): Sample => {
    const taken = { wall: performance.now(), cpu: clock.now(), callbacks, longestCallbackMs };
    callbacks = 0;
    longestCallbackMs = 0;
    return taken;
  };
  const samples: Sample[] = [];
  let turns = 0;
  const interval = setInterval(() => {
    turns += 1;
    samples.push(sample());
  }, 5);
  hook.enable();
  try {
    const before = sample();
    samples.push(before);
    // Scheduled before the call, so it marks the loop's first turn after it, ahead of any
    // setImmediate or setTimeout(0) the call itself makes.
    let returned = before;
    let firstTurn: Sample | undefined;
    const turned = new Promise<void>((resolve) => setImmediate(() => ((firstTurn = sample()), resolve())));
    const working = work();
    returned = sample();
    const result = await working;
    samples.push(sample());
    await turned;
    const stretches = samples
      .slice(1)
      .map((s, i) => ({ wall: s.wall - samples[i]!.wall, cpu: s.cpu - samples[i]!.cpu, callbacks: s.callbacks, longestCallbackMs: s.longestCallbackMs }));
    const longest = stretches.reduce((a, b) => (b.cpu > a.cpu ? b : a), { wall: 0, cpu: 0, callbacks: 0, longestCallbackMs: 0 });
    return {
      result,
      longestBusyMs: longest.cpu,
      longestStretch: { callbacks: longest.callbacks, longestCallbackMs: longest.longestCallbackMs, wallMs: longest.wall },
      longestStallMs: Math.max(0, ...stretches.map((s) => s.wall)),
      callBusyMs: returned.cpu - before.cpu,
      beforeFirstTurnBusyMs: firstTurn!.cpu - returned.cpu,
      turns,
      elapsedMs: samples.at(-1)!.wall - before.wall,
      clock: clock.name,
    };
  } finally {
    clearInterval(interval);
    hook.disable();
  }
}
