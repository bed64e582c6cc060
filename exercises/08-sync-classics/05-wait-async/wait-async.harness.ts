// The tests' workers. The waiter plays the thread with an event loop that waits: it calls your
// waitForNotify and waitUntil when the test asks, and reports what they did. Your calls run here,
// never on the test's own thread, so a call that blocks its thread (or loops forever) stalls only
// this worker, which the test watches from outside and then stops. The notifier plays another
// thread that changes a cell and calls Atomics.notify on it.
import { parentPort, workerData } from 'node:worker_threads';
import { announceThread } from '#kata/inside/announce-thread.ts';
import { realAtomics, spyOnAtomics } from '#kata/inside/atomics-spy.ts';
import { isNotImplemented } from '#kata/inside/not-implemented.ts';
import { watchSleepingCalls } from '#kata/inside/sleeping-calls.ts';
import { targetUrl } from '#kata/inside/target.ts';
import { watchTimerCalls } from '#kata/inside/timers.ts';
import type * as WaitAsyncModule from './wait-async.ts';

/** Where the waiter keeps its counters, in `control` (shared memory of the test's own): the test reads them even while the waiter's thread is stuck. */
export interface ControlCells {
  /** Turns of the waiter's event loop: a 5 ms interval of the harness adds 1 each time it fires. */
  ticks: number;
  /** 1 while the waiter's thread is inside Atomics.wait. */
  asleep: number;
  /** Atomics.wait calls on the waiter's thread that could sleep (any timeout but 0). */
  sleeps: number;
  /** Atomics calls your code made on the tests' cells (load, waitAsync, wait, ...): each one a look at the memory. */
  looks: number;
  /** Of those, Atomics.waitAsync calls. */
  waitAsyncs: number;
  /** Calls of the predicate the test gave waitUntil. */
  predicateCalls: number;
  /** The last Atomics.wait or waitAsync call your code made: which (1: waitAsync, 0: wait), its cell (-1: another array than the tests' cells; -2: none yet), its expected value, its timeout (ms, rounded; -1: none or Infinity). */
  lastWaitAsync: number;
  lastWaitIndex: number;
  lastWaitExpected: number;
  lastWaitTimeout: number;
  /** When that call was made, in ms on the waiter's clock (performance.now(), rounded). */
  lastWaitAt: number;
}

export interface HarnessData {
  role: 'waiter' | 'notifier';
  /** The cells the waits are on, shared with the test. */
  memory: Int32Array;
  /** The waiter's counters (see ControlCells); the notifier has none. */
  control?: Int32Array;
  cells?: ControlCells;
}

/** A call the test asks the waiter to make. */
export interface CallRequest {
  op: 'call';
  /** Names the messages about this call: `returned:<id>`, `settled:<id>`. */
  id: string;
  fn: 'waitForNotify' | 'waitUntil';
  index: number;
  /** waitForNotify's expected value. */
  expected?: number;
  /** Left out: the call is made without a timeout. */
  timeoutMs?: number;
  /** waitUntil's predicate: value >= atLeast. */
  atLeast?: number;
  /** waitUntil: the first time the predicate is called, another thread (played here) writes this value to the cell and notifies it, right after the check and before the predicate answers. */
  changeOnFirstCheck?: number;
}

/** What the waiter posts as `returned:<id>` once the call has returned. */
export interface Returned {
  /** Whether it returned something with a `then` method (a promise). */
  thenable: boolean;
  /** typeof what it returned, and the value itself when that is a string. */
  kind: string;
  text?: string;
  /** The message of an error it threw (a stub's error is not reported: it fails the worker, and the test with it). */
  threw?: string;
  /** When the call was made, in ms on the waiter's clock (see lastWaitAt). */
  calledAt: number;
}

/** What the waiter posts as `settled:<id>` once the returned promise has settled. */
export interface Settled {
  value?: unknown;
  rejected?: string;
  /** ms from the call to the settlement, on the waiter's clock, and the moment itself (performance.timeOrigin + now). */
  atMs: number;
  at: number;
  /** Whether it settled before the event loop's next turn after the call (in microtasks only). */
  beforeTurn: boolean;
  /** Callbacks of your code's timers and immediates that ran from the call to the settlement. */
  fired: number;
  /** The values the predicate was called with, in order (waitUntil). */
  seen: number[];
  /** The waits (Atomics.waitAsync or wait calls on the cells) your code began before its first call of the predicate; -1 if it never called it. */
  waitsBeforeFirstCheck: number;
  /** The calls that put the thread to sleep (Atomics.wait, child_process.*Sync) from the call to the settlement. */
  slept: string[];
}

/** What the waiter posts as `counts:<n>`: its counters at that moment, read on its own thread. */
export interface Counts {
  fired: number;
  looks: number;
  waitAsyncs: number;
  predicateCalls: number;
}

const data = workerData as HarnessData;
const { memory } = data;
const post = (type: string, details: object = {}) => parentPort!.postMessage({ type, ...details });
const now = () => performance.timeOrigin + performance.now();

if (data.role === 'notifier') {
  // Changes a cell (when told a value) and notifies every waiter on it; says how many it woke.
  parentPort!.on('message', (request: { n: number; index: number; value?: number }) => {
    if (request.value !== undefined) realAtomics.store(memory, request.index, request.value);
    const woke = realAtomics.notify(memory, request.index);
    post(`notified:${request.n}`, { woke, at: now() });
  });
  announceThread();
  post('ready');
} else {
  // No top-level await (CONTRIBUTING, rule 8: Node crashes if a test stops a worker as its async module starts).
  void runWaiter();
}

async function runWaiter(): Promise<void> {
  const control = data.control!;
  const cells = data.cells!;
  const count = (cell: keyof ControlCells, by = 1) => realAtomics.add(control, cells[cell], by);
  const set = (cell: keyof ControlCells, value: number) => realAtomics.store(control, cells[cell], value);
  set('lastWaitIndex', -2);

  // The spies go in before your code is loaded, in case it keeps its own reference to an Atomics
  // function. Each of your Atomics calls on the cells is counted as it happens (in shared memory,
  // so the test can read them even while this thread is stuck); an Atomics.wait is noted before
  // the thread goes to sleep in it.
  spyOnAtomics((name, args, proceed) => {
    const [array, index, expected, timeout] = args as [unknown, number, number, number | undefined];
    if (array === memory) {
      count('looks');
      if (name === 'waitAsync') count('waitAsyncs');
    }
    if (name !== 'wait' && name !== 'waitAsync') return proceed();
    set('lastWaitAsync', name === 'waitAsync' ? 1 : 0);
    set('lastWaitIndex', array === memory ? Number(index) : -1);
    set('lastWaitExpected', Number(expected));
    set('lastWaitTimeout', timeout === undefined || !Number.isFinite(Number(timeout)) ? -1 : Math.round(Number(timeout)));
    set('lastWaitAt', Math.round(performance.now()));
    if (name === 'waitAsync' || Number(timeout) === 0) return proceed();
    count('sleeps');
    set('asleep', 1);
    try {
      return proceed();
    } finally {
      set('asleep', 0);
    }
  });
  const sleeping = watchSleepingCalls();
  // Not watchTimers(): its async hooks could keep worker.terminate() from stopping a thread that
  // loops in microtasks, and the test has to stop such a thread.
  const timers = watchTimerCalls();

  const { waitForNotify, waitUntil } = (await import(targetUrl(import.meta.url, './wait-async.ts').href)) as typeof WaitAsyncModule;

  // The heartbeat: it fires only when this thread's event loop turns.
  setInterval(() => count('ticks'), 5);

  const counts = (): Counts => ({
    fired: timers.fired(),
    looks: realAtomics.load(control, cells.looks),
    waitAsyncs: realAtomics.load(control, cells.waitAsyncs),
    predicateCalls: realAtomics.load(control, cells.predicateCalls),
  });

  /** Waits begun on the cells so far: Atomics.waitAsync calls, and Atomics.wait calls that could sleep. */
  const waitsSoFar = () => realAtomics.load(control, cells.waitAsyncs) + realAtomics.load(control, cells.sleeps);

  function call(request: CallRequest): void {
    const seen: number[] = [];
    let changed = false;
    const waitsAtCall = waitsSoFar();
    let waitsBeforeFirstCheck = -1;
    const predicate = (value: number) => {
      count('predicateCalls');
      if (seen.length === 0) waitsBeforeFirstCheck = waitsSoFar() - waitsAtCall;
      seen.push(value);
      if (request.changeOnFirstCheck !== undefined && !changed) {
        // Another thread, right after this check: it changes the cell and notifies it. Nobody
        // waits on the cell yet, so that notify wakes nobody; the change itself is all there is.
        changed = true;
        realAtomics.store(memory, request.index, request.changeOnFirstCheck);
        realAtomics.notify(memory, request.index);
      }
      return value >= request.atLeast!;
    };
    // Marks the loop's next turn after the call: scheduled first, so it runs before anything the call schedules.
    let turned = false;
    setImmediate(() => (turned = true));
    const firedBefore = timers.fired();
    const sleptBefore = sleeping.calls.length;
    const started = performance.now();
    let result: unknown;
    try {
      const timeout = request.timeoutMs === undefined ? [] : [request.timeoutMs];
      result =
        request.fn === 'waitForNotify'
          ? waitForNotify(memory, request.index, request.expected!, ...timeout)
          : waitUntil(memory, request.index, predicate, ...timeout);
    } catch (error) {
      if (isNotImplemented(error)) throw error;
      post(`returned:${request.id}`, {
        thenable: false,
        kind: 'throw',
        threw: error instanceof Error ? error.message : String(error),
        calledAt: started,
      } satisfies Returned);
      return;
    }
    const thenable = typeof (result as { then?: unknown } | undefined)?.then === 'function';
    post(`returned:${request.id}`, {
      thenable,
      kind: typeof result,
      ...(typeof result === 'string' ? { text: result } : {}),
      calledAt: started,
    } satisfies Returned);
    const settled = (outcome: { value: unknown } | { rejected: string }) =>
      post(`settled:${request.id}`, {
        ...outcome,
        atMs: performance.now() - started,
        at: now(),
        beforeTurn: !turned,
        fired: timers.fired() - firedBefore,
        seen,
        waitsBeforeFirstCheck,
        slept: sleeping.calls.slice(sleptBefore),
      } satisfies Settled);
    Promise.resolve(result).then(
      (value) => settled({ value }),
      (error: unknown) => {
        // A stub's error fails the worker, so that the test fails with it.
        if (isNotImplemented(error)) throw error;
        settled({ rejected: error instanceof Error ? error.message : String(error) });
      },
    );
  }

  parentPort!.on('message', (request: CallRequest | { op: 'ping' | 'counts' | 'leftovers'; n: number }) => {
    if (request.op === 'call') call(request);
    else if (request.op === 'ping') post(`pong:${request.n}`);
    else if (request.op === 'counts') post(`counts:${request.n}`, counts());
    // After a turn of the loop, so that what a settled call cleans up in its last microtasks is gone.
    else setImmediate(() => post(`leftovers:${request.n}`, { timers: timers.pending() }));
  });
  announceThread();
  post('ready');
}
