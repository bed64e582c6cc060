import { afterEach, describe, expect, test } from 'vitest';
import { HarnessWorker, lookAtThread, runTogether } from '#kata/testing/harness-worker.ts';
import { measured, until as pollUntil, sleep, Timeline } from '#kata/testing/index.ts';
import type { HarnessData } from './condition.harness.ts';
import { CELLS, createControl, NEVER_WAITED, NOTIFY_CELLS, NOTIFY_ELSEWHERE, produced, STOLEN_ROOM } from './control.harness.ts';
import { createQueue, HEAD, LOCK, NOT_EMPTY, NOT_FULL, SLOTS, TAIL } from './queue.ts';

// Every call into your Condition and your queue runs in a worker (condition.harness.ts): a wait
// that never returns must not freeze the test's own thread, and a worker can be stopped.
const harness = new URL('./condition.harness.ts', import.meta.url);
const sharedInts = (length: number) => new Int32Array(new SharedArrayBuffer(length * Int32Array.BYTES_PER_ELEMENT));
const n = (value: number) => value.toLocaleString('en-US');
const plural = (count: number, what: string) => `${n(count)} ${what}${count === 1 ? '' : 's'}`;
const at = (control: Int32Array, name: keyof typeof CELLS) => Atomics.load(control, CELLS[name]);
function open(control: Int32Array, name: keyof typeof CELLS): void {
  Atomics.store(control, CELLS[name], 1);
  Atomics.notify(control, CELLS[name]);
}

const started: HarnessWorker[] = [];
const failures: Error[] = [];
function start(role: HarnessData['role'], data: Omit<HarnessData, 'role'>): HarnessWorker {
  const worker = new HarnessWorker(harness, { role, ...data });
  worker.worker.on('error', (error) => failures.push(error));
  started.push(worker);
  return worker;
}
/** Starts a harness worker and waits until it has loaded the code under test (start-up takes seconds on a busy machine; no deadline after this one counts it). */
async function begin(role: HarnessData['role'], data: Omit<HarnessData, 'role'>): Promise<HarnessWorker> {
  const worker = start(role, data);
  await worker.message('thread', 10_000, `A worker of this test (${role}) did not start within 10 s`);
  return worker;
}
afterEach(async () => {
  await Promise.all(started.splice(0).map((worker) => worker.terminate()));
  failures.length = 0;
});

/**
 * Polls `condition` every few ms, for at most `ms`; true if it came true. A worker's error (a
 * stub's "Not implemented yet" among them) is thrown as soon as it comes.
 */
function until(condition: () => boolean, ms: number): Promise<boolean> {
  return pollUntil(condition, ms, {
    check: () => {
      if (failures[0]) throw failures[0];
    },
  });
}

const lastStep = (worker: HarnessWorker) => String(worker.received.filter((message) => message.type === 'step').at(-1)?.call ?? 'its first call');
const count = (worker: HarnessWorker, type: string) => worker.received.filter((message) => message.type === type).length;

/** Waits up to `ms` for the worker's `done`; if it does not come, fails naming the call the worker is stuck in. */
async function finish(worker: HarnessWorker, ms: number, stuck: (call: string) => string) {
  const done = await worker.maybeMessage('done', ms);
  if (done) return done;
  throw new Error(`${stuck(lastStep(worker))} (gave up after ${ms} ms)`);
}

/** The Atomics.notify calls of the workers asked to count them, by cell: "cell 2 (NOT_FULL) 1 time, ...". */
function notifiedCells(control: Int32Array, name: (cell: number) => string, skip: number[] = []): string {
  const parts: string[] = [];
  for (let cell = 0; cell < NOTIFY_CELLS; cell += 1) {
    const times = Atomics.load(control, CELLS.notifyAt + cell);
    if (times > 0 && !skip.includes(cell)) parts.push(`${name(cell)} ${plural(times, 'time')}`);
  }
  const elsewhere = Atomics.load(control, NOTIFY_ELSEWHERE);
  if (elsewhere > 0) parts.push(`other arrays or cells ${plural(elsewhere, 'time')}`);
  return parts.length === 0 ? 'no cell at all' : parts.join(', ');
}

// ---------------------------------------------------------------------------------------------
// Condition: threads in wait(), and one that notifies.

interface Scene {
  memory: Int32Array;
  control: Int32Array;
  timeline: Timeline;
  mutexCell: number;
  condCell: number;
  waiters: HarnessWorker[];
}

const condCellName = (scene: Scene) => (cell: number) =>
  cell === scene.condCell ? `the condition's cell ${cell}` : cell === scene.mutexCell ? `the mutex's cell ${cell}` : `cell ${cell}`;

/**
 * Starts `threads` waiters one after another: each takes the mutex and calls wait(mutex). Resolves
 * once each is asleep in Atomics.wait (or has returned, or has reached the point its options hold it
 * at, or has had 2 s to get there).
 */
async function waitersIn(threads: number, options: Partial<HarnessData> & { primed?: boolean } = {}): Promise<Scene> {
  const memory = options.memory ?? sharedInts(2);
  const control = createControl();
  const timeline = new Timeline();
  const mutexCell = options.mutexCell ?? 0;
  const condCell = options.condCell ?? 1;
  if (options.primed) {
    // One notify() with nobody waiting first (its counts kept apart), so the condition is no longer
    // new: a notify that only sets a flag changes the cell the first time and never again.
    const first = await begin('cond-notifier', { memory, control: createControl(), mutexCell, condCell });
    await finish(first, 5_000, (call) => `A notify() with nobody waiting never got through: it is stuck in ${call}`);
  }
  const waiters: HarnessWorker[] = [];
  for (let index = 0; index < threads; index += 1) {
    const waiter = await begin('cond-waiter', { ...options, memory, control, mutexCell, condCell, watch: true });
    waiters.push(waiter);
    await waiter.message(
      'locked',
      5_000,
      index === 0
        ? "A waiting thread's lock() on a free mutex never returned"
        : `Waiting thread ${index + 1}'s lock() never returned: thread ${index} took the mutex and called wait(mutex), which must let go of it`,
    );
    const end = timeline.begin(`in wait() (${index + 1})`, { threadId: waiter.threadId });
    waiter.worker.once('exit', () => end());
    waiter.worker.on('message', (message: { type: string }) => message.type === 'returned' && end());
    await until(
      () =>
        at(control, 'parked') > index ||
        at(control, 'returned') > 0 ||
        (options.holdAfterRelease === true && at(control, 'released') === 1) ||
        (options.holdBeforeSleep === true && at(control, 'aboutToSleep') === 1),
      2_000,
    );
  }
  return { memory, control, timeline, mutexCell, condCell, waiters };
}

/** A thread that takes the mutex, calls notify() (or notifyAll()), and lets go; resolves when it has. */
async function notifier(scene: Scene, data: Partial<HarnessData> = {}): Promise<HarnessWorker> {
  const call = data.call ?? 'notify';
  const worker = await begin('cond-notifier', {
    memory: scene.memory,
    control: scene.control,
    mutexCell: scene.mutexCell,
    condCell: scene.condCell,
    countNotifies: true,
    ...data,
  });
  const end = scene.timeline.begin(`lock, ${call}(), unlock`, { threadId: worker.threadId });
  if (data.holdMutex) {
    await finishStep(worker, scene, 'notified', call);
  } else {
    await finishStep(worker, scene, 'done', call);
    end();
  }
  return worker;
}

async function finishStep(worker: HarnessWorker, scene: Scene, type: string, call: string): Promise<void> {
  const message = await worker.maybeMessage(type, 5_000);
  if (message) return;
  const step = lastStep(worker);
  const mutex = Atomics.load(scene.memory, scene.mutexCell);
  throw new Error(
    `The notifying thread never got through lock(), ${call}(), unlock(): it is stuck in ${step} (gave up after 5000 ms). ` +
      (step === 'lock()' && mutex !== 0
        ? `The mutex's cell ${scene.mutexCell} still reads ${mutex} (taken), and the only other thread is in wait(): wait(mutex) must let go of the mutex while it waits.`
        : `The mutex's cell ${scene.mutexCell} reads ${mutex}.`) +
      `\n${scene.timeline.toText()}\n`,
  );
}

/**
 * Why a thread is still in wait() after notify(), from what the harness saw: whether it sleeps,
 * on which cell and expecting which value, and what the notifier notified. It names a cause only
 * where those observations show one.
 */
function stillWaiting(scene: Scene): string {
  const { control, memory, mutexCell, condCell } = scene;
  const asleep = at(control, 'parked') > 0;
  const waitCell = at(control, 'lastWaitCell');
  const waitValue = at(control, 'lastWaitValue');
  const notifies = at(control, 'notifies');
  const now = Atomics.load(memory, condCell);
  const elsewhere = notifiedCells(control, condCellName(scene), [condCell, mutexCell]);
  const notified = `notify() called Atomics.notify on the condition's cell ${plural(notifies, 'time')}${elsewhere === 'no cell at all' ? '' : ` (and on ${elsewhere})`}`;
  if (!asleep) {
    return `It was not asleep in Atomics.wait${waitCell === NEVER_WAITED ? ' (it never called it)' : ''}: wait() is still running, with the condition's cell at ${now}.`;
  }
  if (waitCell === mutexCell) {
    const mutex = Atomics.load(memory, mutexCell);
    return `It is asleep on the mutex's cell ${mutexCell}, taking the mutex again, and that cell reads ${mutex}${mutex === 0 ? ' (free): nobody woke it when the mutex was let go' : ' (taken)'}.`;
  }
  if (waitCell === -1)
    return `It is asleep in Atomics.wait on another array than the shared memory, where no notify() on the condition's cell can wake it. ${notified}.`;
  if (waitCell !== condCell) {
    return `It is asleep in Atomics.wait on cell ${waitCell}, but the condition is cell ${condCell}; ${notified}. Atomics.notify wakes only the threads asleep on the cell it names: wait on the condition's own cell, index.`;
  }
  if (notifies === 0) {
    return (
      `It is asleep on the condition's cell ${condCell}, and notify() never called Atomics.notify on that cell${elsewhere === 'no cell at all' ? '' : ` (it notified ${elsewhere})`}. ` +
      "A thread asleep in Atomics.wait wakes only when notified: notify() must call Atomics.notify on the condition's cell."
    );
  }
  return `It is asleep in Atomics.wait(cells, ${condCell}, ${waitValue}) with the cell at ${now}, and ${notified}, all before that sleep began (a notify during it would have woken it).`;
}

describe('Condition', () => {
  test('wait() lets go of the mutex while it sleeps', async () => {
    const scene = await waitersIn(1);
    const { control, memory } = scene;
    const asleep = at(control, 'parked') > 0;
    const mutex = Atomics.load(memory, scene.mutexCell);
    const waitCell = at(control, 'lastWaitCell');
    expect(
      asleep && mutex !== 0,
      `wait() went to sleep (in Atomics.wait on ${condCellName(scene)(waitCell)}) with the mutex's cell ${scene.mutexCell} still at ${mutex} (taken), ` +
        'and no other thread had touched the mutex: it sleeps holding the mutex. The thread that would change the state and call notify() ' +
        'has to take that mutex first, so it waits forever, and so does every other thread that needs it. wait(mutex) lets go of the mutex ' +
        'before it sleeps, and takes it again after.\n' +
        `${scene.timeline.toText()}\n`,
    ).toBe(false);
    await notifier(scene);
    const through = await scene.waiters[0]!.maybeMessage('returned', 3_000);
    expect(
      through,
      `wake-up: the thread in wait() was still there 3 s after another thread took the mutex, called notify() and let go. ${stillWaiting(scene)}\n${scene.timeline.toText()}\n`,
    ).toBeDefined();
  });

  test('a thread in wait() sleeps instead of spinning', async () => {
    const scene = await waitersIn(1);
    const { control } = scene;
    const waiter = scene.waiters[0]!;
    const calls = at(control, 'calls');
    const cpu = await waiter.cpuTimeMs();
    const since = performance.now();
    const [early, looks] = await Promise.all([waiter.maybeMessage('returned', 500), lookAtThread(waiter.find('thread')?.proc, 500)]);
    const watched = performance.now() - since;
    const callsMade = at(control, 'calls') - calls;
    const cpuAfter = await waiter.cpuTimeMs();
    const cpuShare = cpu === undefined || cpuAfter === undefined ? undefined : (cpuAfter - cpu) / watched;
    expect(
      early,
      'wait() returned although no thread had called notify() or notifyAll(). wait() sleeps until it is notified; a wait() that returns at once ' +
        "turns the caller's `while` loop into a loop that spins on the mutex.\n" +
        `${scene.timeline.toText()}\n`,
    ).toBeUndefined();
    // A thread asleep in Atomics.wait makes no calls and is never found ready to run; a spinning
    // one makes millions of calls a second (unless it spins on plain reads) and is always found so.
    const callsPerMs = measured('condition: Atomics calls per ms of a thread in wait()', callsMade / watched, 5);
    const runnable =
      looks && looks.looks > 0 ? measured('condition: share of looks finding a thread in wait() ready to run', looks.runnable / looks.looks, 0.5) : undefined;
    const spinning = callsPerMs >= 5 || (runnable === undefined ? (cpuShare ?? 0) >= 0.05 : runnable >= 0.5);
    expect(
      !spinning,
      `busy waiting: for ${Math.round(watched)} ms in wait(), with nobody notifying, the thread made ${n(callsMade)} Atomics calls` +
        (looks ? `, was found running or ready to run in ${looks.runnable} of ${looks.looks} looks` : '') +
        (cpuShare === undefined ? '' : ` and used ${Math.round(cpuShare * 100)}% of a CPU`) +
        ". A loop that keeps reading the condition's cell burns a core doing nothing. Sleep instead: Atomics.wait(cells, index, valueYouRead) " +
        'returns when notify() changes the cell and notifies it (or at once if the cell has changed already).\n' +
        `${scene.timeline.toText()}\n`,
    ).toBe(true);
    await notifier(scene);
    const through = await waiter.maybeMessage('returned', 3_000);
    expect(through, `wake-up: the thread in wait() was still there 3 s after notify(). ${stillWaiting(scene)}\n${scene.timeline.toText()}\n`).toBeDefined();
  });

  test('notify() wakes a thread asleep in wait()', async () => {
    const scene = await waitersIn(1);
    const { control } = scene;
    expect(
      at(control, 'parked') > 0,
      `The thread in wait() did not go to sleep in Atomics.wait within 2 s (${plural(at(control, 'calls'), 'Atomics call')} so far), so there was no sleeper ` +
        "for notify() to wake and this test can see nothing of it. wait() sleeps in Atomics.wait on the condition's cell.\n" +
        `${scene.timeline.toText()}\n`,
    ).toBe(true);
    // Asleep a little longer: a wait() that polls with a timed Atomics.wait times out meanwhile.
    await sleep(100);
    await notifier(scene);
    const through = await scene.waiters[0]!.maybeMessage('returned', 3_000);
    expect(
      through,
      `wake-up: the thread was asleep in wait() when another thread took the mutex, called notify() and let go, and 3 s later it was still in wait(). ` +
        `${stillWaiting(scene)}\n${scene.timeline.toText()}\n`,
    ).toBeDefined();
    const timedOut = at(control, 'timedOut');
    expect(
      timedOut,
      `wake-up: the thread returned from wait(), but it was not notify() that woke it: ${plural(timedOut, 'Atomics.wait call')} in its wait() returned 'timed-out'. ` +
        'wait() sleeps with a timeout and looks again each time it runs out: polling. Sleep without a timeout, and let notify() wake the sleeper.\n' +
        `${scene.timeline.toText()}\n`,
    ).toBe(0);
  });

  test('wait() returns holding the mutex, once the notifier has let go of it', async () => {
    const scene = await waitersIn(1);
    const { control, memory } = scene;
    const waiter = scene.waiters[0]!;
    // The notifier calls notify() and keeps the mutex: the woken thread must wait for it.
    const holder = await notifier(scene, { holdMutex: true });
    const endHold = scene.timeline.begin('keeps the mutex', { threadId: holder.threadId });
    await until(
      () => waiter.find('returned') !== undefined || (at(control, 'wakes') > 0 && at(control, 'parked') > 0 && at(control, 'lastWaitCell') === scene.mutexCell),
      2_000,
    );
    const early = waiter.find('returned');
    expect(
      early,
      'wait() returned while the notifying thread still held the mutex: it did not take the mutex again before returning. ' +
        'The caller goes on to read and change the state it waited for, with another thread inside the same critical section. ' +
        'After waking, wait(mutex) takes the mutex (mutex.lock()), which waits until the notifier lets go.\n' +
        `${scene.timeline.toText()}\n`,
    ).toBeUndefined();
    open(control, 'go');
    await holder.message('done', 5_000, "The notifying thread's unlock() never returned");
    endHold();
    const through = await waiter.maybeMessage('returned', 3_000);
    expect(
      through,
      `wake-up: the thread in wait() was still there 3 s after the notifier had let go of the mutex. ${stillWaiting(scene)}\n${scene.timeline.toText()}\n`,
    ).toBeDefined();
    expect(
      through!.holding,
      `wait() returned with the mutex's cell ${scene.mutexCell} at ${Atomics.load(memory, scene.mutexCell)} (free): it did not take the mutex again. ` +
        'The caller of wait() holds the mutex before the call and after it.',
    ).toBe(true);
  });

  test('a notify() between wait() letting go of the mutex and falling asleep is not lost', async () => {
    // The waiter is held right after its wait() lets go of the mutex, before it sleeps.
    const scene = await waitersIn(1, { holdAfterRelease: true, primed: true });
    const { control } = scene;
    expect(
      at(control, 'released'),
      `wait(mutex) never let go of the mutex (its cell ${scene.mutexCell} still reads ${Atomics.load(scene.memory, scene.mutexCell)}), so this test could not play a notify() ` +
        'in the moment between letting go and sleeping. wait() lets go of the mutex, then sleeps.\n' +
        `${scene.timeline.toText()}\n`,
    ).toBe(1);
    // In that moment, another thread takes the mutex, calls notify() and lets go.
    await notifier(scene);
    open(control, 'go');
    const through = await scene.waiters[0]!.maybeMessage('returned', 3_000);
    const readLate = at(control, 'readAfterRelease') > 0;
    expect(
      through,
      (readLate &&
      at(control, 'parked') > 0 &&
      at(control, 'lastWaitCell') === scene.condCell &&
      at(control, 'lastWaitValue') === Atomics.load(scene.memory, scene.condCell)
        ? `wait() let go of the mutex and only then read the condition's cell (${plural(at(control, 'readAfterRelease'), 'Atomics call')} on it after the unlock). ` +
          'In between, this test played a thread that took the mutex, called notify() and let go; wait() then read the cell as that notify() had ' +
          `left it (${at(control, 'lastWaitValue')}), went to sleep waiting for it to change, and is still asleep: the notify it was waiting for had ` +
          'already happened. Read the cell while you still hold the mutex: then any notify() after the unlock changes it, and Atomics.wait ' +
          'returns at once ("not-equal").'
        : at(control, 'notifiesBeforeChange') > 0 &&
            at(control, 'lastWaitCell') === scene.condCell &&
            at(control, 'lastWaitValue') === Atomics.load(scene.memory, scene.condCell)
          ? `A notify() came after wait() had let go of the mutex and before it slept, and left the cell at ${at(control, 'lastWaitValue')}, the value wait() had read ` +
            '(this condition had been notified once before). wait() then slept in Atomics.wait on that value, and is still asleep: ' +
            'to a thread about to sleep, a notify that does not change the cell is no notify at all. Let every notify change the cell: a counter that goes up.'
          : `A notify() came after wait() had let go of the mutex and before it slept, and 3 s later the thread was still in wait(). ${stillWaiting(scene)}`) +
        `\n${scene.timeline.toText()}\n`,
    ).toBeDefined();
  });

  test('a notify() between wait() letting go of the mutex and falling asleep is not lost while an earlier notify() is still under way', {
    timeout: 30_000,
  }, async () => {
    const memory = sharedInts(2);
    const mutexCell = 0;
    const condCell = 1;
    // The first notify() is made without the mutex (as by a thread that made its change under the
    // mutex and let go of it), and held right after it reads the cell; the last one waits for the
    // test's word. Each has a control of its own, so each is let go on by itself.
    const earlyControl = createControl();
    const lastControl = createControl();
    const [early, last] = await Promise.all([
      begin('cond-notifier', { memory, control: earlyControl, mutexCell, condCell, withoutMutex: true, holdAfterRead: true }),
      begin('cond-notifier', { memory, control: lastControl, mutexCell, condCell, startOnGo: true }),
    ]);
    await until(() => early.find('held') !== undefined || early.find('done') !== undefined, 5_000);
    const held = early.find('held');
    expect(
      held ?? early.find('done'),
      `A notify() made without holding the mutex, on a condition nobody waits in, did not return within 5 s: it is stuck in ${lastStep(early)}.`,
    ).toBeDefined();
    // Meanwhile, two more notify() calls, each under the mutex; then a thread calls wait(), held
    // right after it lets go of the mutex.
    for (const index of [2, 3]) {
      const other = await begin('cond-notifier', { memory, control: createControl(), mutexCell, condCell });
      await finish(
        other,
        5_000,
        (call) => `notify() number ${index}, with nobody waiting, never got through lock(), notify(), unlock(): it is stuck in ${call}`,
      );
    }
    const scene = await waitersIn(1, { memory, mutexCell, condCell, holdAfterRelease: true });
    const { control } = scene;
    expect(
      at(control, 'released'),
      `wait(mutex) never let go of the mutex (its cell ${mutexCell} still reads ${Atomics.load(memory, mutexCell)}), so this test could not play a notify() ` +
        'in the moment between letting go and sleeping. wait() lets go of the mutex, then sleeps.\n' +
        `${scene.timeline.toText()}\n`,
    ).toBe(1);
    // The first notify() goes on and returns; then, with wait() still between letting go of the
    // mutex and falling asleep, the last notify() takes the mutex, notifies and lets go.
    const cellBefore = Atomics.load(memory, condCell);
    open(earlyControl, 'go');
    await finish(early, 5_000, (call) => `The notify() made without the mutex, let go on, never returned: it is stuck in ${call}`);
    const cellAfterEarly = Atomics.load(memory, condCell);
    const endLast = scene.timeline.begin('lock, notify(), unlock (the last)', { threadId: last.threadId });
    open(lastControl, 'go');
    await finish(last, 5_000, (call) => `The last notify() never got through lock(), notify(), unlock(): it is stuck in ${call}`);
    endLast();
    const cellAfterLast = Atomics.load(memory, condCell);
    open(control, 'go');
    const through = await scene.waiters[0]!.maybeMessage('returned', 3_000);
    const asleep = at(control, 'parked') > 0;
    const waitCell = at(control, 'lastWaitCell');
    const waitValue = at(control, 'lastWaitValue');
    const now = Atomics.load(memory, condCell);
    const where = !asleep
      ? `not asleep in Atomics.wait${waitCell === NEVER_WAITED ? ' (it never called it)' : ''}, with the condition's cell at ${now}`
      : `asleep in Atomics.wait on ${condCellName(scene)(waitCell)}, expecting ${waitValue} (the condition's cell holds ${now})`;
    const story =
      held && asleep && waitCell === condCell && waitValue === cellAfterLast && cellAfterEarly !== cellBefore
        ? `lost notify: a notify() made without the mutex read the condition's cell with Atomics.${String(held.call)} (${String(held.value)}) and was ` +
          `held right after that. Meanwhile two more notify() calls took the cell to ${cellBefore}, and a thread called wait() and let go of the mutex. ` +
          `Then the held notify() went on and set the cell to ${cellAfterEarly}: a value worked out from its own read, written over the two changes ` +
          `made since. A last notify() came in the moment between wait() letting go of the mutex and falling asleep, and took the cell to ` +
          `${cellAfterLast}, the very value wait() then slept on: 3 s later the thread is still asleep in Atomics.wait(cells, ${condCell}, ${waitValue}). ` +
          'Reading the cell and writing it back are two steps, and other notifies can come in between: change it in one atomic step.'
        : `A notify() came in the moment between wait() letting go of the mutex and falling asleep, after another notify(), made without the mutex, ` +
          `had been held in the middle (the cell went from ${cellBefore} to ${cellAfterEarly} when it went on, then to ${cellAfterLast}); ` +
          `3 s later the thread was still in wait(): it is ${where}.`;
    expect(through, `${story}\n${scene.timeline.toText()}\n`).toBeDefined();
  });

  test("notify() changes the condition's cell before it wakes anyone", async () => {
    // The waiter is held at its Atomics.wait on the condition's cell until the notifier's
    // Atomics.notify has gone by; the notifier is held after that Atomics.notify until the waiter
    // has fallen asleep (or found the cell changed). Only a cell changed before the notify wakes it.
    const scene = await waitersIn(1, { holdBeforeSleep: true, primed: true });
    const { control } = scene;
    expect(
      at(control, 'aboutToSleep'),
      `wait() did not reach an Atomics.wait on the condition's cell ${scene.condCell} within 2 s` +
        (scene.waiters[0]!.find('returned') ? ' (it returned without being notified)' : '') +
        ", so this test could not see how notify() wakes it. wait() sleeps in Atomics.wait on the condition's cell.\n" +
        `${scene.timeline.toText()}\n`,
    ).toBe(1);
    await notifier(scene, { holdAfterNotify: 'until-asleep' });
    const through = await scene.waiters[0]!.maybeMessage('returned', 3_000);
    const early = at(control, 'notifiesBeforeChange');
    // The whole story, where every step of it was seen: the waiter fell asleep on the value it read, and no notify came after the change.
    const lost =
      early > 0 &&
      at(control, 'parked') > 0 &&
      at(control, 'lastWaitCell') === scene.condCell &&
      at(control, 'lastWaitFound') === at(control, 'lastWaitValue') &&
      at(control, 'notifies') === early;
    expect(
      through,
      (lost
        ? `notify() called Atomics.notify on the condition's cell while the cell still held ${at(control, 'lastWaitValue')}, as it did when notify() began: ` +
          'the change, if any, came afterwards. ' +
          'This test let a thread that had read the cell (and was about to sleep on that value) go on only once that Atomics.notify had passed, ' +
          'waking nobody; the thread then fell asleep on the unchanged value, and the change that came next woke nobody: ' +
          'it was still asleep 3 s later. Change the cell first (Atomics.add), then call Atomics.notify: ' +
          'a thread about to sleep then finds the cell changed, and one already asleep is woken.'
        : `The thread in wait() was still there 3 s after notify()${early > 0 ? `, which called Atomics.notify ${plural(early, 'time')} before it changed the cell` : ''}. ${stillWaiting(scene)}`) +
        `\n${scene.timeline.toText()}\n`,
    ).toBeDefined();
  });

  test('notify() wakes one waiting thread, not all of them', async () => {
    const scene = await waitersIn(2);
    const { control } = scene;
    expect(
      at(control, 'parked'),
      `Only ${at(control, 'parked')} of 2 threads in wait() went to sleep in Atomics.wait within 2 s each. ${stillWaiting(scene)}`,
    ).toBe(2);
    await notifier(scene);
    await until(() => at(control, 'returned') > 0, 3_000);
    const asked = at(control, 'askedToWake');
    const woken = at(control, 'woken');
    expect(
      at(control, 'returned'),
      `Neither of 2 threads asleep in wait() returned within 3 s of notify(). ${stillWaiting(scene)}\n${scene.timeline.toText()}\n`,
    ).toBeGreaterThan(0);
    expect(
      { askedForMoreThanOne: asked === -1 || asked > 1, woken },
      `With two threads asleep in wait(), notify() called Atomics.notify on the condition's cell asking to wake ` +
        `${asked === -1 ? 'every waiter (no count, or Infinity)' : n(asked)}, and it woke ${plural(woken, 'thread')}. notify() wakes one: ` +
        'the caller has made room for one more step (one value, one free slot), and the others would only wake, find nothing, and sleep again. ' +
        'Atomics.notify(cells, index, 1); notifyAll() is the one that wakes them all.\n' +
        `${scene.timeline.toText()}\n`,
    ).toEqual({ askedForMoreThanOne: false, woken: 1 });
  });

  test('notifyAll() wakes every waiting thread', async () => {
    const scene = await waitersIn(3, { primed: true });
    const { control, memory } = scene;
    expect(
      at(control, 'parked'),
      `Only ${at(control, 'parked')} of 3 threads in wait() went to sleep in Atomics.wait within 2 s each. ${stillWaiting(scene)}`,
    ).toBe(3);
    // A fourth thread is held right after its wait() lets go of the mutex, before it sleeps: it is
    // waiting in wait() too, and the notifyAll() that comes now must not pass it by.
    const late = await begin('cond-waiter', { memory, control, mutexCell: scene.mutexCell, condCell: scene.condCell, watch: true, holdAfterRelease: true });
    scene.waiters.push(late);
    await late.message('locked', 5_000, "A fourth thread's lock() never returned, with three threads in wait(), which must let go of the mutex");
    const endLate = scene.timeline.begin('in wait() (4, held before its sleep)', { threadId: late.threadId });
    expect(
      await until(() => at(control, 'released') === 1, 2_000),
      `A fourth thread's wait(mutex) never let go of the mutex (its cell reads ${Atomics.load(memory, scene.mutexCell)}).`,
    ).toBe(true);
    const before = Atomics.load(memory, scene.condCell);
    await notifier(scene, { call: 'notifyAll' });
    open(control, 'go');
    await until(() => at(control, 'returned') === 4, 3_000);
    const returned = at(control, 'returned');
    const lateReturned = late.find('returned') !== undefined;
    if (lateReturned) endLate();
    const asked = at(control, 'askedToWake');
    const after = Atomics.load(memory, scene.condCell);
    expect(
      returned,
      `${4 - returned} of 4 threads in wait() ${4 - returned === 1 ? 'was' : 'were'} still there 3 s after notifyAll(): it called Atomics.notify on the condition's cell ` +
        `${plural(at(control, 'notifies'), 'time')}, asking to wake ${asked === -1 ? 'every waiter' : `at most ${n(asked)}`}, and woke ${plural(at(control, 'woken'), 'thread')}. ` +
        (lateReturned
          ? 'notifyAll() wakes every thread asleep on the cell: Atomics.notify(cells, index) with no count.'
          : `${returned === 3 ? 'The one left is' : 'Among those left is'} the thread this test held after its wait() had let go of the mutex, before it slept: ` +
            (after === before
              ? `notifyAll() left the condition's cell at ${after}, the value that thread had read, so it then slept through the notifyAll(). Let notifyAll() change the cell too, before it wakes.`
              : `the condition's cell went from ${before} to ${after}. ${stillWaiting(scene)}`)) +
        `\n${scene.timeline.toText()}\n`,
    ).toBe(4);
  });

  test('a condition over cell 3 sleeps and wakes on that cell, leaving the others alone', async () => {
    const memory = sharedInts(5);
    memory.set([7, 0, 9, 0, 11]);
    const scene = await waitersIn(1, { memory, mutexCell: 1, condCell: 3 });
    const { control } = scene;
    const waitCell = at(control, 'lastWaitCell');
    expect(
      { asleep: at(control, 'parked') > 0, on: waitCell },
      `new Condition(memory, 3), used with new Mutex(memory, 1), over [7, 0, 9, 0, 11]: ` +
        (at(control, 'parked') > 0
          ? `wait() went to sleep on ${waitCell === -1 ? 'another array' : `cell ${waitCell}`}, not on its own cell 3.`
          : 'wait() did not go to sleep in Atomics.wait within 2 s.') +
        ` Sleep on the condition's own cell, index.\n${scene.timeline.toText()}\n`,
    ).toEqual({ asleep: true, on: 3 });
    await notifier(scene);
    const through = await scene.waiters[0]!.maybeMessage('returned', 3_000);
    expect(
      through,
      `wake-up: the thread in wait() on new Condition(memory, 3) was still there 3 s after notify(). ${stillWaiting(scene)}\n${scene.timeline.toText()}\n`,
    ).toBeDefined();
    await scene.waiters[0]!.message('done', 3_000, "The waiting thread's unlock() after wait() never returned");
    expect(
      [memory[0], memory[1], memory[2], memory[4]],
      "new Condition(memory, 3) must use cell 3 only: cells 0, 2 and 4 held 7, 9 and 11, and the mutex's cell 1 must be free (0) at the end",
    ).toEqual([7, 0, 9, 11]);
  });
});

// ---------------------------------------------------------------------------------------------
// BoundedQueue: threads that put and take.

const queueCellNames = new Map<number, string>([
  [LOCK, 'LOCK'],
  [NOT_EMPTY, 'NOT_EMPTY'],
  [NOT_FULL, 'NOT_FULL'],
  [HEAD, 'HEAD'],
  [TAIL, 'TAIL'],
]);
const queueCell = (cell: number) =>
  cell === -1
    ? 'another array'
    : queueCellNames.has(cell)
      ? `cell ${cell} (${queueCellNames.get(cell)})`
      : cell >= SLOTS
        ? `cell ${cell} (slot ${cell - SLOTS})`
        : `cell ${cell}`;
const size = (memory: Int32Array) => Atomics.load(memory, TAIL) - Atomics.load(memory, HEAD);

/** Where a watched put() or take() is waiting (or, once it has returned, where it last slept), as the harness saw it. */
function whereWaiting(control: Int32Array, memory: Int32Array, returned = false): string {
  const cell = at(control, 'lastWaitCell');
  if (returned) return cell === NEVER_WAITED ? 'It never called Atomics.wait.' : `Its last Atomics.wait was on ${queueCell(cell)}.`;
  if (at(control, 'parked') === 0) return `It was not asleep in Atomics.wait${cell === NEVER_WAITED ? ' (it never called it)' : ''}: it is still running.`;
  return `It is asleep in Atomics.wait on ${queueCell(cell)}, expecting ${at(control, 'lastWaitValue')}; that cell now reads ${cell >= 0 ? Atomics.load(memory, cell) : '?'}.`;
}

/** Watches a thread waiting in put() or take() for 500 ms: is it asleep, or spinning? */
async function watchWaiting(worker: HarnessWorker, control: Int32Array, call: string, what: string, timeline: Timeline): Promise<void> {
  const calls = at(control, 'calls');
  const cpu = await worker.cpuTimeMs();
  const since = performance.now();
  const looks = await lookAtThread(worker.find('thread')?.proc, 500);
  const watched = performance.now() - since;
  const callsMade = at(control, 'calls') - calls;
  const cpuAfter = await worker.cpuTimeMs();
  const cpuShare = cpu === undefined || cpuAfter === undefined ? undefined : (cpuAfter - cpu) / watched;
  const callsPerMs = measured(`condition: Atomics calls per ms of a thread in ${call}`, callsMade / watched, 5);
  const runnable =
    looks && looks.looks > 0 ? measured(`condition: share of looks finding a thread in ${call} ready to run`, looks.runnable / looks.looks, 0.5) : undefined;
  const spinning = callsPerMs >= 5 || (runnable === undefined ? (cpuShare ?? 0) >= 0.05 : runnable >= 0.5);
  expect(
    !spinning,
    `busy waiting: while ${what} for ${Math.round(watched)} ms, the thread in ${call} made ${n(callsMade)} Atomics calls` +
      (looks ? `, was found running or ready to run in ${looks.runnable} of ${looks.looks} looks` : '') +
      (cpuShare === undefined ? '' : ` and used ${Math.round(cpuShare * 100)}% of a CPU`) +
      '. A loop that lets go of the mutex and takes it again to look once more burns a core and fights the very thread it waits for. ' +
      'Sleep in the condition instead: wait() lets go of the mutex and sleeps until another thread notifies.\n' +
      `${timeline.toText()}\n`,
  ).toBe(true);
  expect(
    at(control, 'sleptHolding'),
    `${call} went to sleep (in Atomics.wait on ${queueCell(at(control, 'lastWaitCell'))}) with the mutex (LOCK) taken, and no other thread was using the queue: ` +
      'it sleeps holding the mutex, so the thread that would make the change it waits for can never get in. Wait in the condition, ' +
      'with wait(mutex), which lets go of the mutex while it sleeps.\n' +
      `${timeline.toText()}\n`,
  ).toBe(0);
}

describe('BoundedQueue', () => {
  test('one thread: take() returns the values put(), in order, round and round the ring', async () => {
    const memory = createQueue(3);
    const ops: Array<number | 'take'> = [1, 2, 3, 'take', 4, 'take', 'take', 'take', 0, -1, 'take', 2_147_483_647, -2_147_483_648, 'take', 'take', 'take'];
    const expected = [1, 2, 3, 4, 0, -1, 2_147_483_647, -2_147_483_648];
    for (let round = 1; round <= 10; round += 1) {
      ops.push(round * 10 + 1, round * 10 + 2, 'take', 'take');
      expected.push(round * 10 + 1, round * 10 + 2);
    }
    const worker = await begin('sequence', { memory, control: createControl(), ops });
    const done = await finish(
      worker,
      5_000,
      (call) =>
        `${call} never returned, in a queue of capacity 3 that only this thread used, and that then held ${size(memory)} values. ` +
        'put() waits only while the queue holds capacity values (memory.length - SLOTS), take() only while it holds none',
    );
    const taken = done.taken as number[];
    const first = expected.findIndex((value, index) => taken[index] !== value);
    expect(
      taken,
      `One thread put ${ops.filter((op) => op !== 'take').join(', ')} into a queue of capacity 3, taking values as it went; take() returned ` +
        `${String(taken[first])} as value ${first + 1}, where ${expected[first]} was due` +
        (first >= 3 ? `: value ${first + 1} is the first in a slot used before (position ${first}, slot ${first % 3}): positions go round the 3 slots` : '') +
        '. A queue is first in, first out.',
    ).toEqual(expected);
  });

  test('put() on a full queue waits, asleep, until a take() makes room', async () => {
    const memory = createQueue(2);
    const control = createControl();
    const timeline = new Timeline();
    const putter = await begin('putter', { memory, control, values: [1, 2, 3], watch: true });
    const twoIn = await until(() => count(putter, 'put') >= 2, 5_000);
    expect(twoIn, `${lastStep(putter)} never returned, on an empty queue of capacity 2 with no other thread using it.`).toBe(true);
    const endWait = timeline.begin('in put(3)', { threadId: putter.threadId });
    await until(() => count(putter, 'put') === 3 || at(control, 'parked') > 0, 1_000);
    expect(
      count(putter, 'put'),
      `put(3) returned, with the queue already holding 2 values in its 2 slots: it did not wait for room. The queue now counts ` +
        `TAIL - HEAD = ${size(memory)} values in 2 slots, so a value nobody had taken was written over. put() waits while the queue holds capacity values.`,
    ).toBe(2);
    await watchWaiting(putter, control, 'put(3)', 'the queue was full', timeline);
    const taker = await begin('taker', { memory, control, count: 1, countNotifies: true });
    const took = await taker.message('took', 5_000, 'take() never returned, on a full queue');
    expect(took.value, 'take() on a queue holding 1 and 2 must return 1').toBe(1);
    const through = await until(() => count(putter, 'put') === 3, 3_000);
    if (through) endWait();
    expect(
      through,
      `put(3) was still waiting 3 s after a take() made room. ${whereWaiting(control, memory)} That take() called Atomics.notify on ` +
        `${notifiedCells(control, queueCell)}: a thread asleep in Atomics.wait wakes only when a notify names its cell. After taking a value, ` +
        'take() notifies the condition that a put() waits in.\n' +
        `${timeline.toText()}\n`,
    ).toBe(true);
    const rest = await begin('taker', { memory, control, count: 2 });
    const done = await finish(rest, 5_000, (call) => `${call} never returned, with 2 values in the queue`);
    expect(done.values, 'After 1, 2 and 3 were put and 1 was taken, the queue must give 2, then 3').toEqual([2, 3]);
  });

  test('take() on an empty queue waits, asleep, until a put() brings a value', async () => {
    const memory = createQueue(2);
    const control = createControl();
    const timeline = new Timeline();
    const taker = await begin('taker', { memory, control, count: 1, watch: true });
    const endWait = timeline.begin('in take()', { threadId: taker.threadId });
    await until(() => taker.find('took') !== undefined || at(control, 'parked') > 0, 2_000);
    const early = taker.find('took');
    expect(
      early,
      `take() returned ${String(early?.value)} from an empty queue, a value nobody put: it did not wait (HEAD is now ${Atomics.load(memory, HEAD)}, TAIL ${Atomics.load(memory, TAIL)}). ` +
        'take() waits while the queue is empty.',
    ).toBeUndefined();
    await watchWaiting(taker, control, 'take()', 'the queue was empty', timeline);
    const putter = await begin('putter', { memory, control, values: [42], countNotifies: true });
    await finish(putter, 5_000, (call) => `${call} never returned, on an empty queue`);
    const through = await taker.maybeMessage('took', 3_000);
    if (through) endWait();
    expect(
      through,
      `take() was still waiting 3 s after a put() brought a value. ${whereWaiting(control, memory)} That put() called Atomics.notify on ` +
        `${notifiedCells(control, queueCell)}: a thread asleep in Atomics.wait wakes only when a notify names its cell. After adding a value, ` +
        'put() notifies the condition that a take() waits in.\n' +
        `${timeline.toText()}\n`,
    ).toBeDefined();
    expect(through!.value, 'take() must return the value put').toBe(42);
  });

  test('two threads asleep in take() both get a value from two put()s', async () => {
    const memory = createQueue(4);
    const control = createControl();
    const timeline = new Timeline();
    // Each taker, once woken, is held until both put()s are done: the first cannot take its value
    // before the second put().
    const takers: HarnessWorker[] = [];
    for (const index of [0, 1]) {
      const taker = await begin('taker', { memory, control, count: 1, watch: true, holdAfterWake: true });
      takers.push(taker);
      timeline.begin(`in take() (${index + 1})`, { threadId: taker.threadId });
      await until(() => at(control, 'parked') > index || taker.find('took') !== undefined, 2_000);
    }
    expect(
      at(control, 'parked'),
      `Only ${at(control, 'parked')} of 2 threads in take() on an empty queue went to sleep within 2 s each. ${whereWaiting(control, memory)}`,
    ).toBe(2);
    const putter = await begin('putter', { memory, control, values: [1, 2], countNotifies: true });
    await finish(putter, 5_000, (call) => `${call} never returned, on a queue of capacity 4`);
    open(control, 'go');
    await until(() => takers.every((taker) => taker.find('took') !== undefined), 3_000);
    const got = takers.filter((taker) => taker.find('took') !== undefined).length;
    expect(
      got,
      `${2 - got} of 2 threads in take() ${got === 1 ? 'was' : 'were'} still asleep 3 s after two put()s, with ${size(memory)} value(s) in the queue. ` +
        `The two put() calls called Atomics.notify on ${notifiedCells(control, queueCell, [LOCK])} (besides the mutex's LOCK): each value put ` +
        'can be the one a sleeping taker needs. This test held the first woken taker until both put()s were done, as a busy machine may: ' +
        'every put() must wake a taker, not only the one that finds the queue empty.\n' +
        `${timeline.toText()}\n`,
    ).toBe(2);
    expect(takers.map((taker) => Number(taker.find('took')!.value)).sort(), 'The two takers must get 1 and 2').toEqual([1, 2]);
  });

  test('a take() woken by a put() checks again: another consumer may have taken the value first', async () => {
    const memory = createQueue(2);
    const control = createControl();
    const timeline = new Timeline();
    const taker = await begin('taker', { memory, control, count: 1, watch: true, stealAfterWake: true });
    const endWait = timeline.begin('in take()', { threadId: taker.threadId });
    await until(() => taker.find('took') !== undefined || at(control, 'parked') > 0, 2_000);
    expect(
      taker.find('took'),
      `take() returned ${String(taker.find('took')?.value)} from an empty queue, a value nobody put: it did not wait.`,
    ).toBeUndefined();
    await finish(await begin('putter', { memory, control, values: [42] }), 5_000, (call) => `${call} never returned, on an empty queue`);
    // Woken, the taker meets another consumer (played in its thread) that takes the 42 first.
    const stolen = () => at(control, 'stolen') === 1;
    await until(() => taker.find('took') !== undefined || (stolen() && at(control, 'parked') > 0), 3_000);
    const took = taker.find('took');
    expect(
      stolen() && took !== undefined,
      `take() was woken by put(42), but between the wake-up and its next step another consumer (played by this test, in that thread) took ` +
        `the 42, leaving the queue empty, and take() returned ${String(took?.value)} anyway, a value nobody put (HEAD is now ${Atomics.load(memory, HEAD)}, ` +
        `past TAIL at ${Atomics.load(memory, TAIL)}). Being woken only means "there was a value a moment ago": when wait() returns, check the ` +
        'queue again, in a `while` loop, and wait again while it is empty.\n' +
        `${timeline.toText()}\n`,
    ).toBe(false);
    expect(
      stolen(),
      `The thread in take() was never woken from Atomics.wait while the queue held a value${took ? ` (it returned ${String(took.value)})` : ''}, so this test ` +
        `could not play the other consumer. ${whereWaiting(control, memory, took !== undefined)} take() on an empty queue sleeps until a put() wakes it.\n${timeline.toText()}\n`,
    ).toBe(true);
    await finish(await begin('putter', { memory, control, values: [7] }), 5_000, (call) => `${call} never returned, on an empty queue`);
    const through = await taker.maybeMessage('took', 3_000);
    if (through) endWait();
    expect(
      through,
      `take() went back to sleep when the value was gone, but a second put() (of 7) did not get it out within 3 s. ${whereWaiting(control, memory)}\n${timeline.toText()}\n`,
    ).toBeDefined();
    expect(through!.value, 'take() must return the value of the second put()').toBe(7);
  });

  test('a put() woken by a take() checks again: another producer may have filled the room first', async () => {
    const memory = createQueue(2);
    const control = createControl();
    const timeline = new Timeline();
    const putter = await begin('putter', { memory, control, values: [1, 2, 3], watch: true, stealAfterWake: true });
    const twoIn = await until(() => count(putter, 'put') >= 2, 5_000);
    expect(twoIn, `${lastStep(putter)} never returned, on an empty queue of capacity 2 with no other thread using it.`).toBe(true);
    const endWait = timeline.begin('in put(3)', { threadId: putter.threadId });
    await until(() => count(putter, 'put') === 3 || at(control, 'parked') > 0, 2_000);
    expect(count(putter, 'put'), `put(3) returned on a full queue of capacity 2: it did not wait for room (TAIL - HEAD is now ${size(memory)}).`).toBe(2);
    const took = await (await begin('taker', { memory, control, count: 1 })).message('took', 5_000, 'take() never returned, on a full queue');
    expect(took.value, 'take() on a queue holding 1 and 2 must return 1').toBe(1);
    // Woken, the putter meets another producer (played in its thread) that fills the free slot first.
    const stolen = () => at(control, 'stolen') === 1;
    await until(() => count(putter, 'put') === 3 || (stolen() && at(control, 'parked') > 0), 3_000);
    const third = count(putter, 'put') === 3;
    expect(
      stolen() && third,
      `put(3) was woken by a take(), but between the wake-up and its next step another producer (played by this test, in that thread) put ` +
        `${STOLEN_ROOM} into the free slot, filling the queue again, and put(3) went on anyway: the queue now counts TAIL - HEAD = ${size(memory)} values ` +
        'in 2 slots, so a value nobody had taken was written over. Being woken only means "there was room a moment ago": when wait() returns, ' +
        'check again, in a `while` loop, and wait again while the queue is full.\n' +
        `${timeline.toText()}\n`,
    ).toBe(false);
    expect(
      stolen(),
      `The thread in put(3) was never woken from Atomics.wait while the queue had room${third ? ' (its put(3) returned)' : ''}, so this test could not play ` +
        `the other producer. ${whereWaiting(control, memory, third)} put() on a full queue sleeps until a take() wakes it.\n${timeline.toText()}\n`,
    ).toBe(true);
    const drain = await begin('taker', { memory, control, count: 3 });
    const done = await finish(drain, 5_000, (call) => `${call} never returned: after 2 and ${STOLEN_ROOM}, put(3) should have added 3 once a take() made room`);
    endWait();
    expect(done.values, `The queue must give 2, then the other producer's ${STOLEN_ROOM}, then 3`).toEqual([2, STOLEN_ROOM, 3]);
  });

  test('put() wakes a taker only once the value is in the queue', async () => {
    const memory = createQueue(2);
    const control = createControl();
    const timeline = new Timeline();
    const taker = await begin('taker', { memory, control, count: 1, watch: true });
    const endWait = timeline.begin('in take()', { threadId: taker.threadId });
    await until(() => taker.find('took') !== undefined || at(control, 'parked') > 0, 2_000);
    expect(
      taker.find('took'),
      `take() returned ${String(taker.find('took')?.value)} from an empty queue, a value nobody put: it did not wait.`,
    ).toBeUndefined();
    // The putter is held right after its first Atomics.notify until the taker has woken and gone
    // back to sleep, or returned: what the taker finds then is what that notify let it see.
    const putter = await begin('putter', { memory, control, values: [5], holdAfterNotify: 'until-asleep-again', countNotifies: true });
    const endPut = timeline.begin('put(5)', { threadId: putter.threadId });
    await finish(putter, 5_000, (call) => `${call} never returned, on an empty queue`);
    endPut();
    const through = await taker.maybeMessage('took', 3_000);
    if (through) endWait();
    const early = at(control, 'notifiesBeforeChange');
    // The whole story, where every step of it was seen: the early notify woke the taker, which slept again, and no notify came after.
    const lost = early > 0 && at(control, 'wakes') > 0 && at(control, 'parked') > 0 && at(control, 'notifies') === early;
    expect(
      through,
      (lost
        ? `put(5) called Atomics.notify (on ${notifiedCells(control, queueCell, [LOCK])}) before it had moved TAIL, without holding the mutex: ` +
          'the value was not in the queue yet. The thread in take() that it woke (this test let it run before put() went on) found the queue ' +
          'still empty and went back to sleep; put() then added the value and woke nobody, and take() was still asleep 3 s later, with the ' +
          'value waiting for it. Notify once the value is in (or at least under the mutex, which keeps the woken taker out until it is).'
        : early > 0
          ? `take() was still waiting 3 s after put(5), which called Atomics.notify ${plural(early, 'time')} before it had moved TAIL, without holding the mutex. ${whereWaiting(control, memory)}`
          : `take() was still waiting 3 s after put(5). ${whereWaiting(control, memory)} put() called Atomics.notify on ${notifiedCells(control, queueCell)}.`) +
        `\n${timeline.toText()}\n`,
    ).toBeDefined();
    expect(through!.value, 'take() must return the value put').toBe(5);
  });

  test('put() and take() change HEAD, TAIL and the slots only while holding the mutex', async () => {
    const memory = createQueue(4);
    const worker = await begin('trace', { memory, control: createControl(), ops: [5, 6, 'take', 7, 'take', 'take'] });
    const done = await finish(worker, 5_000, (call) => `${call} never returned, on a queue of capacity 4 that only this thread used (it never had to wait)`);
    const names = ['HEAD', 'TAIL', 'slot 0', 'slot 1', 'slot 2', 'slot 3'];
    const changed = (from: number[], to: number[]) => names.filter((_, index) => from[index] !== to[index]).join(', ');
    const problems: string[] = [];
    for (const call of done.calls as Array<{ call: string; before: number[]; atLock?: number[]; atUnlock?: number[]; after: number[]; lockAfter: number }>) {
      if (call.atLock === undefined) problems.push(`${call.call} never took the mutex (LOCK), and changed ${changed(call.before, call.after) || 'nothing'}`);
      else if (changed(call.before, call.atLock)) problems.push(`${call.call} changed ${changed(call.before, call.atLock)} before it took the mutex`);
      if (call.atUnlock !== undefined && changed(call.atUnlock, call.after))
        problems.push(`${call.call} changed ${changed(call.atUnlock, call.after)} after it had let go of the mutex`);
      if (call.lockAfter !== 0) problems.push(`${call.call} returned with the mutex still taken`);
    }
    expect(
      problems,
      `One thread called put(5), put(6), take(), put(7), take(), take() on a queue of capacity 4, and ${problems.join('; ')}. ` +
        'Whatever a thread reads or writes of the queue outside the mutex, another put() or take() can change in between: two takers ' +
        'take the same value, or a value is written over. Take the mutex before the first read of HEAD or TAIL, and let go of it after the last write.',
    ).toEqual([]);
  });

  test("three producers and three consumers released together: every value arrives exactly once, each producer's in order", { timeout: 30_000 }, async () => {
    const producers = 3;
    const perProducer = 5_000;
    const memory = createQueue(4);
    const control = createControl();
    const seen = sharedInts(producers * perProducer);
    const timeline = new Timeline();
    const run = await runTogether({
      harness,
      parties: producers * 2,
      workerData: (index) => ({
        role: index < producers ? 'producer' : 'consumer',
        index: index % producers,
        memory,
        control,
        seen,
        producers,
        perProducer,
      }),
      timeline,
      label: (index) => (index < producers ? `producer ${index}` : `consumer ${index - producers}`),
      ms: 15_000,
    });
    const counts = [...seen];
    const missing = counts.filter((times) => times === 0).length;
    const doubled = counts.filter((times) => times > 1).length;
    const garbage = at(control, 'garbage');
    const outOfOrder = at(control, 'outOfOrder');
    const total = producers * perProducer;
    const producersStuck = run.stuck.filter((index) => index < producers).length;
    const consumersStuck = run.stuck.length - producersStuck;
    const what =
      `${producers} producers put ${n(perProducer)} values each (producer p's i-th value is ${produced(1, 1) - 1} * p + i) into a queue of capacity 4, ` +
      `and ${producers} consumers took ${n(perProducer)} each, all released together.`;
    expect(
      { garbage, doubled, missing: run.stuck.length === 0 ? missing : 0 },
      `${what} ${n(doubled)} values were taken more than once, ${n(missing)} of ${n(total)} never, and consumers got ${plural(garbage, 'value')} nobody put. ` +
        'This run cannot tell which mistake let two threads meet inside the queue: put() or take() touching the queue outside the mutex ' +
        '(the test "put() and take() change HEAD, TAIL and the slots only while holding the mutex" looks at that), or a wait that lets a thread ' +
        'go on without checking again (the tests of a woken put() and take() look at that).\n' +
        `${timeline.toText()}\n`,
    ).toEqual({ garbage: 0, doubled: 0, missing: 0 });
    expect(
      run.stuck,
      `${what} After 15 s, ${producersStuck} producer(s) were still in put() and ${consumersStuck} consumer(s) still in take(), with ` +
        `${size(memory)} value(s) in the queue, ${n(at(control, 'produced'))} of ${n(total)} put, and ${n(total - missing)} taken. ` +
        (size(memory) > 0 && consumersStuck > 0
          ? 'Consumers sleep while values wait in the queue: a wake-up was lost (a put() that woke nobody, or a wake-up that came before the value was in).'
          : 'Every thread left is waiting for another: a wake-up was lost.') +
        `\n${timeline.toText()}\n`,
    ).toEqual([]);
    expect(
      outOfOrder,
      `${what} ${plural(outOfOrder, 'time')} a consumer got a producer's value after a later value of the same producer: a queue is first in, first out.`,
    ).toBe(0);
  });
});
