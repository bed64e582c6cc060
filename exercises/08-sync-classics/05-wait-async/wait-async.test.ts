import { afterEach, describe, expect, test } from 'vitest';
import { type HarnessMessage, HarnessWorker, lookAtThread } from '#kata/testing/harness-worker.ts';
import { measured, sleep, Timeline, until } from '#kata/testing/index.ts';
import type { CallRequest, ControlCells, Counts, HarnessData, Returned, Settled } from './wait-async.harness.ts';

// Your functions run in a worker of the test's (wait-async.harness.ts), the waiter: a thread with an
// event loop of its own, like the main thread. A call that blocks that thread, or loops forever,
// stalls only the worker; the test watches it from outside, says what it saw, and stops it.
const harness = new URL('./wait-async.harness.ts', import.meta.url);
const cells: ControlCells = {
  ticks: 0,
  asleep: 1,
  sleeps: 2,
  looks: 3,
  waitAsyncs: 4,
  predicateCalls: 5,
  lastWaitAsync: 6,
  lastWaitIndex: 7,
  lastWaitExpected: 8,
  lastWaitTimeout: 9,
  lastWaitAt: 10,
};
const sharedInts = (length: number) => new Int32Array(new SharedArrayBuffer(length * Int32Array.BYTES_PER_ELEMENT));
const plural = (count: number, what: string) => `${count} ${what}${count === 1 ? '' : 's'}`;

/** How long your call may take to return (the first call of a run took up to 0.8 s beside a CPU hog). */
const RETURN_MS = 5_000;
/** How long the waiter's thread may take to answer the test while a wait is pending. */
const STALL_MS = 2_000;
/** How long a wait may take to settle once it has been notified (or its timeout has passed). */
const SETTLE_MS = 3_000;
/** The most ms from a notify to the wait's result that counts as prompt (right answers take a few). */
const PROMPT_MS = 1_000;
/** How long the test leaves a pending wait alone while it counts what the waiter does meanwhile. */
const QUIET_MS = 400;

const started: HarnessWorker[] = [];
function start(data: HarnessData): HarnessWorker {
  const worker = new HarnessWorker(harness, data);
  started.push(worker);
  return worker;
}
afterEach(async () => {
  await Promise.all(started.splice(0).map((worker) => worker.terminate()));
});

/** The thread that calls your functions: it runs them when asked and reports what they did. */
class Waiter {
  readonly control = sharedInts(Object.keys(cells).length);
  readonly harness: HarnessWorker;
  #asked = 0;

  constructor(memory: Int32Array) {
    this.harness = start({ role: 'waiter', memory, control: this.control, cells });
  }

  get threadId(): number {
    return this.harness.threadId;
  }

  async ready(): Promise<void> {
    await this.harness.message('ready', 10_000, "The test's waiting thread never started");
  }

  /** Asks the waiter to call your function; the call's messages are named by `id`. */
  call(request: Omit<CallRequest, 'op'>): void {
    this.harness.worker.postMessage({ op: 'call', ...request });
  }

  /**
   * The waiter's message of `type`, or undefined if none came within `ms`. How long it took is
   * recorded against `ms` (as within() does), for the bounds' table: right answers must stay far inside.
   */
  async #reply<T>(type: string, ms: number, what: string): Promise<T | undefined> {
    const since = performance.now();
    const message = await this.harness.maybeMessage(type, ms);
    measured(`deadline ${ms} ms: the waiting thread ${what}`, message ? performance.now() - since : ms, ms);
    return message as (HarnessMessage & T) | undefined;
  }

  /** What the call returned, once it has (undefined if it had not within `ms`). */
  returned(id: string, ms: number): Promise<Returned | undefined> {
    return this.#reply(`returned:${id}`, ms, 'returned from a call');
  }

  /**
   * How the call's promise settled, once it has (undefined if it had not within `ms`). `expected`:
   * whether it should settle within `ms` (then the time it took is recorded); false for a look at
   * whether it has settled too early.
   */
  async settled(id: string, ms: number, expected = true): Promise<Settled | undefined> {
    if (expected) return this.#reply(`settled:${id}`, ms, 'settled a wait');
    return (await this.harness.maybeMessage(`settled:${id}`, ms)) as (HarnessMessage & Settled) | undefined;
  }

  /** How it settled, if it has already. */
  settledYet(id: string): Settled | undefined {
    return this.harness.find(`settled:${id}`) as (HarnessMessage & Settled) | undefined;
  }

  /** Whether the waiter's event loop answers a message within `ms`. */
  async ping(ms: number): Promise<boolean> {
    const n = ++this.#asked;
    this.harness.worker.postMessage({ op: 'ping', n });
    return (await this.#reply(`pong:${n}`, ms, 'answered a ping')) !== undefined;
  }

  /** The waiter's counters, read on its own thread (so its timers' callbacks are counted exactly). */
  counts(ms = STALL_MS): Promise<Counts | undefined> {
    const n = ++this.#asked;
    this.harness.worker.postMessage({ op: 'counts', n });
    return this.#reply(`counts:${n}`, ms, 'sent its counts');
  }

  /** Your code's timers still pending (by delay), a turn of the loop after the test asked. */
  async pendingTimers(ms = STALL_MS): Promise<number[] | undefined> {
    const n = ++this.#asked;
    this.harness.worker.postMessage({ op: 'leftovers', n });
    return (await this.#reply<{ timers: number[] }>(`leftovers:${n}`, ms, 'listed the pending timers'))?.timers;
  }

  read(cell: keyof ControlCells): number {
    return Atomics.load(this.control, cells[cell]);
  }

  /** Your code's last Atomics.wait or waitAsync call, as it was made. */
  lastWait(): string {
    const index = this.read('lastWaitIndex');
    if (index === -2) return 'your code never called Atomics.waitAsync (nor Atomics.wait)';
    const timeout = this.read('lastWaitTimeout');
    const call = `Atomics.${this.read('lastWaitAsync') === 1 ? 'waitAsync' : 'wait'}`;
    const on = index === -1 ? 'an array of its own, not the cells it was given' : `cells, ${index}`;
    return `your code's last wait was ${call}(${on}, ${this.read('lastWaitExpected')}${timeout === -1 ? '' : `, ${timeout}`})`;
  }
}

async function startWaiter(memory: Int32Array): Promise<Waiter> {
  const waiter = new Waiter(memory);
  await waiter.ready();
  return waiter;
}

/** The other thread: it writes a cell (when given a value) and calls Atomics.notify on it. */
class Notifier {
  readonly harness: HarnessWorker;
  #asked = 0;

  constructor(memory: Int32Array) {
    this.harness = start({ role: 'notifier', memory });
  }

  async ready(): Promise<void> {
    await this.harness.message('ready', 10_000, "The test's notifying thread never started");
  }

  /** Writes `value` to the cell (if given), notifies it, and says how many waiters that woke and when. */
  async notify(index: number, value?: number): Promise<{ woke: number; at: number }> {
    const n = ++this.#asked;
    this.harness.worker.postMessage({ n, index, value });
    return (await this.harness.message(`notified:${n}`, 5_000, "The test's notifying thread never answered")) as HarnessMessage & { woke: number; at: number };
  }
}

const shown = (settled: Settled) => (settled.rejected !== undefined ? `rejected with "${settled.rejected}"` : `resolved ${JSON.stringify(settled.value)}`);

/**
 * Watches the waiter's event loop while call `id` waits and nobody touches its cell: the call must
 * return, and the loop must answer four pings, a tenth of a second apart. Returns what went wrong,
 * from what was seen (where the thread is, and whether it runs), or undefined if the loop kept turning.
 */
async function loopStopped(waiter: Waiter, id: string, label: string): Promise<string | undefined> {
  const since = performance.now();
  const ticks = waiter.read('ticks');
  const returned = await waiter.returned(id, RETURN_MS);
  let answered = 0;
  if (returned) {
    for (let ping = 0; ping < 4; ping += 1) {
      const early = waiter.settledYet(id);
      if (early) {
        return `${label} ${shown(early)} ${Math.round(early.atMs)} ms after the call, though no thread had notified the cell, which held the expected value all along. It did not wait, so this test could not watch the event loop while it waited (${waiter.lastWait()}).`;
      }
      if (!(await waiter.ping(STALL_MS))) break;
      answered += 1;
      await sleep(100);
    }
    if (answered === 4) return undefined;
  }
  // The loop did not turn. Where is the thread: asleep in Atomics.wait, or running?
  const looks = await lookAtThread(waiter.harness.find('thread')?.proc, 300);
  const ticked = waiter.read('ticks') - ticks;
  const watched = Math.round(performance.now() - since);
  const facts =
    (returned
      ? `${label} returned a promise, but then its thread's event loop stopped: of the test's pings, sent while the wait was pending, it ${answered === 0 ? 'answered none' : `answered ${answered}, then none`} within ${STALL_MS / 1_000} s`
      : `${label} had not returned ${RETURN_MS / 1_000} s after the call, and its thread's event loop did not turn meanwhile`) +
    ` (a 5 ms interval on that thread fired ${plural(ticked, 'time')} in ${watched} ms).`;
  const sleeps = waiter.read('sleeps');
  if (waiter.read('asleep') === 1 || sleeps > 0) {
    return (
      `${facts} The thread is asleep in Atomics.wait (called ${plural(sleeps, 'time')} on it: ${waiter.lastWait()}). Atomics.wait blocks the thread that ` +
      'calls it: with an event loop, that thread then runs nothing else, no timer, no message, no I/O, until it is woken. ' +
      'On the main thread that is the whole program. Wait with Atomics.waitAsync: it returns at once, and a promise settles when the cell is notified.'
    );
  }
  if (looks && looks.looks > 0) {
    const runnable = measured('wait-async: share of looks finding a stalled waiter ready to run', looks.runnable / looks.looks, 0.5);
    if (runnable >= 0.5) {
      return (
        `${facts} The thread is not asleep in Atomics.wait: it was found running (or ready to run) in ${looks.runnable} of ${looks.looks} looks, ` +
        'a loop that never gives the thread back: a while loop over the cell, or a loop of awaits of something already resolved ' +
        '(each such await goes round the microtask queue, which runs to the end before the event loop turns again). Let the thread go ' +
        'until the cell is notified: Atomics.waitAsync.'
      );
    }
  }
  return (
    `${facts} The thread was not in Atomics.wait${looks ? `, and it was found running in only ${looks.runnable} of ${looks.looks} looks` : ''}: ` +
    'this run cannot tell what holds it (another call that blocks, such as a child_process.*Sync call, or a loop).'
  );
}

/**
 * Counts what the waiter does about call `id` while nothing happens to its cell for QUIET_MS: your
 * code's Atomics calls on the cells, its timers' callbacks, the predicate's calls. All of them are
 * looks at the memory (or turns spent getting ready for one). Returns the counts at the start.
 */
async function quietCounts(waiter: Waiter, id: string, label: string): Promise<{ before: Counts; during: Counts; early?: string }> {
  const returned = await waiter.returned(id, RETURN_MS);
  // A turn of the loop after the call returned (this answer needs one): what the call set up is done.
  const before = await waiter.counts();
  if (!returned || !before) {
    throw new Error(
      `${label} ${returned ? 'returned, but its thread then stopped answering' : `had not returned ${RETURN_MS / 1_000} s after the call`}: its event loop does not turn (see the test "keeps the event loop of its thread turning while it waits").`,
    );
  }
  await sleep(QUIET_MS);
  const after = await waiter.counts();
  if (!after)
    throw new Error(`${label}: its thread stopped answering while it waited (see the test "keeps the event loop of its thread turning while it waits").`);
  const settled = waiter.settledYet(id);
  const early =
    settled &&
    `${label} ${shown(settled)} ${Math.round(settled.atMs)} ms after the call, before anything happened to the cell: it did not wait, so this test could not count what it does while it waits (${waiter.lastWait()}).`;
  return {
    early,
    before,
    during: {
      fired: after.fired - before.fired,
      looks: after.looks - before.looks,
      waitAsyncs: after.waitAsyncs - before.waitAsyncs,
      predicateCalls: after.predicateCalls - before.predicateCalls,
    },
  };
}

/** What polling looks like in the counts of a quiet stretch, or undefined if nothing ran. */
function pollingSeen(label: string, during: Counts, what: string): string | undefined {
  const seen = [
    during.fired > 0 ? `${plural(during.fired, 'callback')} of timers (or setImmediate) it had set ran` : '',
    during.waitAsyncs > 0 ? `it called Atomics.waitAsync ${plural(during.waitAsyncs, 'more time')}` : '',
    during.looks - during.waitAsyncs > 0 ? `it made ${plural(during.looks - during.waitAsyncs, 'other Atomics call')} on the cells` : '',
    during.predicateCalls > 0 ? `it called the predicate ${plural(during.predicateCalls, 'time')}` : '',
  ].filter(Boolean);
  if (seen.length === 0) return undefined;
  return (
    `polling: while ${label} waited and nothing happened to the cell for ${QUIET_MS} ms (${what}), ${seen.join(', ')}. ` +
    'It looks again and again instead of being told: each look costs a turn of the loop, and a change is seen only at the next look. ' +
    'Register one wait with Atomics.waitAsync and let the notify wake it (a short timeout re-armed in a loop is polling too).'
  );
}

describe('waitForNotify', () => {
  test('keeps the event loop of its thread turning while it waits', async () => {
    const memory = sharedInts(3);
    const waiter = await startWaiter(memory);
    waiter.call({ id: 'wait', fn: 'waitForNotify', index: 1, expected: 0 });
    const stopped = await loopStopped(waiter, 'wait', 'waitForNotify(cells, 1, 0)');
    expect(stopped === undefined, stopped).toBe(true);
  });

  test('resolves "ok" when a worker thread notifies the cell, promptly; without a timeout it waits as long as it takes', async () => {
    const memory = sharedInts(3);
    memory.set([7, 0, 9]);
    const [waiter, notifier] = [new Waiter(memory), new Notifier(memory)];
    await Promise.all([waiter.ready(), notifier.ready()]);
    const timeline = new Timeline();
    const label = 'waitForNotify(cells, 1, 0)';
    const endWait = timeline.begin(`${label} pending`, { threadId: waiter.threadId });
    waiter.call({ id: 'wait', fn: 'waitForNotify', index: 1, expected: 0 });
    const returned = await waiter.returned('wait', RETURN_MS);
    expect(
      returned,
      `${label} had not returned ${RETURN_MS / 1_000} s after the call: see the test "keeps the event loop of its thread turning while it waits".`,
    ).toBeDefined();
    // Nobody notifies for a while: a wait with no timeout must still be pending.
    const early = await waiter.settled('wait', 300, false);
    expect(
      early && `${shown(early)} ${Math.round(early.atMs)} ms after the call`,
      early &&
        `${label} ${shown(early)} ${Math.round(early.atMs)} ms after the call, before any thread notified cell 1, which held 0 (the expected value) ` +
          `all along, with no timeout given: ${waiter.lastWait()}. ` +
          (waiter.read('lastWaitIndex') !== 1 || waiter.read('lastWaitExpected') !== 0
            ? 'The wait must be on cell `index` of `cells`, comparing it with `expected`: Atomics.waitAsync(cells, index, expected, timeoutMs). '
            : '') +
          'Without timeoutMs, the wait lasts until a notify comes.',
    ).toBeUndefined();
    const endNotify = timeline.begin('stores 1 in cell 1, notifies it', { threadId: notifier.harness.threadId });
    const notified = await notifier.notify(1, 1);
    endNotify();
    const settled = await waiter.settled('wait', SETTLE_MS);
    if (settled) endWait();
    expect(
      settled,
      `${label} was still pending ${SETTLE_MS / 1_000} s after a worker thread stored 1 in cell 1 and called Atomics.notify(cells, 1), ` +
        (notified.woke === 0
          ? `which found no waiter on cell 1 to wake: ${waiter.lastWait()}. Wait on cell index of the cells you are given, where the notify comes.`
          : `which woke ${plural(notified.woke, 'waiter')} there: the wait was woken, but your promise did not settle. Resolve it with the wait's own result.`),
    ).toBeDefined();
    expect(settled!.value, `${label} ${shown(settled!)} when a worker notified cell 1: a notify that wakes the wait resolves it "ok".`).toBe('ok');
    const after = measured("wait-async: ms from a worker's notify to the wait's result", settled!.at - notified.at, PROMPT_MS);
    expect(
      after,
      `${label} resolved "ok" ${Math.round(after)} ms after the worker's notify: a woken wait resolves in a few ms. ` +
        `Meanwhile ${plural(settled!.fired, 'callback')} of your timers ran: does it find out about the notify only when it looks again?`,
    ).toBeLessThan(PROMPT_MS);
    expect([...memory], 'the cells after the worker stored 1 in cell 1: your code must leave cells 0 and 2 (7 and 9) alone').toEqual([7, 1, 9]);
  });

  test('sleeps until notified: runs nothing while nothing happens, and any notify wakes it', async () => {
    const memory = sharedInts(3);
    const waiter = await startWaiter(memory);
    const label = 'waitForNotify(cells, 1, 0, 10000)';
    waiter.call({ id: 'wait', fn: 'waitForNotify', index: 1, expected: 0, timeoutMs: 10_000 });
    const { during, early } = await quietCounts(waiter, 'wait', label);
    expect(early === undefined, early).toBe(true);
    const polling = pollingSeen(label, during, 'the cell held 0, the expected value, and nobody notified it');
    expect(polling === undefined, polling).toBe(true);
    // A notify without a change: a wait that sleeps until notified wakes; one that looks for a change does not.
    const woke = Atomics.notify(memory, 1);
    const settled = await waiter.settled('wait', SETTLE_MS);
    expect(
      settled,
      `${label} was still pending ${SETTLE_MS / 1_000} s after the test called Atomics.notify(cells, 1) (which found ${plural(woke, 'waiter')} on cell 1), ` +
        'without changing the cell: a notify wakes the wait, whatever the value. Your code seems to wait for the value to change instead, ' +
        `looking at it again and again; ${waiter.lastWait()}.`,
    ).toBeDefined();
    expect(settled!.value, `${label} ${shown(settled!)} when notified: woken by a notify is "ok", even if the value did not change.`).toBe('ok');
    const fired = settled!.fired;
    expect(
      fired,
      `polling: ${plural(fired, 'callback')} of timers (or setImmediate) your code had set ran from the call to its result, in a wait ended by a notify: ` +
        'a wait that sleeps until it is notified needs none. Register one wait with Atomics.waitAsync and let the notify wake it.',
    ).toBe(0);
  });

  test('resolves "not-equal" at once, as a promise, when the cell does not hold the expected value', async () => {
    const memory = sharedInts(3);
    memory.set([0, 7, 0]);
    const waiter = await startWaiter(memory);
    const label = 'waitForNotify(cells, 1, 5, 2000)';
    waiter.call({ id: 'wait', fn: 'waitForNotify', index: 1, expected: 5, timeoutMs: 2_000 });
    const returned = await waiter.returned('wait', RETURN_MS);
    expect(
      returned,
      `${label} had not returned ${RETURN_MS / 1_000} s after the call: see the test "keeps the event loop of its thread turning while it waits".`,
    ).toBeDefined();
    expect(
      returned!.thenable,
      returned!.threw !== undefined
        ? `${label} threw "${returned!.threw}" instead of returning a promise.`
        : `${label} returned ${returned!.kind === 'string' ? `the string "${returned!.text}"` : `a ${returned!.kind}`}, not a promise. When Atomics.waitAsync knows the answer at once, ` +
            'it says so with { async: false, value: "not-equal" }: there `value` is the string itself, not a promise. Your function must return a promise ' +
            'either way (Promise.resolve(value), or make it async).',
    ).toBe(true);
    const settled = await waiter.settled('wait', SETTLE_MS);
    expect(settled, `${label} was still pending ${SETTLE_MS / 1_000} s after the call, with a timeout of 2000 ms; ${waiter.lastWait()}.`).toBeDefined();
    const compared = waiter.read('lastWaitExpected');
    expect(
      settled!.value,
      `${label} ${shown(settled!)} after ${Math.round(settled!.atMs)} ms; cell 1 held 7, not the expected 5, so there was nothing to wait for: it must resolve "not-equal" at once. ` +
        (waiter.read('lastWaitIndex') === 1 && compared !== 5
          ? `Your wait compared the cell with ${compared}${compared === 7 ? ', the value it held (read again)' : ''}, not with expected: it waited for the next notify instead. Pass expected to the wait, which compares and answers "not-equal" itself.`
          : `${waiter.lastWait()}.`),
    ).toBe('not-equal');
    expect(
      settled!.beforeTurn,
      `${label} resolved "not-equal", but only after the event loop had turned (${Math.round(settled!.atMs)} ms after the call): the value was there to compare at once. ` +
        `Meanwhile ${plural(settled!.fired, 'callback')} of your timers ran. Compare first (Atomics.waitAsync does), and resolve without waiting for a timer.`,
    ).toBe(true);
  });

  test('resolves "timed-out" once timeoutMs have passed with no notify', async () => {
    const memory = sharedInts(3);
    const waiter = await startWaiter(memory);
    const label = 'waitForNotify(cells, 1, 0, 300)';
    waiter.call({ id: 'wait', fn: 'waitForNotify', index: 1, expected: 0, timeoutMs: 300 });
    const settled = await waiter.settled('wait', SETTLE_MS);
    const timeout = waiter.read('lastWaitTimeout');
    expect(
      settled,
      `${label} was still pending ${SETTLE_MS / 1_000} s after the call, with no notify and a timeout of 300 ms; ` +
        `${waiter.lastWait()}${timeout === -1 && waiter.read('lastWaitIndex') !== -2 ? ': a wait with no timeout, so only a notify can end it. Pass timeoutMs on to the wait' : ''}.`,
    ).toBeDefined();
    expect(
      settled!.value,
      `${label} ${shown(settled!)} after ${Math.round(settled!.atMs)} ms with no notify (${waiter.lastWait()}): when the time is up it resolves "timed-out".`,
    ).toBe('timed-out');
    expect(
      measured('wait-async: ms before a 300 ms wait timed out', settled!.atMs, 120, 'min'),
      `${label} resolved "timed-out" ${Math.round(settled!.atMs)} ms after the call, long before its 300 ms were up; ${waiter.lastWait()}. timeoutMs is in milliseconds, as for setTimeout.`,
    ).toBeGreaterThanOrEqual(120);
  });

  test('resolves "timed-out", as a promise, for a timeoutMs of 0 on a cell that holds the expected value', async () => {
    const memory = sharedInts(3);
    const waiter = await startWaiter(memory);
    const label = 'waitForNotify(cells, 1, 0, 0)';
    waiter.call({ id: 'wait', fn: 'waitForNotify', index: 1, expected: 0, timeoutMs: 0 });
    const returned = await waiter.returned('wait', RETURN_MS);
    expect(returned, `${label} had not returned ${RETURN_MS / 1_000} s after the call.`).toBeDefined();
    expect(
      returned!.thenable,
      returned!.threw !== undefined
        ? `${label} threw "${returned!.threw}" instead of returning a promise.`
        : `${label} returned ${returned!.kind === 'string' ? `the string "${returned!.text}"` : `a ${returned!.kind}`}, not a promise. With a timeout of 0, ` +
            'Atomics.waitAsync answers at once too, { async: false, value: "timed-out" }: wrap whatever it answers at once, not only "not-equal".',
    ).toBe(true);
    const settled = await waiter.settled('wait', SETTLE_MS);
    expect(
      settled,
      `${label} was still pending ${SETTLE_MS / 1_000} s after the call; ${waiter.lastWait()}. A timeoutMs of 0 is a timeout like any other: ` +
        'the time is up at once. Only a missing timeoutMs means "as long as it takes".',
    ).toBeDefined();
    expect(
      settled!.value,
      `${label} ${shown(settled!)}, on a cell that held the expected 0: with nothing to wait for but time, and no time, it resolves "timed-out". ` +
        '"not-equal" is only for a cell that does not hold expected.',
    ).toBe('timed-out');
  });

  test('leaves no timer and no waiter behind, whether it was woken or timed out', async () => {
    const memory = sharedInts(3);
    const waiter = await startWaiter(memory);
    // Woken: cell 1, with a long timeout that never comes.
    const woken = 'waitForNotify(cells, 1, 0, 10000)';
    waiter.call({ id: 'woken', fn: 'waitForNotify', index: 1, expected: 0, timeoutMs: 10_000 });
    expect(await waiter.returned('woken', RETURN_MS), `${woken} had not returned ${RETURN_MS / 1_000} s after the call.`).toBeDefined();
    await waiter.counts();
    Atomics.store(memory, 1, 1);
    Atomics.notify(memory, 1);
    const first = await waiter.settled('woken', SETTLE_MS);
    expect(first, `${woken} was still pending ${SETTLE_MS / 1_000} s after the test stored 1 in cell 1 and notified it; ${waiter.lastWait()}.`).toBeDefined();
    const timers = await waiter.pendingTimers();
    expect(
      timers,
      `${woken} ${shown(first!)} when notified, and then ${plural(timers?.length ?? 0, 'timer')} your code had set ${timers?.length === 1 ? 'was' : 'were'} still pending ` +
        `(${(timers ?? []).map((ms) => `${ms} ms`).join(', ')}): a timeout's setTimeout that is never cleared lives on after the wait is over, and keeps a Node.js ` +
        'process alive until it fires. Clear it when the wait ends, or give the timeout to Atomics.waitAsync, which keeps it itself.',
    ).toEqual([]);
    const leftOnOne = Atomics.notify(memory, 1);
    expect(
      leftOnOne,
      `${woken} ${shown(first!)}, and then ${plural(leftOnOne, 'waiter')} of your code ${leftOnOne === 1 ? 'was' : 'were'} still on cell 1.`,
    ).toBe(0);

    // Timed out: cell 2, nobody notifies.
    const timedOut = 'waitForNotify(cells, 2, 0, 300)';
    waiter.call({ id: 'timed-out', fn: 'waitForNotify', index: 2, expected: 0, timeoutMs: 300 });
    const second = await waiter.settled('timed-out', SETTLE_MS);
    expect(second, `${timedOut} was still pending ${SETTLE_MS / 1_000} s after the call, with no notify; ${waiter.lastWait()}.`).toBeDefined();
    expect(second!.value, `${timedOut} ${shown(second!)} with no notify.`).toBe('timed-out');
    const timersAfter = await waiter.pendingTimers();
    expect(
      timersAfter,
      `${timedOut} resolved "timed-out", and then timers your code had set were still pending (${(timersAfter ?? []).map((ms) => `${ms} ms`).join(', ')}).`,
    ).toEqual([]);
    // Atomics.notify says how many waiters it woke: any still there belongs to a wait that is over.
    const left = Atomics.notify(memory, 2);
    expect(
      left,
      `${timedOut} resolved "timed-out", and then ${plural(left, 'waiter')} of your code ${left === 1 ? 'was' : 'were'} still registered on cell 2 (Atomics.notify(cells, 2) ` +
        `woke ${left}; ${waiter.lastWait()}). A wait with no timeout of its own, given up by a timer, stays on the cell's list: the next notify wakes it for nothing, ` +
        'and every such call leaves one more. Give the timeout to Atomics.waitAsync: a wait that times out there is taken off the list.',
    ).toBe(0);
  });

  test('several waits at once, on one cell and on another, each resolve on their own and leave nothing behind', async () => {
    const memory = sharedInts(3);
    const [waiter, notifier] = [new Waiter(memory), new Notifier(memory)];
    await Promise.all([waiter.ready(), notifier.ready()]);
    const timeline = new Timeline();
    // First one wait at a time, each woken, to tell a timer that every wait leaves from one that only waits at once leave.
    const alone: string[] = [];
    for (const lone of [
      { id: 'alone', fn: 'waitForNotify', index: 1, expected: 0, timeoutMs: 10_000, label: 'waitForNotify(cells, 1, 0, 10000)' },
      { id: 'alone-until', fn: 'waitUntil', index: 2, atLeast: 1, timeoutMs: 10_000, label: 'waitUntil(cells, 2, (value) => value >= 1, 10000)' },
    ] as const) {
      waiter.call(lone);
      expect(await waiter.returned(lone.id, RETURN_MS), `${lone.label} had not returned ${RETURN_MS / 1_000} s after the call.`).toBeDefined();
      await waiter.counts();
      await notifier.notify(lone.index, lone.fn === 'waitUntil' ? 1 : undefined);
      expect(
        await waiter.settled(lone.id, SETTLE_MS),
        `${lone.label} was still pending ${SETTLE_MS / 1_000} s after a worker notified its cell; ${waiter.lastWait()}.`,
      ).toBeDefined();
      const left = (await waiter.pendingTimers()) ?? [];
      if (left.length > alone.length) alone.push(`${lone.label} left ${plural(left.length - alone.length, 'timer')}`);
    }
    Atomics.store(memory, 2, 0);
    const calls: Array<Omit<CallRequest, 'op'> & { label: string }> = [
      { id: 'a', fn: 'waitForNotify', index: 1, expected: 0, label: 'waitForNotify(cells, 1, 0)' },
      { id: 'b', fn: 'waitForNotify', index: 1, expected: 0, timeoutMs: 10_000, label: 'waitForNotify(cells, 1, 0, 10000)' },
      { id: 'c', fn: 'waitUntil', index: 1, atLeast: 1, timeoutMs: 10_000, label: 'waitUntil(cells, 1, (value) => value >= 1, 10000)' },
      { id: 'd', fn: 'waitForNotify', index: 2, expected: 0, timeoutMs: 500, label: 'waitForNotify(cells, 2, 0, 500)' },
    ];
    const results: Record<string, unknown> = { a: 'ok', b: 'ok', c: 1, d: 'timed-out' };
    const ends = calls.map((call) => timeline.begin(call.label, { threadId: waiter.threadId }));
    for (const call of calls) waiter.call(call);
    for (const call of calls)
      expect(await waiter.returned(call.id, RETURN_MS), `${call.label} had not returned ${RETURN_MS / 1_000} s after the call.`).toBeDefined();
    await waiter.counts();
    const early = calls.filter((call) => waiter.settledYet(call.id)).map((call) => `${call.label} ${shown(waiter.settledYet(call.id)!)}`);
    expect(early, `Of four waits pending at once, some settled before any notify: ${early.join('; ')}.`).toEqual([]);
    const notified = await notifier.notify(1, 1);
    const settlements = await Promise.all(calls.map((call) => waiter.settled(call.id, SETTLE_MS)));
    for (const [index, settled] of settlements.entries()) if (settled) ends[index]!();
    const outcomes = calls.map((call, index) => `${call.label} ${settlements[index] ? shown(settlements[index]) : 'still pending'}`);
    expect(
      calls.map((call) => waiter.settledYet(call.id)?.value),
      `Four waits were pending at once, three on cell 1 and one on cell 2 (with a 500 ms timeout); a worker stored 1 in cell 1 and notified it ` +
        `(it woke ${plural(notified.woke, 'waiter')}). Each wait must settle on its own: ${outcomes.join('; ')}.`,
    ).toEqual(calls.map((call) => results[call.id]));
    const timers = await waiter.pendingTimers();
    expect(
      timers,
      `Four waits were pending at once, and once all had settled, ${plural(timers?.length ?? 0, 'timer')} your code had set ${timers?.length === 1 ? 'was' : 'were'} still pending ` +
        `(${(timers ?? []).map((ms) => `${ms} ms`).join(', ')}). ` +
        (alone.length === 0
          ? 'Just before, a waitForNotify and a waitUntil, each alone and woken, had left none: it is having several at once that leaves them. What one call sets up belongs to that call alone: ' +
            'in a variable shared by every call (a module-level let), each new wait overwrites the one before, which then can never be cleared.'
          : `Waits alone had left timers too, just before (${alone.join('; ')}): a timer that is never cleared when its wait ends (see the test "leaves no timer and no waiter behind").`),
    ).toEqual([]);
    const left = [Atomics.notify(memory, 1), Atomics.notify(memory, 2)];
    expect(left, 'Waiters of your code still on cells 1 and 2 once every wait had settled').toEqual([0, 0]);
  });
});

describe('waitUntil', () => {
  test('keeps the event loop of its thread turning while it waits', async () => {
    const memory = sharedInts(3);
    const waiter = await startWaiter(memory);
    waiter.call({ id: 'wait', fn: 'waitUntil', index: 1, atLeast: 1 });
    const stopped = await loopStopped(waiter, 'wait', 'waitUntil(cells, 1, (value) => value >= 1)');
    expect(stopped === undefined, stopped).toBe(true);
  });

  test('sleeps between wake-ups: runs nothing while nothing happens, and resolves promptly when notified', async () => {
    const memory = sharedInts(3);
    const waiter = await startWaiter(memory);
    const label = 'waitUntil(cells, 1, (value) => value >= 1, 10000)';
    waiter.call({ id: 'wait', fn: 'waitUntil', index: 1, atLeast: 1, timeoutMs: 10_000 });
    const { before, during, early } = await quietCounts(waiter, 'wait', label);
    expect(early === undefined, early).toBe(true);
    const polling = pollingSeen(label, during, 'it held 0, which the predicate refuses, and nobody notified it');
    expect(polling === undefined, polling).toBe(true);
    const since = performance.now();
    Atomics.store(memory, 1, 1);
    Atomics.notify(memory, 1);
    const settled = await waiter.settled('wait', SETTLE_MS);
    expect(settled, `${label} was still pending ${SETTLE_MS / 1_000} s after the test stored 1 in cell 1 and notified it; ${waiter.lastWait()}.`).toBeDefined();
    expect(settled!.value, `${label} ${shown(settled!)} once cell 1 held 1: it resolves with the value that satisfied the predicate.`).toBe(1);
    const fired = settled!.fired;
    expect(
      fired,
      `polling: ${plural(fired, 'callback')} of timers (or setImmediate) your code had set ran from the call to its result ` +
        `(${plural(before.fired, 'callback')} before the test began to count), in a wait ended by a notify ${Math.round(performance.now() - since)} ms ago: ` +
        'a wait that sleeps until notified needs none.',
    ).toBe(0);
  });

  test('resolves at once with the value when the predicate already accepts it', async () => {
    const memory = sharedInts(3);
    memory.set([0, 5, 0]);
    const waiter = await startWaiter(memory);
    const label = 'waitUntil(cells, 1, (value) => value >= 3, 2000)';
    waiter.call({ id: 'wait', fn: 'waitUntil', index: 1, atLeast: 3, timeoutMs: 2_000 });
    const returned = await waiter.returned('wait', RETURN_MS);
    expect(returned, `${label} had not returned ${RETURN_MS / 1_000} s after the call.`).toBeDefined();
    expect(
      returned!.thenable,
      `${label} returned ${returned!.threw !== undefined ? `nothing: it threw "${returned!.threw}"` : `a ${returned!.kind}`}, not a promise.`,
    ).toBe(true);
    const settled = await waiter.settled('wait', SETTLE_MS);
    expect(
      settled,
      `${label} was still pending ${SETTLE_MS / 1_000} s after the call, with a timeout of 2000 ms, though cell 1 held 5 all along.`,
    ).toBeDefined();
    expect(
      { value: settled!.value, atOnce: settled!.beforeTurn },
      `Cell 1 held 5, which the predicate accepts, before the call; ${label} ${shown(settled!)} ${Math.round(settled!.atMs)} ms after the call` +
        `${settled!.beforeTurn ? '' : ', after the event loop had turned'}. The predicate was called with ${JSON.stringify(settled!.seen)}` +
        `${settled!.seen.length === 0 ? ' (never)' : ''}. Check the value first, and wait only while the predicate refuses it: a notify may never come.`,
    ).toEqual({ value: 5, atOnce: true });
  });

  test('checks again after every wake-up, and waits on while the predicate refuses the value', async () => {
    const memory = sharedInts(3);
    const waiter = await startWaiter(memory);
    const timeline = new Timeline();
    const label = 'waitUntil(cells, 1, (value) => value >= 3, 10000)';
    const endWait = timeline.begin(label, { threadId: waiter.threadId });
    waiter.call({ id: 'wait', fn: 'waitUntil', index: 1, atLeast: 3, timeoutMs: 10_000 });
    expect(await waiter.returned('wait', RETURN_MS), `${label} had not returned ${RETURN_MS / 1_000} s after the call.`).toBeDefined();
    await waiter.counts();
    // Wake-ups the predicate refuses: 1, then 2, then a notify with no change. After each, the
    // test waits until your code is waiting again (a new Atomics.waitAsync) or has settled.
    const steps: Array<[string, number | undefined]> = [
      ['stores 1, notifies', 1],
      ['stores 2, notifies', 2],
      ['notifies, no change', undefined],
    ];
    for (const [what, value] of steps) {
      const armed = waiter.read('waitAsyncs');
      const endStep = timeline.begin(what);
      if (value !== undefined) Atomics.store(memory, 1, value);
      const woke = Atomics.notify(memory, 1);
      await until(() => waiter.read('waitAsyncs') > armed || waiter.settledYet('wait') !== undefined, STALL_MS);
      endStep();
      const early = waiter.settledYet('wait');
      expect(
        early && shown(early),
        early &&
          `${label} ${shown(early)} after the test ${what.replace('stores', 'stored').replace('notifies', 'notified cell 1').replace(', no change', ' without changing it')} ` +
            `(the notify woke ${plural(woke, 'waiter')}), with cell 1 at ${Atomics.load(memory, 1)}, which the predicate refuses. The predicate was called with ` +
            `${JSON.stringify(early.seen)}. A wake-up means only that somebody notified the cell: check the value again after every wake-up, and wait again while ` +
            'the predicate refuses it (a loop, not an if).',
      ).toBeUndefined();
    }
    const endLast = timeline.begin('stores 3, notifies');
    Atomics.store(memory, 1, 3);
    Atomics.notify(memory, 1);
    const settled = await waiter.settled('wait', SETTLE_MS);
    endLast();
    if (settled) endWait();
    expect(settled, `${label} was still pending ${SETTLE_MS / 1_000} s after the test stored 3 in cell 1 and notified it; ${waiter.lastWait()}.`).toBeDefined();
    expect(
      settled!.value,
      `${label} ${shown(settled!)} once cell 1 held 3 (the predicate was called with ${JSON.stringify(settled!.seen)}): resolve with the value the predicate accepted.`,
    ).toBe(3);
  });

  test('times out timeoutMs after the call, however many wake-ups come in between', async () => {
    const memory = sharedInts(3);
    const waiter = await startWaiter(memory);
    const timeline = new Timeline();
    const label = 'waitUntil(cells, 1, (value) => value >= 1000, 500)';
    const endWait = timeline.begin(label, { threadId: waiter.threadId });
    waiter.call({ id: 'wait', fn: 'waitUntil', index: 1, atLeast: 1_000, timeoutMs: 500 });
    const returned = await waiter.returned('wait', RETURN_MS);
    expect(returned, `${label} had not returned ${RETURN_MS / 1_000} s after the call.`).toBeDefined();
    // A value the predicate refuses, every 50 ms, for up to 4 s.
    const endNotes = timeline.begin('a new value every 50 ms, notified');
    let notifies = 0;
    let woke = 0;
    const since = performance.now();
    while (!waiter.settledYet('wait') && performance.now() - since < 4_000) {
      Atomics.add(memory, 1, 1);
      woke += Atomics.notify(memory, 1);
      notifies += 1;
      await sleep(50);
    }
    endNotes();
    const settled = await waiter.settled('wait', SETTLE_MS);
    if (settled) endWait();
    // What the last wait your code began tells: when, and with what timeout.
    const timeout = waiter.read('lastWaitTimeout');
    const began = waiter.read('lastWaitAt') - returned!.calledAt;
    const why =
      timeout >= 450 && began > 600
        ? `Your code's last wait began ${(began / 1_000).toFixed(1)} s after the call, with a timeout of ${timeout} ms: all of timeoutMs again. Each wake-up started the timeout over. `
        : `${waiter.lastWait()}. `;
    const meanwhile = `the test changed cell 1 and notified it ${notifies} times (${woke} of them woke a waiter), to values the predicate refuses`;
    expect(
      settled,
      `${label} was still pending ${((performance.now() - since) / 1_000).toFixed(1)} s after the call, with a timeout of 500 ms; meanwhile ${meanwhile}. ${why}` +
        'timeoutMs counts from the call: keep one deadline, and give each wait only what is left of it.',
    ).toBeDefined();
    expect(settled!.value, `${label} ${shown(settled!)} while every value was refused by the predicate.`).toBe('timed-out');
    expect(
      measured('wait-async: ms before waitUntil(..., 500) timed out, with a notify every 50 ms', settled!.atMs, 2_500),
      `${label} resolved "timed-out" ${Math.round(settled!.atMs)} ms after the call, with a timeout of 500 ms; meanwhile ${meanwhile}. ${why}` +
        'timeoutMs counts from the call, not from the last wake-up: keep one deadline, and give each wait only what is left of it.',
    ).toBeLessThan(2_500);
    expect(
      measured('wait-async: ms before waitUntil(..., 500) timed out (too soon)', settled!.atMs, 200, 'min'),
      `${label} resolved "timed-out" ${Math.round(settled!.atMs)} ms after the call, well before its 500 ms were up.`,
    ).toBeGreaterThanOrEqual(200);
  });

  test('times out at once for a timeoutMs of 0 while the predicate refuses the value', async () => {
    const memory = sharedInts(3);
    const waiter = await startWaiter(memory);
    const label = 'waitUntil(cells, 1, (value) => value >= 1000, 0)';
    waiter.call({ id: 'wait', fn: 'waitUntil', index: 1, atLeast: 1_000, timeoutMs: 0 });
    const settled = await waiter.settled('wait', SETTLE_MS);
    expect(
      settled,
      `${label} was still pending ${SETTLE_MS / 1_000} s after the call, the cell holding 0; ${waiter.lastWait()}. A timeoutMs of 0 leaves no time ` +
        'to wait: the time is up at once. Only a missing timeoutMs means "as long as it takes".',
    ).toBeDefined();
    expect(settled!.value, `${label} ${shown(settled!)} while the cell held 0, which the predicate refuses.`).toBe('timed-out');
  });

  test('misses no change that comes between its check and its wait', async () => {
    const memory = sharedInts(3);
    const waiter = await startWaiter(memory);
    const label = 'waitUntil(cells, 1, (value) => value >= 3, 1500)';
    // The first time the predicate is called (with 0), another thread, played by the test inside it,
    // stores 5 in cell 1 and notifies it, before your code can begin to wait. Nobody notifies again.
    waiter.call({ id: 'wait', fn: 'waitUntil', index: 1, atLeast: 3, timeoutMs: 1_500, changeOnFirstCheck: 5 });
    const settled = await waiter.settled('wait', SETTLE_MS);
    expect(settled, `${label} was still pending ${SETTLE_MS / 1_000} s after the call, with a timeout of 1500 ms; ${waiter.lastWait()}.`).toBeDefined();
    const compared = waiter.read('lastWaitExpected');
    const sawIt = measured('wait-async: ms before waitUntil saw a change made between its check and its wait', settled!.atMs, 750) < 750;
    const setting =
      settled!.seen.length === 0
        ? 'The test was to store 5 in cell 1 (and notify it) the first time your code called the predicate, but it never called it. '
        : 'The first time your code called the predicate (with 0), another thread, played by the test, stored 5 in cell 1 and notified it, before the predicate answered; nobody notified again. ';
    let cause = `${waiter.lastWait()}. `;
    if (settled!.waitsBeforeFirstCheck > 0) {
      cause = `Your code had begun ${plural(settled!.waitsBeforeFirstCheck, 'wait')} before that first call of the predicate: check first, then wait. `;
    } else if (compared === 5 && waiter.read('lastWaitIndex') === 1) {
      cause =
        'lost wake-up: your wait after that check compared the cell with 5, a value read again after the check: it found what it expected, and slept through the change it was waiting for' +
        `${settled!.value === 5 ? ', until its timeout ran out and the value was checked again' : ''}. `;
    }
    expect(
      { value: settled!.value, sawIt },
      `${setting}${label} ${shown(settled!)} ${Math.round(settled!.atMs)} ms after the call (the predicate was called with ${JSON.stringify(settled!.seen)}). ${cause}` +
        'Wait with the very value the predicate refused: if the cell has changed since, the wait answers "not-equal" at once, and you check again.',
    ).toEqual({ value: 5, sawIt: true });
  });

  test('checks a change that came between its check and its wait, too: a refused value is waited through', async () => {
    const memory = sharedInts(3);
    const waiter = await startWaiter(memory);
    const label = 'waitUntil(cells, 1, (value) => value >= 3, 10000)';
    // The first time the predicate is called (with 0), another thread, played by the test inside it,
    // stores 1 in cell 1 and notifies it: a change, but to a value the predicate refuses.
    waiter.call({ id: 'wait', fn: 'waitUntil', index: 1, atLeast: 3, timeoutMs: 10_000, changeOnFirstCheck: 1 });
    expect(await waiter.returned('wait', RETURN_MS), `${label} had not returned ${RETURN_MS / 1_000} s after the call.`).toBeDefined();
    // Until the code waits again (its second Atomics.waitAsync: the first answered "not-equal") or settles.
    await until(() => waiter.read('waitAsyncs') > 1 || waiter.settledYet('wait') !== undefined, STALL_MS);
    const early = waiter.settledYet('wait');
    expect(
      early && shown(early),
      early &&
        `The first time your code called the predicate (with 0), another thread, played by the test, stored 1 in cell 1 and notified it, before the predicate ` +
          `answered; ${label} then ${shown(early)} (the predicate was called with ${JSON.stringify(early.seen)}). 1 is a value the predicate refuses: a wait that ` +
          'answers "not-equal" says only that the cell has changed, not to what. Check the new value too, and wait again while the predicate refuses it.',
    ).toBeUndefined();
    Atomics.store(memory, 1, 4);
    Atomics.notify(memory, 1);
    const settled = await waiter.settled('wait', SETTLE_MS);
    expect(settled, `${label} was still pending ${SETTLE_MS / 1_000} s after the test stored 4 in cell 1 and notified it; ${waiter.lastWait()}.`).toBeDefined();
    expect(settled!.value, `${label} ${shown(settled!)} once cell 1 held 4: resolve with the value the predicate accepted.`).toBe(4);
  });
});
