import { afterEach, describe, expect, test } from 'vitest';
import { HarnessWorker, lookAtThread, runTogether } from '#kata/testing/harness-worker.ts';
import { measured, sleep, Timeline, until } from '#kata/testing/index.ts';
import { Bank, FIRST_ACCOUNT, LOCK_CELL } from './bank.ts';
import type { ControlCells, HarnessData } from './mutex.harness.ts';

// Every call into your Mutex runs in a worker (mutex.harness.ts): a lock that never returns must
// not freeze the test's own thread, and a worker can be stopped when its time is up.
const harness = new URL('./mutex.harness.ts', import.meta.url);
const cells: ControlCells = {
  parked: 0,
  calls: 1,
  release: 2,
  inside: 3,
  overlaps: 4,
  barged: 5,
  timedOut: 6,
  notifies: 7,
  notifiesWhileTaken: 8,
  woken: 9,
  askedToWake: 10,
  notifiesElsewhere: 11,
  lastWaitCell: 12,
  lastWaitValue: 13,
};
/** lastWaitCell of a thread that has not called Atomics.wait. */
const neverWaited = -2;
function controlCells(): Int32Array {
  const control = sharedInts(Object.keys(cells).length);
  control[cells.lastWaitCell] = neverWaited;
  return control;
}
const sharedInts = (length: number) => new Int32Array(new SharedArrayBuffer(length * Int32Array.BYTES_PER_ELEMENT));
const n = (value: number) => value.toLocaleString('en-US');
const plural = (count: number, what: string) => `${n(count)} ${what}${count === 1 ? '' : 's'}`;

const started: HarnessWorker[] = [];
function start(role: HarnessData['role'], data: Omit<HarnessData, 'role' | 'cells'>): HarnessWorker {
  const worker = new HarnessWorker(harness, { role, cells, ...data });
  started.push(worker);
  return worker;
}
afterEach(async () => {
  await Promise.all(started.splice(0).map((worker) => worker.terminate()));
});

/** Waits up to `ms` for the worker's `done`; if it does not come, fails naming the call the worker is stuck in. */
async function finish(worker: HarnessWorker, ms: number, stuck: (call: string) => string) {
  const done = await worker.maybeMessage('done', ms);
  if (done) return done;
  const call = worker.received.filter((message) => message.type === 'step').at(-1)?.call;
  throw new Error(`${stuck(String(call ?? 'its first call'))} (gave up after ${ms} ms)`);
}

/**
 * Why the watched thread is still in lock() after unlock() returned, from what the harness saw:
 * whether it sleeps, on which cell and expecting which value, and what unlock() notified. It names
 * a cause only where those observations show one.
 */
function whyStillWaiting(control: Int32Array, memory: Int32Array, lockIndex: number): string {
  const waitCell = Atomics.load(control, cells.lastWaitCell);
  const waitValue = Atomics.load(control, cells.lastWaitValue);
  const asleep = Atomics.load(control, cells.parked) > 0;
  const notifies = Atomics.load(control, cells.notifies);
  const elsewhere = Atomics.load(control, cells.notifiesElsewhere);
  const now = Atomics.load(memory, lockIndex);
  const notified = `unlock() called Atomics.notify on the lock's cell ${plural(notifies, 'time')}${elsewhere ? ` and on other cells ${plural(elsewhere, 'time')}` : ''}`;
  if (!asleep) {
    return `It was not asleep in Atomics.wait${waitCell === neverWaited ? ' (it never called it)' : ''}: lock() is still looping, with the lock's cell at ${now}${now === 0 ? ' (free), so it does not take a free lock' : ''}.`;
  }
  if (waitCell === -1)
    return `It is asleep in Atomics.wait on another array than the mutex's cells, where no unlock() can wake it: wait on the mutex's own cells, at its index.`;
  if (waitCell !== lockIndex) {
    return `It is asleep in Atomics.wait on cell ${waitCell}, but the lock is cell ${lockIndex}; ${notified}. Atomics.notify wakes only the threads waiting on the cell it names: lock() must wait on its own cell, index.`;
  }
  if (notifies === 0) {
    return (
      `It is asleep in Atomics.wait on the lock's cell, and unlock() never called Atomics.notify on that cell${elsewhere ? ` (it notified other cells ${plural(elsewhere, 'time')})` : ''}. ` +
      'A thread asleep in Atomics.wait wakes only when notified: after freeing the cell, unlock() must call Atomics.notify(cells, index, 1).'
    );
  }
  if (waitValue === now && now === 0) {
    return (
      `It is asleep in Atomics.wait(cells, ${lockIndex}, 0) with the cell at 0, free: it waits for a free lock to change, and ${notified} before that sleep began. ` +
      'Wait with the value that means "taken": Atomics.wait then returns at once ("not-equal") when the lock is already free.'
    );
  }
  return `It is asleep in Atomics.wait(cells, ${lockIndex}, ${waitValue}); the cell now holds ${now}, and ${notified}, all before that sleep began (a notify during it would have woken it).`;
}

/** Where the watched waiter's last Atomics.wait went, for a mutex over cell 2 of [7, 9, 0] that did not sleep. */
function sleptOn(control: Int32Array): string {
  const cell = Atomics.load(control, cells.lastWaitCell);
  const value = Atomics.load(control, cells.lastWaitValue);
  if (cell === neverWaited)
    return 'lock() never called Atomics.wait: it loops until the lock is free. Sleep in Atomics.wait on the lock\'s cell, index, while it reads "taken".';
  if (cell === 2) {
    return `lock() called Atomics.wait(cells, 2, ${value}) while the cell held 1 (taken): a value other than the cell's makes Atomics.wait return at once ("not-equal"). Wait with the value that means "taken".`;
  }
  const where = cell === -1 ? "on another array than the mutex's cells" : `on cell ${cell}`;
  return `lock() called Atomics.wait ${where}, expecting ${value}, not on its own cell 2: Atomics.wait compares and sleeps on the cell it is given, so it returned at once ("not-equal"). Wait on the mutex's own cell, index.`;
}

/** "Threads 1 and 3 of 4 were" / "All 4 threads were" */
const stuckThreads = (stuck: number[], of: number) =>
  stuck.length === of
    ? `All ${of} threads were`
    : `Thread${stuck.length > 1 ? 's' : ''} ${stuck.join(', ')} of ${of} (the others finished) ${stuck.length > 1 ? 'were' : 'was'}`;

/**
 * One thread takes the lock and holds it; a second thread then calls lock() (or a transfer) and
 * must wait. Resolves once the second thread is asleep in Atomics.wait, or has got past the lock,
 * or has had a second to get there.
 */
async function holdAndWait(
  memory: Int32Array,
  second: { role: 'waiter' | 'transfer-waiter'; data?: Partial<HarnessData>; calling: string },
  /** [cell, value] writes the first thread makes while it holds the lock, just before unlock(). */
  edits?: Array<[number, number]>,
  /** The lock's cell, for a Mutex (the bank's is LOCK_CELL). */
  mutexCell = 0,
) {
  const control = controlCells();
  const timeline = new Timeline();
  const lockIndex = second.role === 'waiter' ? mutexCell : LOCK_CELL;
  const holder = start('holder', { memory, control, lockIndex, edits });
  await holder.message('held', 5_000, "The first thread's lock() on a free mutex never returned");
  const endHold = timeline.begin('holds lock', { threadId: holder.threadId });
  const waiter = start(second.role, { memory, control, lockIndex, watch: true, ...second.data });
  await waiter.message(second.calling, 5_000, 'The second thread never started');
  const endWait = timeline.begin('waits for it', { threadId: waiter.threadId });
  const finished = second.role === 'waiter' ? 'acquired' : 'done';
  const parked = await until(() => Atomics.load(control, cells.parked) > 0 || waiter.find(finished) !== undefined, 1_000);
  return {
    control,
    timeline,
    waiter,
    asleep: parked && waiter.find(finished) === undefined,
    /** Why the second thread has not got past the lock (see whyStillWaiting). */
    stillWaiting: () => whyStillWaiting(control, memory, lockIndex),
    /** Tells the holder to unlock; resolves when its unlock() has returned. */
    async release() {
      Atomics.store(control, cells.release, 1);
      Atomics.notify(control, cells.release);
      await holder.message('released', 5_000, "The first thread's unlock() never returned");
      endHold();
    },
    /** Waits up to `ms` for the second thread to get past the lock. */
    async through(ms: number) {
      const message = await waiter.maybeMessage(finished, ms);
      if (message) endWait();
      return message;
    },
  };
}

describe('Mutex', () => {
  test('tryLock takes a free lock; a second tryLock fails until unlock', async () => {
    const memory = sharedInts(3);
    memory.set([7, 0, 9]);
    const thread = start('sequence', { memory, control: controlCells() });
    const done = await finish(thread, 5_000, (call) => `${call} never returned, on a mutex that no other thread was using.`);
    expect(done.first, 'tryLock() on a new mutex (its cell at 0) returned false: 0 must mean "free".').toBe(true);
    expect(
      done.second,
      'mutual exclusion broken: a second tryLock() succeeded while the lock was already held. ' +
        'Two threads would both be inside the critical section. tryLock() must fail while the cell says "taken".',
    ).toBe(false);
    expect(
      done.waitsInTryLock,
      `tryLock() on a lock that was held called Atomics.wait ${String(done.waitsInTryLock)} time(s) before it returned false: it waited for the lock. ` +
        'tryLock() must return false at once when the lock is taken; waiting is what lock() is for.',
    ).toBe(0);
    // One compareExchange answers it (a load first is fine too); a few calls more are allowed, not a loop.
    const calls = (done.callsInTryLock ?? {}) as Record<string, number>;
    const made = Object.values(calls).reduce((sum, count) => sum + count, 0);
    expect(
      measured('mutex: Atomics calls of tryLock() on a held lock', made, 4),
      `tryLock() on a lock that was held made ${n(made)} Atomics calls before it returned false ` +
        `(${Object.entries(calls)
          .map(([name, count]) => `${name} ${n(count)}x`)
          .join(', ')}): it kept trying instead of giving up. One atomic look that finds the cell taken is the whole answer; ` +
        'retrying until the lock is free is what lock() is for.',
    ).toBeLessThanOrEqual(4);
    expect(done.afterUnlock, 'tryLock() failed after unlock(): unlock() must mark the cell free again.').toBe(true);
    expect(done.cells, 'new Mutex(memory, 1) must use cell 1 only (the neighbours held 7 and 9), and leave it at 0 when unlocked.').toEqual([7, 0, 9]);
  });

  test('tryLock checks and takes the lock in one atomic step; unlock writes it atomically', async () => {
    const plain = await start('plain-probe', { memory: sharedInts(1), control: controlCells() }).message('done', 5_000, 'tryLock() or unlock() never returned');
    const access = plain.tryLockAccess as { reads: number; writes: number };
    expect(
      access,
      `tryLock() used plain indexing on the lock's cell (${plural(access.reads, 'plain read')}, ${plural(access.writes, 'plain write')}). Checking "is it 0?" and ` +
        'then writing 1 is check-then-set: two steps, and another thread can take the lock in between. ' +
        (plain.tookIt && plain.result === true
          ? 'This test played that thread, right after your read, and your tryLock() still returned true: both threads now hold the lock. '
          : '') +
        'Use Atomics.compareExchange(cells, index, 0, 1), which checks and sets as one step.',
    ).toEqual({ reads: 0, writes: 0 });
    const unlockAccess = plain.unlockAccess as { reads: number; writes: number };
    expect(
      unlockAccess.writes,
      "unlock() wrote the lock's cell with plain indexing. A plain write is not ordered with the writes made while holding the lock: " +
        "another thread may see the lock free before it sees your critical section's work. Use Atomics.store (or Atomics.exchange).",
    ).toBe(0);

    const atomic = await start('atomic-probe', { memory: sharedInts(1), control: controlCells() }).message('done', 5_000, 'tryLock() never returned');
    expect(
      atomic.tookIt && atomic.result === true,
      `tryLock() read the cell with Atomics.${atomic.readWith}, found the lock free, and wrote it in a separate step (${(atomic.used as string[]).join(', ')}). ` +
        'Right after that read, this test played another thread that took the lock, and your tryLock() still returned true: both threads now hold it. ' +
        'Each Atomics call is atomic, but check-then-set made of two calls is not: use Atomics.compareExchange(cells, index, 0, 1).',
    ).toBe(false);
  });

  test('lock() checks and takes the lock in one atomic step', async () => {
    const thread = start('lock-probe', { memory: sharedInts(1), control: controlCells() });
    const done = await finish(thread, 5_000, (call) => `${call} never returned, on a mutex that another thread held only briefly.`);
    expect(
      done.walkedIn,
      `mutual exclusion broken: lock() read the cell with Atomics.${done.readWith} and found the lock free; right after that read, this test played another ` +
        `thread that took the lock, and your lock() returned while that thread still held it (your lock() called Atomics.${(done.used as string[]).join(', Atomics.')}). ` +
        'Both threads are now inside. "Is it free?" and "take it" must be one step: take the lock with Atomics.compareExchange(cells, index, 0, 1) ' +
        '(tryLock() does), and sleep only when that fails.',
    ).toBe(false);
  });

  test('a thread waiting in lock() sleeps instead of spinning', async () => {
    const memory = sharedInts(1);
    const scene = await holdAndWait(memory, { role: 'waiter', calling: 'calling lock' });
    // Watch the waiting thread for a while: the Atomics calls it makes, the CPU time it uses.
    const calls = Atomics.load(scene.control, cells.calls);
    const cpu = await scene.waiter.cpuTimeMs();
    const since = performance.now();
    const [early, looks] = await Promise.all([scene.waiter.maybeMessage('acquired', 500), lookAtThread(scene.waiter.find('thread')?.proc, 500)]);
    const watched = performance.now() - since;
    const callsMade = Atomics.load(scene.control, cells.calls) - calls;
    const cpuAfter = await scene.waiter.cpuTimeMs();
    // Undefined where the thread's CPU time cannot be read (Node 22 off Linux): the calls still tell.
    const cpuShare = cpu === undefined || cpuAfter === undefined ? undefined : (cpuAfter - cpu) / watched;
    expect(
      early,
      `mutual exclusion broken: lock() returned in the second thread while the first thread held the lock. lock() must wait until the lock is free.\n${scene.timeline.toText()}\n`,
    ).toBeUndefined();
    await scene.release();
    const through = await scene.through(3_000);
    // A thread asleep in Atomics.wait makes no calls, is never found ready to run and uses no CPU;
    // a spinning one makes millions of calls a second (unless it spins on plain reads), is always
    // found ready to run, and uses whatever CPU it gets: beside a CPU hog on a loaded two-core
    // machine, as little as 1.8%. So the CPU share judges only where the thread's state cannot be read.
    const callsPerMs = measured('mutex: Atomics calls per ms of a waiter in lock()', callsMade / watched, 5);
    const runnable =
      looks && looks.looks > 0 ? measured('mutex: share of looks finding a waiter in lock() ready to run', looks.runnable / looks.looks, 0.5) : undefined;
    const spinning = callsPerMs >= 5 || (runnable === undefined ? (cpuShare ?? 0) >= 0.05 : runnable >= 0.5);
    expect(
      !spinning,
      `busy waiting: while the lock was held for ${Math.round(watched)} ms, the waiting thread made ${n(callsMade)} Atomics calls` +
        (looks ? `, was found running or ready to run in ${looks.runnable} of ${looks.looks} looks` : '') +
        (cpuShare === undefined ? '' : ` and used ${Math.round(cpuShare * 100)}% of a CPU`) +
        '. A loop that keeps checking until the lock is free burns a core doing nothing, and takes it from the thread that holds the lock. ' +
        'Sleep instead: Atomics.wait(cells, index, valueMeaningTaken) returns when unlock() notifies (or at once if the cell has already changed).\n' +
        `${scene.timeline.toText()}\n`,
    ).toBe(true);
    expect(
      through,
      `wake-up: the second thread was still in lock() 3 s after the first thread's unlock(). ${scene.stillWaiting()}\n${scene.timeline.toText()}\n`,
    ).toBeDefined();
  });

  test('unlock() wakes a thread that is asleep in lock()', async () => {
    const memory = sharedInts(1);
    const scene = await holdAndWait(memory, { role: 'waiter', calling: 'calling lock' });
    expect(
      scene.waiter.find('acquired'),
      `mutual exclusion broken: lock() returned in the second thread while the first thread held the lock.\n${scene.timeline.toText()}\n`,
    ).toBeUndefined();
    // Hold the lock a little longer: a waiter that polls with a timed Atomics.wait times out meanwhile.
    await sleep(100);
    await scene.release();
    const through = await scene.through(3_000);
    expect(
      through,
      `wake-up: the second thread was ${scene.asleep ? 'asleep in Atomics.wait' : 'waiting'} inside lock() when the first thread called unlock(), ` +
        `and 3 s later it was still in lock(). ${scene.stillWaiting()}\n${scene.timeline.toText()}\n`,
    ).toBeDefined();
    const timedOut = Atomics.load(scene.control, cells.timedOut);
    const notifies = Atomics.load(scene.control, cells.notifies);
    expect(
      scene.asleep,
      `The second thread got the lock once it was released, but it never slept in Atomics.wait while the first thread held it ` +
        `(${plural(Atomics.load(scene.control, cells.calls), 'Atomics call')} while waiting), so there was no sleeper for unlock() to wake and this test ` +
        'saw nothing of it. lock() should sleep in Atomics.wait while the lock is taken; unlock() then wakes it with Atomics.notify.\n' +
        `${scene.timeline.toText()}\n`,
    ).toBe(true);
    expect(
      timedOut,
      `wake-up: the second thread got the lock, but it was not unlock() that woke it: ${plural(timedOut, 'Atomics.wait call')} in its lock() ` +
        `returned 'timed-out' (unlock() called Atomics.notify on the lock's cell ${plural(notifies, 'time')}). lock() waits with a timeout ` +
        'and looks again each time it runs out: polling, which costs a wake-up per timeout and lets a waiter oversleep a free lock. ' +
        'Wait without a timeout, and let unlock() wake the sleeper with Atomics.notify(cells, index, 1) after freeing the cell.\n' +
        `${scene.timeline.toText()}\n`,
    ).toBe(0);
  });

  test('unlock() frees the cell before it notifies', async () => {
    const memory = sharedInts(1);
    const scene = await holdAndWait(memory, { role: 'waiter', calling: 'calling lock' });
    await scene.release();
    const through = await scene.through(3_000);
    const notifies = Atomics.load(scene.control, cells.notifies);
    const whileTaken = Atomics.load(scene.control, cells.notifiesWhileTaken);
    expect(
      { notifies: notifies > 0, whileTaken },
      notifies === 0
        ? `unlock() never called Atomics.notify on the lock's cell, with a thread waiting in lock()${through ? '' : ' (which was still waiting 3 s later)'}. ` +
            'A thread asleep in Atomics.wait wakes only when notified.'
        : `unlock() called Atomics.notify on the lock's cell ${plural(notifies, 'time')}, ${n(whileTaken)} of them before it had written 0 (free) to the cell. ` +
            'The thread it wakes tries the lock, finds it still taken, and goes back to sleep; the store that frees the cell a moment later ' +
            'wakes nobody, and the waiter sleeps on with the lock free (a lost wake-up: here it ' +
            (through ? 'got through only because it was slow enough to see the store' : 'was still waiting 3 s later') +
            '). Free the cell first (Atomics.store), then notify.\n' +
            `${scene.timeline.toText()}\n`,
    ).toEqual({ notifies: true, whileTaken: 0 });
  });

  test('unlock() wakes one waiting thread, not all of them', async () => {
    const memory = sharedInts(1);
    const control = controlCells();
    const timeline = new Timeline();
    const holder = start('holder', { memory, control, lockIndex: 0 });
    await holder.message('held', 5_000, "The first thread's lock() on a free mutex never returned");
    const endHold = timeline.begin('holds lock', { threadId: holder.threadId });
    const waiters = [start('waiter', { memory, control, lockIndex: 0, watch: true }), start('waiter', { memory, control, lockIndex: 0, watch: true })];
    for (const waiter of waiters) await waiter.message('calling lock', 5_000, 'A waiting thread never started');
    // Both asleep in Atomics.wait (or given a second to get there).
    await until(() => Atomics.load(control, cells.parked) === 2 || waiters.some((waiter) => waiter.find('acquired')), 1_000);
    Atomics.store(control, cells.release, 1);
    Atomics.notify(control, cells.release);
    await holder.message('released', 5_000, "The first thread's unlock() never returned");
    endHold();
    for (const [index, waiter] of waiters.entries()) {
      const done = await waiter.maybeMessage('done', 3_000);
      expect(done, `Waiting thread ${index + 1} of 2 was still in lock() 3 s after the lock was released: it was never woken.`).toBeDefined();
    }
    const asked = Atomics.load(control, cells.askedToWake);
    const woken = Atomics.load(control, cells.woken);
    expect(
      { asked, wokeMoreThanOne: woken > 1 },
      `With two threads asleep in lock(), the first thread's unlock() called Atomics.notify on the lock's cell asking to wake ` +
        `${asked === -1 ? 'every waiter (no count, or Infinity)' : n(asked)}, and it woke ${plural(woken, 'thread')}. Only one of them can take the lock: ` +
        'the others wake, find it taken and go back to sleep, a stampede for nothing. Wake one: Atomics.notify(cells, index, 1); ' +
        'the next unlock() wakes the next.',
    ).toEqual({ asked: 1, wokeMoreThanOne: false });
  });

  test('a mutex over cell 2 sleeps and wakes on that cell, leaving the others alone', async () => {
    const memory = sharedInts(3);
    memory.set([7, 9, 0]);
    const scene = await holdAndWait(memory, { role: 'waiter', calling: 'calling lock' }, undefined, 2);
    const calls = Atomics.load(scene.control, cells.calls);
    const since = performance.now();
    const early = await scene.waiter.maybeMessage('acquired', 200);
    const callsPerMs = (Atomics.load(scene.control, cells.calls) - calls) / (performance.now() - since);
    expect(
      early,
      `mutual exclusion broken: lock() on new Mutex(memory, 2) returned while another thread held that lock.\n${scene.timeline.toText()}\n`,
    ).toBeUndefined();
    await scene.release();
    const through = await scene.through(3_000);
    expect(
      measured('mutex: Atomics calls per ms of a waiter in lock() on cell 2', callsPerMs, 5),
      `While another thread held the lock of new Mutex(memory, 2) (cells 0 and 1 held 7 and 9), the waiting thread made ${callsPerMs.toFixed(0)} ` +
        `Atomics calls per ms: it did not sleep. ${sleptOn(scene.control)}\n` +
        `${scene.timeline.toText()}\n`,
    ).toBeLessThan(5);
    expect(
      through,
      `wake-up: the thread waiting in lock() on new Mutex(memory, 2) was still in lock() 3 s after unlock(). ${scene.stillWaiting()}\n${scene.timeline.toText()}\n`,
    ).toBeDefined();
    // Got through, but how: woken by a notify on cell 2, not by a timeout of its own while unlock() notified another cell.
    const timedOut = Atomics.load(scene.control, cells.timedOut);
    const elsewhere = Atomics.load(scene.control, cells.notifiesElsewhere);
    expect(
      { timedOut, notifiesElsewhere: elsewhere },
      `The thread waiting in lock() on new Mutex(memory, 2) got the lock, but ` +
        [
          timedOut > 0 ? `${plural(timedOut, 'Atomics.wait call')} in its lock() returned 'timed-out': it polls, and a timeout, not unlock(), let it in` : '',
          elsewhere > 0 ? `unlock() called Atomics.notify on cells other than 2 ${plural(elsewhere, 'time')}, where nobody waits for this lock` : '',
        ]
          .filter(Boolean)
          .join('; and ') +
        `. Wait on cell index without a timeout, and let unlock() notify that same cell.\n${scene.timeline.toText()}\n`,
    ).toEqual({ timedOut: 0, notifiesElsewhere: 0 });
    expect([...memory], 'new Mutex(memory, 2) must leave cells 0 and 1 (7 and 9) alone, and its own cell at 0 once unlocked').toEqual([7, 9, 0]);
  });

  test('a thread woken in lock() checks again: another thread may have taken the lock first', async () => {
    const memory = sharedInts(1);
    const scene = await holdAndWait(memory, { role: 'waiter', data: { bargeAfterWake: true }, calling: 'calling lock' });
    await scene.release();
    // The waiter is woken, and right then another thread (the test, acting in the waiter's
    // thread) takes the lock. A correct lock() sees that and goes back to sleep.
    const barged = () => Atomics.load(scene.control, cells.barged) === 1;
    const acquired = () => scene.waiter.find('acquired') !== undefined;
    await until(() => acquired() || (barged() && Atomics.load(scene.control, cells.parked) > 0), 3_000);
    const endBarger = barged() ? scene.timeline.begin('takes it first') : undefined;
    expect(
      barged() && acquired(),
      'mutual exclusion broken: lock() was woken, but between the wake-up and its next step another thread took the lock, ' +
        'and lock() returned anyway: both threads now hold it. Being woken only means "the lock was free a moment ago": ' +
        'after Atomics.wait returns, try to take the lock again with Atomics.compareExchange, and go back to sleep if that fails.\n' +
        `${scene.timeline.toText()}\n`,
    ).toBe(false);
    // The other thread lets go (as a correct unlock() would): now the waiter must get the lock.
    Atomics.store(memory, 0, 0);
    Atomics.notify(memory, 0, 1);
    endBarger?.();
    const through = await scene.through(3_000);
    const seen = barged()
      ? 'lock() never returned, although the other thread released the lock and notified. A woken thread must try to ' +
        'take the lock again, and sleep only while the cell still says "taken".'
      : `wake-up: lock() was still waiting 3 s after the lock was released. ${scene.stillWaiting()}`;
    expect(through, `${seen}\n${scene.timeline.toText()}\n`).toBeDefined();
  });

  test('four threads locking half a million times each are never inside together', async () => {
    const threads = 4;
    const times = 500_000;
    const memory = sharedInts(2);
    const control = controlCells();
    const timeline = new Timeline();
    const run = await runTogether({
      harness,
      parties: threads,
      workerData: () => ({ role: 'exclusion', cells, memory, control, times }),
      timeline,
      label: (index) => `thread ${index}`,
      ms: 8_000,
    });
    const overlaps = Atomics.load(control, cells.overlaps);
    const count = Atomics.load(memory, 1);
    expect(
      overlaps,
      `mutual exclusion broken: ${threads} threads, released together, each did lock(); count++; unlock() ${n(times)} times, and ${n(overlaps)} times ` +
        'a thread got in while another was still inside.' +
        (count === threads * times ? '' : ` The count, which only the lock protects, ended at ${n(count)} instead of ${n(threads * times)}.`) +
        `\n${timeline.toText()}\n`,
    ).toBe(0);
    expect(
      run.stuck,
      `${stuckThreads(run.stuck, threads)} still in lock() after 8 s. A thread that sleeps in Atomics.wait ` +
        'must be woken: does unlock() call Atomics.notify? And does lock() try again after waking up?\n' +
        `${timeline.toText()}\n`,
    ).toEqual([]);
    expect(count, `Every increment was done under the lock, yet the count is ${n(count)}, not ${n(threads * times)}.`).toBe(threads * times);
  });
});

describe('Bank.transfer', () => {
  test('moves money only when the balance allows, and refuses bad input with a RangeError', async () => {
    const bank = Bank.open(3, 100);
    const thread = start('transfer-rules', { memory: bank.memory, control: controlCells() });
    const done = await finish(
      thread,
      5_000,
      (call) =>
        `${call} never returned, with no other thread in the bank. Was the lock left held by an earlier transfer? ` +
        'Let go of it on every way out of transfer(), with try/finally.',
    );
    expect(done.partOf, 'transfer(0, 1, 30) on [100, 100, 100]').toEqual({ moved: true, balances: [70, 130, 100] });
    expect(done.tooMuch, 'transfer(2, 0, 101) with only 100 in account 2 must refuse and change nothing').toEqual({ moved: false, balances: [70, 130, 100] });
    expect(done.all, 'transfer(1, 2, 130) moves the whole balance of account 1').toEqual({ moved: true, balances: [70, 0, 230] });
    expect(
      done.lockHeldAfter,
      `After ${String(done.lockHeldAfter)} threw, the bank's lock was still held: the next transfer would wait for it forever. ` +
        'Check the input before taking the lock, or let go of the lock in a finally block so that every way out releases it.',
    ).toBeUndefined();
    const invalid = done.invalid as Record<string, string>;
    // Accounts are 0 to 2: each of these names another, as `from` or as `to`.
    const unknownAccounts = [
      'transfer(0, 3, 5)',
      'transfer(3, 0, 5)',
      'transfer(-1, 0, 5)',
      'transfer(0, -1, 5)',
      'transfer(0.5, 1, 5)',
      'transfer(0, 0.5, 5)',
      'transfer(NaN, 1, 5)',
      'transfer(0, NaN, 5)',
      'transfer(0, 7, 1000)',
    ];
    const accountsLetIn = unknownAccounts.filter((call) => invalid[call] !== 'RangeError');
    const shortBalance = 'transfer(0, 7, 1000)';
    const fractionOrNaN = accountsLetIn.filter((call) => /\b(?:0\.5|NaN)\b/.test(call));
    expect(
      Object.fromEntries(unknownAccounts.map((call) => [call, invalid[call]])),
      `The bank has accounts 0 to 2, yet ${accountsLetIn.map((call) => `${call} ${invalid[call]}`).join(', ')}. ` +
        'Any other account, too large, negative, fractional or NaN, as `from` or as `to`, is unknown: throw a RangeError for it, whatever the balances.' +
        (accountsLetIn.includes(shortBalance) && invalid['transfer(0, 3, 5)'] === 'RangeError'
          ? ` transfer(0, 3, 5) was refused, but in ${shortBalance} account 0 holds less than 1000: the unknown \`to\` went unnoticed once the balance decided the answer. Check both accounts whatever the balance.`
          : '') +
        (fractionOrNaN.length > 0
          ? ' An Int32Array has no element 0.5 or NaN: reading one gives undefined, and writing one is dropped, so money appears or vanishes. Every comparison with NaN is false, and 0.5 lies between 0 and 2: an account must be an integer (Number.isInteger) in range.'
          : ''),
    ).toEqual(Object.fromEntries(unknownAccounts.map((call) => [call, 'RangeError'])));
    const amounts = Object.fromEntries(Object.entries(invalid).filter(([call]) => !unknownAccounts.includes(call)));
    expect(amounts, 'Amounts that are not positive integers must throw a RangeError (and move nothing).').toEqual({
      'transfer(0, 1, 0)': 'RangeError',
      'transfer(0, 1, -5)': 'RangeError',
      'transfer(0, 1, 1.5)': 'RangeError',
      'transfer(0, 1, Infinity)': 'RangeError',
      'transfer(0, 1, NaN)': 'RangeError',
    });
    expect(done.balances, 'The refused transfers changed balances').toEqual([70, 0, 230]);
  });

  test('a transfer from an account to itself leaves every balance as it was', { timeout: 40_000 }, async () => {
    const bank = Bank.open(3, 100);
    const thread = start('self-transfer', { memory: bank.memory, control: controlCells() });
    const done = await finish(
      thread,
      10_000,
      (call) =>
        `${call} never returned, with no other thread in the bank. A transfer from an account to itself takes the bank's lock once, ` +
        'like any other: does it wait for a lock it already holds, or keep the lock after an earlier call?',
    );
    const calls = done.calls as Array<{ call: string; account: number; amount: number; outcome: string; balances: number[] }>;
    // Whatever transfer(i, i, x) returns or throws (the README leaves that open), no money may appear or vanish.
    let before = [100, 100, 100];
    for (const { call, account, amount, outcome, balances } of calls) {
      const total = balances.reduce((sum, balance) => sum + balance, 0);
      const minted = balances[account] === before[account]! + amount;
      expect(
        balances,
        `${call} on [${before.join(', ')}] ${outcome} and left [${balances.join(', ')}]${total === 300 ? '' : `, a total of ${n(total)} instead of 300`}: ` +
          'a transfer from an account to itself must leave every balance as it was, whatever it returns or throws, for the total never changes.' +
          (minted
            ? ` Account ${account} gained the ${amount} it was to give, as if its write as \`from\` were lost: \`from\` and \`to\` are one balance here, and ` +
              'a write to `to` computed from the balance read before the write to `from` overwrites that write. Read each balance as it is when you write it.'
            : ''),
      ).toEqual(before);
      before = balances;
    }
    expect(
      calls.map(({ call }) => call),
      `After ${calls.at(-1)?.call} ${calls.at(-1)?.outcome}, the bank's lock was still held: let go of it on every way out of transfer().`,
    ).toEqual(['transfer(1, 1, 10)', 'transfer(2, 2, 100)']);
  });

  test('holds the lock from its first read of a balance to its last write', async () => {
    const bank = Bank.open(2, 100);
    const thread = start('transfer-trace', { memory: bank.memory, control: controlCells() });
    const done = await finish(thread, 5_000, (call) => `${call} never returned, with no other thread in the bank.`);
    const outside = done.outside as string[];
    expect(
      outside,
      `transfer(0, 1, 10) touched the balances while the bank's lock was free: ${outside.join(', ')}. ` +
        'A transfer reads two balances and writes two; whatever happens outside the lock, another transfer can ' +
        'change the same balances in between, and money appears or vanishes. Take the lock before the first read ' +
        'and let go of it after the last write.',
    ).toEqual([]);
    expect(
      done.holds,
      `transfer(0, 1, 10) touched the balances only while holding the bank's lock, but over ${done.holds} separate holds of it: it let ` +
        'go of the lock between its first read and its last write. While the lock is free, another transfer can spend the balance ' +
        'this one has just checked. Take the lock once, before the first read, and let go of it after the last write.',
    ).toBe(1);
    expect({ moved: done.moved, balances: done.balances }, 'transfer(0, 1, 10) on [100, 100]').toEqual({ moved: true, balances: [90, 110] });
    expect(done.lockCell, "The bank's lock was still held after transfer() returned: let go of it on every way out.").toBe(0);
  });

  test('decides on the balance only while holding the lock', async () => {
    const bank = Bank.open(2, 100);
    // The first thread holds the bank's lock and, while holding it, spends 50 of account 0.
    const scene = await holdAndWait(bank.memory, { role: 'transfer-waiter', data: { from: 0, to: 1, amount: 60 }, calling: 'calling transfer' }, [
      [FIRST_ACCOUNT + 0, 50],
    ]);
    const early = scene.waiter.find('done');
    expect(
      early,
      `transfer(0, 1, 60) returned ${String(early?.moved)} while another thread held the bank's lock. ` +
        'A transfer reads two balances and writes two: without the lock, another transfer can change them in between. ' +
        'Take the lock before you read a balance, and keep it until both are written.\n' +
        `${scene.timeline.toText()}\n`,
    ).toBeUndefined();
    await scene.release();
    const done = await scene.through(3_000);
    expect(
      done,
      `transfer(0, 1, 60) was still waiting for the lock 3 s after the other thread had released it. ${scene.stillWaiting()}\n${scene.timeline.toText()}\n`,
    ).toBeDefined();
    const balances = [Atomics.load(bank.memory, FIRST_ACCOUNT), Atomics.load(bank.memory, FIRST_ACCOUNT + 1)];
    expect(
      { moved: done!.moved, balances },
      `While transfer(0, 1, 60) waited for the lock, the thread holding it spent 50 of account 0's 100. ` +
        `Your transfer then ${done!.moved ? 'moved the 60 anyway' : 'refused'}, leaving [${balances.join(', ')}]. ` +
        'It decided on a balance it had read before taking the lock (check-then-act): read the balance only once you hold the lock.',
    ).toEqual({ moved: false, balances: [50, 100] });
  });

  test('four threads making half a million transfers each keep the total and no balance goes negative', async () => {
    const threads = 4;
    const times = 500_000;
    const bank = Bank.open(4, 100);
    const timeline = new Timeline();
    const run = await runTogether({
      harness,
      parties: threads,
      workerData: (index) => ({ role: 'transfers', cells, memory: bank.memory, control: controlCells(), times, seed: 0x9e3779b9 * (index + 1) }),
      timeline,
      label: (index) => `thread ${index}`,
      ms: 8_000,
    });
    const balances = Array.from({ length: 4 }, (_, account) => Atomics.load(bank.memory, FIRST_ACCOUNT + account));
    const total = balances.reduce((sum, balance) => sum + balance, 0);
    const moved = run.done.reduce((sum, message) => sum + Number(message?.moved ?? 0), 0);
    expect(
      run.stuck,
      `${stuckThreads(run.stuck, threads)} still transferring after 8 s: a thread waiting for the lock was never woken. ` +
        'Does unlock() call Atomics.notify?\n' +
        `${timeline.toText()}\n`,
    ).toEqual([]);
    expect(
      total,
      `${threads} threads, released together, made ${n(threads * times)} transfers between 4 accounts of 100. Money cannot appear or vanish, ` +
        `yet the balances are [${balances.join(', ')}], a total of ${n(total)} instead of 400. Two transfers interleaved: each read ` +
        'a balance, and one wrote over the other. This run cannot tell which of two causes let them: a transfer that touches balances ' +
        'outside the bank\'s lock (the test "holds the lock from its first read of a balance to its last write" looks at that), or a lock ' +
        'that let two threads in at once (the Mutex tests look at that).\n' +
        `${timeline.toText()}\n`,
    ).toBe(400);
    expect(
      balances.every((balance) => balance >= 0),
      `A balance went negative: [${balances.join(', ')}]: a transfer moved money on a balance another had just spent. Check the balance while holding the lock, and see that the lock lets one thread in at a time.`,
    ).toBe(true);
    expect(moved, 'No transfer succeeded: with 4 accounts of 100 and amounts of 1 to 50, most should.').toBeGreaterThan(0);
  });
});
