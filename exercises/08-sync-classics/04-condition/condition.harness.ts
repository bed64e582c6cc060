// The tests' worker: plays one thread that uses the Condition (or the BoundedQueue) under test. It
// reports each step in a message, so the test can tell where it blocks, and the test stops it when
// its time is up. Every call that can block happens here, never on the test's own thread.
import { parentPort, workerData } from 'node:worker_threads';
import { announceThread } from '#kata/inside/announce-thread.ts';
import { realAtomics, spyOnAtomics } from '#kata/inside/atomics-spy.ts';
import { arriveAndWait } from '#kata/inside/start-barrier.ts';
import { targetUrl } from '#kata/inside/target.ts';
import type * as ConditionModule from './condition.ts';
import { CELLS, NOTIFY_CELLS, NOTIFY_ELSEWHERE, PER_PRODUCER_BASE, produced, STOLEN_ROOM } from './control.harness.ts';
import type * as MutexModule from './mutex.ts';
import type * as QueueModule from './queue.ts';

export interface HarnessData {
  role: 'cond-waiter' | 'cond-notifier' | 'sequence' | 'putter' | 'taker' | 'trace' | 'producer' | 'consumer';
  memory: Int32Array;
  /** The test's counters and gates (control.harness.ts). */
  control: Int32Array;
  /** Condition roles: the cells of the mutex and of the condition (0 and 1 unless told). */
  mutexCell?: number;
  condCell?: number;
  /** Notifier: which call it makes. */
  call?: 'notify' | 'notifyAll';
  /** Count this thread's Atomics calls and note when, where and how it sleeps. */
  watch?: boolean;
  /** Waiter: once its wait() has let go of the mutex, it stops until the test opens `go`. */
  holdAfterRelease?: boolean;
  /** Waiter: at its Atomics.wait on the condition's cell, it stops until the notifier has called Atomics.notify (or notify() has returned). */
  holdBeforeSleep?: boolean;
  /**
   * Notifier (or producer): right after its first Atomics.notify (on the condition's cell; for
   * put(), on any cell but the mutex's), it stops until the watched thread has gone to sleep or
   * woken ('until-asleep'), or has woken and gone back to sleep, or returned ('until-asleep-again').
   */
  holdAfterNotify?: 'until-asleep' | 'until-asleep-again';
  /** Notifier: after notify() it keeps the mutex until the test opens `go`. */
  holdMutex?: boolean;
  /** Notifier: calls notify() without taking the mutex (as a thread does that made its change under the mutex and let go of it). */
  withoutMutex?: boolean;
  /**
   * Notifier: right after the first Atomics call of its notify() on the condition's cell that left
   * the cell as it was (a read; Atomics.notify and Atomics.wait aside), it stops until the test
   * opens `go`, and posts 'held' (which call, what it returned).
   */
  holdAfterRead?: boolean;
  /** Notifier: it starts (takes the mutex, notifies) only once the test opens `go`. */
  startOnGo?: boolean;
  /** Count this thread's Atomics.notify calls by cell (CELLS.notifyAt). */
  countNotifies?: boolean;
  /** sequence and trace: a number is put(number), 'take' is take(). */
  ops?: Array<number | 'take'>;
  /** putter: the values it puts, one after another. */
  values?: number[];
  /** taker: how many values it takes. */
  count?: number;
  /** The first time this thread is woken from Atomics.wait while there is a value (taker) or room (putter), another thread played here takes the value (fills the room) before it can. */
  stealAfterWake?: boolean;
  /** Taker: after its first wake-up on another cell than the mutex's, it stops until the test opens `go`. */
  holdAfterWake?: boolean;
  /** producer and consumer: which producer (0, 1, 2, ...), how many values each producer puts, and a count per value (Atomics.add) of the times a consumer took it. */
  index?: number;
  producers?: number;
  perProducer?: number;
  seen?: Int32Array;
  gate?: Int32Array;
  parties?: number;
}

const data = workerData as HarnessData;
const { control, memory } = data;
const post = (type: string, details: object = {}) => parentPort!.postMessage({ type, ...details });
/** Says which call comes next: if it never returns, the test names it. */
const step = (call: string) => post('step', { call });
const cell = (name: keyof typeof CELLS) => CELLS[name];
const bump = (name: keyof typeof CELLS, by = 1) => realAtomics.add(control, cell(name), by);
const read = (name: keyof typeof CELLS) => realAtomics.load(control, cell(name));
const signal = (name: keyof typeof CELLS, value = 1) => {
  realAtomics.store(control, cell(name), value);
  realAtomics.notify(control, cell(name));
};
/** Stops this thread (asleep, a few ms at a time) until `done()` or for at most `ms`. The test stops the worker if it needs to. */
function holdUntil(done: () => boolean, ms: number): void {
  const ends = performance.now() + ms;
  while (!done() && performance.now() < ends) realAtomics.wait(control, cell('go'), read('go'), 2);
}

// Set once the code under test is loaded (the spy goes in before, in case that code keeps a
// reference to an Atomics function).
let mutexCell = data.mutexCell ?? 0;
let condCell = data.condCell ?? 1;
let headCell = -1;
let tailCell = -1;
let slotsCell = -1;
let capacity = 0;
/** While the harness itself (the thief) calls the code under test, the spy only passes calls on. */
let passThrough = false;
/** Set while the call under watch (wait(), notify(), put(), take()) runs. */
let inCall = false;
let releasedInCall = false;
let sleptInCall = false;
/** The condition's cell when notify() began; TAIL when put() began. */
let stateAtStart = 0;
let heldBeforeSleep = false;
let heldAfterNotify = false;
let heldAfterWake = false;
let heldAfterRead = false;
let thief: { take(): number; put(value: number): void } | undefined;
/** trace: the lock's cell as this thread last saw it, and snapshots of the queue taken at the first taking and the first letting go of the lock in a call. */
let lockWas = 0;
let holds = 0;
let atLock: number[] | undefined;
let atUnlock: number[] | undefined;
const ring = () => [realAtomics.load(memory, headCell), realAtomics.load(memory, tailCell), ...memory.subarray(slotsCell)];

function onWait(waitedOn: number, expected: number, proceed: () => unknown): unknown {
  if (data.watch) {
    realAtomics.store(control, cell('lastWaitCell'), waitedOn);
    realAtomics.store(control, cell('lastWaitValue'), expected);
    if (waitedOn !== mutexCell && realAtomics.load(memory, mutexCell) !== 0) bump('sleptHolding');
  }
  if (data.holdBeforeSleep && waitedOn === condCell && !heldBeforeSleep) {
    heldBeforeSleep = true;
    signal('aboutToSleep');
    holdUntil(() => read('notifyDone') === 1 || read('notifierReturned') === 1, 2_000);
  }
  if (data.watch) realAtomics.store(control, cell('lastWaitFound'), waitedOn >= 0 ? realAtomics.load(memory, waitedOn) : 0);
  if (inCall) sleptInCall = true;
  if (data.watch) bump('parked');
  let woken: unknown;
  try {
    woken = proceed();
  } finally {
    if (data.watch) bump('parked', -1);
  }
  if (data.watch) {
    bump('wakes');
    realAtomics.notify(control, cell('wakes'));
    if (woken === 'timed-out') bump('timedOut');
  }
  if (woken === 'ok' && waitedOn >= 0) {
    // Woken on the condition, or on the mutex's cell while taking the lock back: either way the
    // thread has not looked at the queue yet, and another thread may get there first.
    if (data.stealAfterWake && read('stolen') === 0) steal();
    // Held only after a wake-up on the condition (a wait on the mutex's cell is only for the lock).
    if (data.holdAfterWake && !heldAfterWake && waitedOn !== mutexCell) {
      heldAfterWake = true;
      holdUntil(() => read('go') === 1, 2_000);
    }
  }
  return woken;
}

/** Another consumer (producer), played in this thread, takes the value (fills the room) that woke it. */
function steal(): void {
  const size = realAtomics.load(memory, tailCell) - realAtomics.load(memory, headCell);
  const there = data.role === 'taker' ? size > 0 : size < capacity;
  if (!there) return;
  passThrough = true;
  try {
    if (data.role === 'taker') realAtomics.store(control, cell('stolenValue'), thief!.take());
    else thief!.put(STOLEN_ROOM);
  } finally {
    passThrough = false;
  }
  signal('stolen');
}

function onNotify(notified: number, count: unknown, proceed: () => unknown): unknown {
  if (data.countNotifies) {
    if (notified >= 0 && notified < NOTIFY_CELLS) realAtomics.add(control, CELLS.notifyAt + notified, 1);
    else realAtomics.add(control, NOTIFY_ELSEWHERE, 1);
  }
  // Which notifies are watched: the condition's cell for a notifier; for put(), any cell of the
  // queue but the mutex's (the mutex's unlock() notifies its own cell, which is no wake-up of a taker).
  const watched = data.role === 'cond-notifier' ? notified === condCell : data.role === 'putter' && inCall && notified >= 0 && notified !== mutexCell;
  if (data.role === 'cond-notifier' && notified !== condCell && notified !== mutexCell) bump('notifiesElsewhere');
  if (!watched) return proceed();
  bump('notifies');
  // Before the change: the condition's cell unchanged since notify() began; for put(), TAIL not yet
  // moved while the mutex is free (under the mutex, a woken taker cannot look before the value is in).
  if (data.role === 'putter') {
    if (realAtomics.load(memory, tailCell) === stateAtStart && realAtomics.load(memory, mutexCell) === 0) bump('notifiesBeforeChange');
  } else if (realAtomics.load(memory, condCell) === stateAtStart) bump('notifiesBeforeChange');
  const asked = count === undefined || count === Infinity ? -1 : Number(count);
  const most = read('askedToWake');
  if (most !== -1 && (asked === -1 || asked > most)) realAtomics.store(control, cell('askedToWake'), asked);
  const wakesBefore = read('wakes');
  const returnedBefore = read('returned');
  const woken = proceed();
  bump('woken', Number(woken));
  if (data.holdAfterNotify && !heldAfterNotify) {
    heldAfterNotify = true;
    signal('notifyDone');
    if (data.holdAfterNotify === 'until-asleep') holdUntil(() => read('parked') > 0 || read('wakes') > wakesBefore, 1_000);
    else holdUntil(() => (read('wakes') > wakesBefore && read('parked') > 0) || read('returned') > returnedBefore, 1_000);
  }
  return woken;
}

/** After any other Atomics call: is it the lock being taken or let go? */
function afterCall(name: string, touched: number): void {
  if (touched === mutexCell) {
    const now = realAtomics.load(memory, mutexCell);
    if (data.role === 'trace' && inCall) {
      if (lockWas === 0 && now !== 0) {
        holds += 1;
        atLock ??= ring();
      }
      if (lockWas !== 0 && now === 0) atUnlock ??= ring();
    }
    lockWas = now;
    if (data.role === 'cond-waiter' && inCall && !releasedInCall && now === 0) {
      releasedInCall = true;
      signal('released');
      // The test always opens `go`; the bound only keeps a worker from waiting forever if a test failed first.
      if (data.holdAfterRelease) holdUntil(() => read('go') === 1, 10_000);
    }
  } else if (touched === condCell && data.role === 'cond-waiter' && releasedInCall && !sleptInCall && name !== 'notify') {
    bump('readAfterRelease');
  }
}

const spying = data.role !== 'producer' && data.role !== 'consumer';
if (spying) {
  spyOnAtomics((name, args, proceed) => {
    if (passThrough) return proceed();
    if (data.watch) bump('calls');
    const [array, index] = args as [unknown, number];
    const touched = array === memory ? Number(index) : -1;
    if (name === 'wait') return onWait(touched, Number(args[2]), proceed);
    if (name === 'notify') return onNotify(touched, args[2], proceed);
    // A notifier's read of the condition's cell, to be held right after (holdAfterRead).
    const watchRead = data.holdAfterRead === true && inCall && !heldAfterRead && touched === condCell;
    const before = watchRead ? realAtomics.load(memory, condCell) : 0;
    const result = proceed();
    if (touched >= 0) afterCall(name, touched);
    if (watchRead && realAtomics.load(memory, condCell) === before) {
      heldAfterRead = true;
      post('held', { call: name, value: Number(result) });
      holdUntil(() => read('go') === 1, 10_000);
    }
    return result;
  });
}

// No top-level await (CONTRIBUTING, rule 8: Node crashes if a test stops a worker as its async module starts).
async function main(): Promise<void> {
  const { Mutex } = (await import(targetUrl(import.meta.url, './mutex.ts').href)) as typeof MutexModule;
  const { Condition } = (await import(targetUrl(import.meta.url, './condition.ts').href)) as typeof ConditionModule;
  const { BoundedQueue, HEAD, LOCK, SLOTS, TAIL } = (await import(targetUrl(import.meta.url, './queue.ts').href)) as typeof QueueModule;

  const isQueueRole = !data.role.startsWith('cond-');
  if (isQueueRole) {
    mutexCell = LOCK;
    condCell = -1;
    headCell = HEAD;
    tailCell = TAIL;
    slotsCell = SLOTS;
    capacity = memory.length - SLOTS;
  }

  /** Tells the test that a call of the code under test has returned (the workers watch this too). */
  function returned(): void {
    bump('returned');
    realAtomics.notify(control, cell('returned'));
  }

  // Loaded: tells the test (which waits for this before it times anything) and names the OS thread.
  if (spying) announceThread();

  switch (data.role) {
    case 'cond-waiter': {
      const mutex = new Mutex(memory, mutexCell);
      const condition = new Condition(memory, condCell);
      step('lock()');
      mutex.lock();
      post('locked');
      step('wait(mutex)');
      inCall = true;
      condition.wait(mutex);
      inCall = false;
      // Does this thread hold the mutex now? Nobody else can have it while the test's notifier keeps it free.
      const holding = realAtomics.load(memory, mutexCell) !== 0;
      returned();
      post('returned', { holding });
      step('unlock()');
      mutex.unlock();
      post('done');
      break;
    }

    case 'cond-notifier': {
      const mutex = new Mutex(memory, mutexCell);
      const condition = new Condition(memory, condCell);
      // The test opens `go` once the other threads are where it wants them (or stops this worker).
      if (data.startOnGo) holdUntil(() => read('go') === 1, 60_000);
      if (!data.withoutMutex) {
        step('lock()');
        mutex.lock();
        post('locked');
      }
      const call = data.call ?? 'notify';
      step(`${call}()`);
      stateAtStart = realAtomics.load(memory, condCell);
      inCall = true;
      condition[call]();
      inCall = false;
      signal('notifierReturned');
      post('notified');
      if (data.holdMutex) holdUntil(() => read('go') === 1, 10_000);
      if (!data.withoutMutex) {
        step('unlock()');
        mutex.unlock();
      }
      post('done');
      break;
    }

    case 'sequence': {
      const queue = new BoundedQueue(memory);
      const taken: number[] = [];
      for (const op of data.ops ?? []) {
        step(op === 'take' ? 'take()' : `put(${op})`);
        if (op === 'take') taken.push(queue.take());
        else queue.put(op);
      }
      post('done', { taken });
      break;
    }

    case 'trace': {
      // One thread, a queue that is neither full nor empty when it matters: no call waits. Does each
      // call change the queue only between its first taking and its first letting go of the lock?
      const queue = new BoundedQueue(memory);
      const calls: object[] = [];
      for (const op of data.ops ?? []) {
        const call = op === 'take' ? 'take()' : `put(${op})`;
        step(call);
        const before = ring();
        lockWas = realAtomics.load(memory, mutexCell);
        holds = 0;
        atLock = undefined;
        atUnlock = undefined;
        inCall = true;
        if (op === 'take') queue.take();
        else queue.put(op);
        inCall = false;
        const after = ring();
        calls.push({ call, before, atLock, atUnlock, after, holds, lockAfter: realAtomics.load(memory, mutexCell) });
      }
      post('done', { calls });
      break;
    }

    case 'putter': {
      const queue = new BoundedQueue(memory);
      if (data.stealAfterWake) thief = new BoundedQueue(memory);
      for (const value of data.values ?? []) {
        step(`put(${value})`);
        stateAtStart = realAtomics.load(memory, tailCell);
        inCall = true;
        queue.put(value);
        inCall = false;
        returned();
        post('put', { value });
      }
      signal('notifierReturned');
      post('done');
      break;
    }

    case 'taker': {
      const queue = new BoundedQueue(memory);
      if (data.stealAfterWake) thief = new BoundedQueue(memory);
      const values: number[] = [];
      for (let taken = 0; taken < (data.count ?? 1); taken += 1) {
        step('take()');
        inCall = true;
        const value = queue.take();
        inCall = false;
        values.push(value);
        returned();
        post('took', { value });
      }
      post('done', { values });
      break;
    }

    case 'producer': {
      const queue = new BoundedQueue(memory);
      const producer = data.index!;
      arriveAndWait(data.gate!, data.parties!);
      post('started');
      for (let i = 1; i <= data.perProducer!; i += 1) {
        queue.put(produced(producer, i));
        realAtomics.add(control, CELLS.produced, 1);
      }
      post('done');
      break;
    }

    case 'consumer': {
      const queue = new BoundedQueue(memory);
      const { perProducer, producers, seen } = data as Required<HarnessData>;
      // The last value seen from each producer: a queue is first in, first out, so from any one
      // producer a consumer must see values in the order that producer put them.
      const last = new Array<number>(producers).fill(0);
      arriveAndWait(data.gate!, data.parties!);
      post('started');
      for (let taken = 0; taken < perProducer; taken += 1) {
        const value = queue.take();
        const producer = Math.floor(value / PER_PRODUCER_BASE);
        const i = value % PER_PRODUCER_BASE;
        if (!Number.isInteger(value) || producer < 0 || producer >= producers || i < 1 || i > perProducer) {
          realAtomics.add(control, CELLS.garbage, 1);
          continue;
        }
        realAtomics.add(seen, producer * perProducer + i - 1, 1);
        if (i <= last[producer]!) realAtomics.add(control, CELLS.outOfOrder, 1);
        last[producer] = i;
      }
      post('done');
      break;
    }
  }
}

void main();
