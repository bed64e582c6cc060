// The tests' worker: plays one thread that uses the Mutex (or the Bank) under test. It reports
// each step in a message, so the test can tell where it blocks, and the test stops it when its
// time is up. Every blocking call happens here, never on the test's own thread.
import { parentPort, workerData } from 'node:worker_threads';
import { announceThread } from '#kata/inside/announce-thread.ts';
import { realAtomics, spyOnAtomics, watchIndexedAccess } from '#kata/inside/atomics-spy.ts';
import { isNotImplemented } from '#kata/inside/not-implemented.ts';
import { arriveAndWait } from '#kata/inside/start-barrier.ts';
import { targetUrl } from '#kata/inside/target.ts';
import type * as BankModule from './bank.ts';
import type * as MutexModule from './mutex.ts';

/** Where the test keeps its own counters, in `control` (shared memory of its own). */
export interface ControlCells {
  /** Threads of this harness asleep in Atomics.wait right now. */
  parked: number;
  /** Atomics calls this thread has made. */
  calls: number;
  /** The test sets it to 1 to make the holder let go. */
  release: number;
  /** Threads inside the critical section right now, and how often a second one came in. */
  inside: number;
  overlaps: number;
  /** Set to 1 when the waiter's wake-up was followed by another thread taking the lock. */
  barged: number;
  /** A watched thread's Atomics.wait calls that returned 'timed-out' (it woke itself, nobody notified it). */
  timedOut: number;
  /** The holder's Atomics.notify calls on the lock's cell, and those made before unlock() had written 0 (free) to it. */
  notifies: number;
  notifiesWhileTaken: number;
  /** Threads the holder's Atomics.notify calls on the lock's cell woke, in all; and the largest count it asked for (-1: all). */
  woken: number;
  askedToWake: number;
  /** The holder's Atomics.notify calls on any other cell (or array) than the lock's. */
  notifiesElsewhere: number;
  /** A watched thread's last Atomics.wait: on which cell of the memory (-1: another array; the test starts it at -2, never) and with which expected value. */
  lastWaitCell: number;
  lastWaitValue: number;
}

export interface HarnessData {
  role:
    | 'sequence'
    | 'plain-probe'
    | 'atomic-probe'
    | 'lock-probe'
    | 'holder'
    | 'waiter'
    | 'transfer-waiter'
    | 'transfer-rules'
    | 'self-transfer'
    | 'transfer-trace'
    | 'exclusion'
    | 'transfers';
  memory: Int32Array;
  control: Int32Array;
  cells: ControlCells;
  /** Count this thread's Atomics calls and note when it sleeps in Atomics.wait. */
  watch?: boolean;
  /** With watch: the first time this thread is woken from Atomics.wait, another thread takes the lock before it can. */
  bargeAfterWake?: boolean;
  /** holder: [cell, value] writes it makes while holding the lock, before unlock(). */
  edits?: Array<[number, number]>;
  lockIndex?: number;
  from?: number;
  to?: number;
  amount?: number;
  times?: number;
  seed?: number;
  gate?: Int32Array;
  parties?: number;
}

const data = workerData as HarnessData;
const { control, cells, memory } = data;
const post = (type: string, details: object = {}) => parentPort!.postMessage({ type, ...details });
/** Says which call comes next: if it never returns, the test names it. */
const step = (call: string) => post('step', { call });

// The spy goes in before the code under test is loaded, in case it keeps a reference to an Atomics function.
// (Only in the roles that watch: the others run at full speed.)
let onAtomicsCall: ((name: string, args: unknown[], proceed: () => unknown) => unknown) | undefined;
if (
  data.watch ||
  data.role === 'sequence' ||
  data.role === 'atomic-probe' ||
  data.role === 'lock-probe' ||
  data.role === 'transfer-trace' ||
  data.role === 'holder'
) {
  spyOnAtomics((name, args, proceed) => (onAtomicsCall ? onAtomicsCall(name, args, proceed) : proceed()));
}
if (data.watch) {
  onAtomicsCall = (name, args, proceed) => {
    realAtomics.add(control, cells.calls, 1);
    if (name !== 'wait') return proceed();
    const [waitedOn, waitIndex, expected] = args as [unknown, number, number];
    realAtomics.store(control, cells.lastWaitCell, waitedOn === memory ? Number(waitIndex) : -1);
    realAtomics.store(control, cells.lastWaitValue, Number(expected));
    realAtomics.add(control, cells.parked, 1);
    let woken: unknown;
    try {
      woken = proceed();
    } finally {
      realAtomics.sub(control, cells.parked, 1);
    }
    if (woken === 'timed-out') realAtomics.add(control, cells.timedOut, 1);
    // Between a wake-up and the waiter's next step, another thread (played here) can take the
    // free lock first: nothing makes the thread that was woken the one that gets it.
    const [array, index] = args as [Int32Array, number];
    if (data.bargeAfterWake && woken === 'ok' && array === memory && realAtomics.load(control, cells.barged) === 0) {
      if (realAtomics.compareExchange(memory, index, 0, 1) === 0) realAtomics.store(control, cells.barged, 1);
    }
    return woken;
  };
}

/**
 * Whether an Atomics call on the memory read the lock's cell as free (returned 0) and left it free:
 * a load, or a read-modify-write of nothing (add 0). A call that took the lock leaves it taken.
 */
function readFree(name: string, args: unknown[], result: unknown): boolean {
  if (name === 'store' || name === 'notify' || name === 'wait') return false;
  return result === 0 && realAtomics.load(memory, args[1] as number) === 0;
}

// No top-level await (CONTRIBUTING, rule 8: Node crashes if a test stops a worker as its async module starts).
async function main(): Promise<void> {
  const { Mutex } = (await import(targetUrl(import.meta.url, './mutex.ts').href)) as typeof MutexModule;
  const { Bank, FIRST_ACCOUNT, LOCK_CELL } = (await import(targetUrl(import.meta.url, './bank.ts').href)) as typeof BankModule;

  /** Runs `call` and reports a TypeError as 'refused' (what every Atomics function does with a Proxy). */
  function unlessRefused<T>(call: () => T): T | 'refused' {
    try {
      return call();
    } catch (error) {
      if (error instanceof TypeError) return 'refused';
      throw error;
    }
  }

  switch (data.role) {
    case 'sequence': {
      // The lock is cell 1; its neighbours hold values that must survive.
      const mutex = new Mutex(memory, 1);
      step('tryLock() on a new mutex');
      const first = mutex.tryLock();
      step('a second tryLock()');
      // Does tryLock() on a held lock wait, or keep trying, before it gives up? (It must return false at once.)
      let waitsInTryLock = 0;
      const callsInTryLock: Record<string, number> = {};
      onAtomicsCall = (name, _args, proceed) => {
        callsInTryLock[name] = (callsInTryLock[name] ?? 0) + 1;
        if (name === 'wait') waitsInTryLock += 1;
        return proceed();
      };
      const second = mutex.tryLock();
      onAtomicsCall = undefined;
      step('unlock()');
      mutex.unlock();
      step('tryLock() after unlock()');
      const afterUnlock = mutex.tryLock();
      step('unlock()');
      mutex.unlock();
      step('lock() on a free mutex');
      mutex.lock();
      step('unlock() after lock()');
      mutex.unlock();
      post('done', { first, second, waitsInTryLock, callsInTryLock, afterUnlock, cells: [...memory] });
      break;
    }

    case 'plain-probe': {
      // Right after the first plain read of a free lock, another thread (played here) takes it.
      let tookIt = false;
      const probe = watchIndexedAccess(memory, {
        afterRead(index, value) {
          if (value === 0 && !tookIt) {
            realAtomics.store(memory, index, 1);
            tookIt = true;
          }
        },
      });
      const mutex = new Mutex(probe.proxy, 0);
      const result = unlessRefused(() => mutex.tryLock());
      const tryLockAccess = { reads: probe.reads, writes: probe.writes };
      // Now as if this thread held the lock, and let it go.
      realAtomics.store(memory, 0, 1);
      unlessRefused(() => mutex.unlock());
      const unlockAccess = { reads: probe.reads - tryLockAccess.reads, writes: probe.writes - tryLockAccess.writes };
      post('done', { result, tookIt, tryLockAccess, unlockAccess });
      break;
    }

    case 'atomic-probe': {
      // Right after the first Atomics call that reads the lock free and leaves it free (a load, or
      // an add of 0), another thread (played here) takes it.
      let tookIt = false;
      let readWith = '';
      const used = new Set<string>();
      const mutex = new Mutex(memory, 0);
      onAtomicsCall = (name, args, proceed) => {
        const result = proceed();
        if (args[0] === memory) used.add(name);
        if (args[0] === memory && readFree(name, args, result) && !tookIt) {
          realAtomics.store(memory, args[1] as number, 1);
          readWith = name;
          tookIt = true;
        }
        return result;
      };
      const result = mutex.tryLock();
      onAtomicsCall = undefined;
      post('done', { result, tookIt, readWith, used: [...used] });
      break;
    }

    case 'lock-probe': {
      // Right after the first Atomics call in lock() that reads the lock free and leaves it free,
      // another thread (played here) takes it; it lets go as soon as lock() goes to sleep in Atomics.wait (or after 1,000 calls).
      let tookIt = false;
      let readWith = '';
      let holding = false;
      let calls = 0;
      const used = new Set<string>();
      const mutex = new Mutex(memory, 0);
      const letGo = () => {
        if (!holding) return;
        holding = false;
        realAtomics.store(memory, 0, 0);
      };
      onAtomicsCall = (name, args, proceed) => {
        if (args[0] !== memory) return proceed();
        used.add(name);
        if (name === 'wait' || ++calls > 1_000) letGo();
        const result = proceed();
        if (readFree(name, args, result) && !tookIt) {
          realAtomics.store(memory, args[1] as number, 1);
          readWith = name;
          tookIt = true;
          holding = true;
        }
        return result;
      };
      step('lock()');
      mutex.lock();
      const walkedIn = holding;
      onAtomicsCall = undefined;
      post('done', { tookIt, walkedIn, readWith, used: [...used] });
      break;
    }

    case 'holder': {
      const lockIndex = data.lockIndex ?? 0;
      const mutex = new Mutex(memory, lockIndex);
      // Watch unlock() on the lock's cell: whether it has freed the cell (written 0) when it calls
      // Atomics.notify, and how many that notify asks to wake and wakes. Judged from unlock()'s own
      // calls, not from the cell, which the woken thread may take at any moment.
      let freed = false;
      onAtomicsCall = (name, args, proceed) => {
        if (args[0] !== memory || args[1] !== lockIndex) {
          if (name === 'notify') realAtomics.add(control, cells.notifiesElsewhere, 1);
          return proceed();
        }
        if (name !== 'notify') {
          const result = proceed();
          if (name === 'store' || name === 'exchange') freed = Number(args[2]) === 0;
          else if (name === 'compareExchange') freed = result === args[2] ? Number(args[3]) === 0 : freed;
          else if (name !== 'load' && name !== 'wait') freed = realAtomics.load(memory, lockIndex) === 0;
          return result;
        }
        realAtomics.add(control, cells.notifies, 1);
        if (!freed) realAtomics.add(control, cells.notifiesWhileTaken, 1);
        const count = args[2] === undefined || args[2] === Infinity ? -1 : Number(args[2]);
        const asked = realAtomics.load(control, cells.askedToWake);
        if (asked !== -1 && (count === -1 || count > asked)) realAtomics.store(control, cells.askedToWake, count);
        const woken = proceed();
        realAtomics.add(control, cells.woken, Number(woken));
        return woken;
      };
      step('lock() on a free mutex');
      mutex.lock();
      post('held');
      // Hold the lock until the test says so (bounded: the test stops this worker long before).
      while (realAtomics.load(control, cells.release) === 0) realAtomics.wait(control, cells.release, 0, 1_000);
      for (const [cell, value] of data.edits ?? []) memory[cell] = value;
      step('unlock()');
      mutex.unlock();
      post('released');
      break;
    }

    case 'waiter': {
      const mutex = new Mutex(memory, data.lockIndex ?? 0);
      announceThread();
      post('calling lock');
      mutex.lock();
      post('acquired');
      mutex.unlock();
      post('done');
      break;
    }

    case 'transfer-waiter': {
      const bank = new Bank(memory);
      post('calling transfer');
      const moved = bank.transfer(data.from!, data.to!, data.amount!);
      post('done', { moved });
      break;
    }

    case 'transfer-rules': {
      // Three accounts of 100 each.
      const bank = new Bank(memory);
      const balances = () => [...memory.subarray(FIRST_ACCOUNT)];
      step('transfer(0, 1, 30)');
      const partOf = { moved: bank.transfer(0, 1, 30), balances: balances() };
      step('transfer(2, 0, 101)');
      const tooMuch = { moved: bank.transfer(2, 0, 101), balances: balances() };
      step('transfer(1, 2, 130)');
      const all = { moved: bank.transfer(1, 2, 130), balances: balances() };
      const invalid: Record<string, string> = {};
      const lockProbe = new Mutex(memory, LOCK_CELL);
      let lockHeldAfter: string | undefined;
      for (const [from, to, amount] of [
        [0, 3, 5],
        [3, 0, 5],
        [-1, 0, 5],
        [0, -1, 5],
        [0.5, 1, 5],
        [0, 0.5, 5],
        [NaN, 1, 5],
        [0, NaN, 5],
        // An unknown `to` with more than `from` holds (account 0 has 70): still an unknown account.
        [0, 7, 1000],
        [0, 1, 0],
        [0, 1, -5],
        [0, 1, 1.5],
        [0, 1, Infinity],
        [0, 1, NaN],
      ] as const) {
        const call = `transfer(${from}, ${to}, ${amount})`;
        step(call);
        try {
          invalid[call] = `returned ${bank.transfer(from, to, amount)}`;
        } catch (error) {
          invalid[call] = error instanceof RangeError ? 'RangeError' : `threw ${(error as Error).name}`;
        }
        // Is the lock free again? tryLock never waits, so this cannot hang.
        step(`tryLock() after ${call}`);
        if (!lockProbe.tryLock()) {
          lockHeldAfter = call;
          break;
        }
        lockProbe.unlock();
      }
      post('done', { partOf, tooMuch, all, invalid, lockHeldAfter, balances: balances() });
      break;
    }

    case 'self-transfer': {
      // Three accounts of 100, and transfers from an account to itself: whatever each returns or
      // throws, the balances after it.
      const bank = new Bank(memory);
      const lockProbe = new Mutex(memory, LOCK_CELL);
      const calls: Array<{ call: string; account: number; amount: number; outcome: string; balances: number[] }> = [];
      for (const [account, amount] of [
        [1, 10],
        [2, 100],
      ] as const) {
        const call = `transfer(${account}, ${account}, ${amount})`;
        step(call);
        let outcome: string;
        try {
          outcome = `returned ${bank.transfer(account, account, amount)}`;
        } catch (error) {
          if (isNotImplemented(error)) throw error;
          outcome = `threw ${error instanceof Error ? error.name : String(error)}`;
        }
        calls.push({ call, account, amount, outcome, balances: [...memory.subarray(FIRST_ACCOUNT)] });
        // A lock left held would make the next call wait forever (tryLock never waits).
        step(`tryLock() after ${call}`);
        if (!lockProbe.tryLock()) break;
        lockProbe.unlock();
      }
      post('done', { calls });
      break;
    }

    case 'transfer-trace': {
      // One transfer, no other thread: is the bank's lock held at every read and write of a balance?
      const bank = new Bank(memory);
      const real = { memory: bank.memory, balances: bank.balances };
      const outside: string[] = [];
      // Each time the lock's cell goes from free to taken through an Atomics call, a new hold of the
      // lock begins; the balances must all be touched within one hold.
      let holds = 0;
      let lockWas = realAtomics.load(memory, LOCK_CELL);
      const holdsTouching = new Set<number>();
      const trackLock = (args: unknown[]) => {
        const [array, index] = args as [unknown, number];
        if (array !== memory || Number(index) !== LOCK_CELL) return;
        const now = realAtomics.load(memory, LOCK_CELL);
        if (lockWas === 0 && now !== 0) holds += 1;
        lockWas = now;
      };
      const note = (what: string, account: number) => {
        if (realAtomics.load(memory, LOCK_CELL) === 0) outside.push(`${what} account ${account}`);
        else holdsTouching.add(holds);
      };
      onAtomicsCall = (_name, args, proceed) => {
        const result = proceed();
        trackLock(args);
        return result;
      };
      // Plain reads and writes, through whichever of the bank's arrays transfer() uses. (Its Mutex
      // keeps the real memory, so the lock itself works as usual.)
      const watched = (array: Int32Array, firstAccount: number) =>
        watchIndexedAccess(array, {
          afterRead: (index) => index >= firstAccount && note('read', index - firstAccount),
          beforeWrite: (index) => index >= firstAccount && note('wrote', index - firstAccount),
        }).proxy;
      const instrumented = bank as { memory: Int32Array; balances: Int32Array };
      instrumented.memory = watched(real.memory, FIRST_ACCOUNT);
      instrumented.balances = watched(real.balances, 0);
      step('transfer(0, 1, 10)');
      let moved = unlessRefused(() => bank.transfer(0, 1, 10));
      if (moved === 'refused') {
        // transfer() uses Atomics on the balances, which refuse a Proxy: start again on the real
        // arrays and watch its Atomics calls instead.
        Object.assign(instrumented, real);
        realAtomics.store(memory, LOCK_CELL, 0);
        real.balances.fill(100);
        outside.length = 0;
        const dataCalls = new Set(['load', 'store', 'add', 'sub', 'exchange', 'compareExchange', 'and', 'or', 'xor']);
        holds = 0;
        lockWas = 0;
        holdsTouching.clear();
        onAtomicsCall = (name, args, proceed) => {
          const [array, index] = args as [unknown, number];
          if (dataCalls.has(name)) {
            if (array === real.balances) note(name === 'load' ? 'read' : 'wrote', index);
            if (array === real.memory && index >= FIRST_ACCOUNT) note(name === 'load' ? 'read' : 'wrote', index - FIRST_ACCOUNT);
          }
          const result = proceed();
          trackLock(args);
          return result;
        };
        step('transfer(0, 1, 10)');
        moved = bank.transfer(0, 1, 10);
        onAtomicsCall = undefined;
      }
      onAtomicsCall = undefined;
      post('done', { moved, outside, holds: holdsTouching.size, lockCell: realAtomics.load(memory, LOCK_CELL), balances: [...real.balances] });
      break;
    }

    case 'exclusion': {
      const mutex = new Mutex(memory, 0);
      arriveAndWait(data.gate!, data.parties!);
      post('started');
      for (let done = 0; done < data.times!; done += 1) {
        mutex.lock();
        // Inside the critical section: is anyone else in here?
        if (realAtomics.add(control, cells.inside, 1) !== 0) realAtomics.add(control, cells.overlaps, 1);
        // A plain read-modify-write: exact only if no other thread is ever inside at the same time.
        memory[1] = memory[1]! + 1;
        realAtomics.sub(control, cells.inside, 1);
        mutex.unlock();
      }
      post('done');
      break;
    }

    case 'transfers': {
      const bank = new Bank(memory);
      const accounts = bank.accounts;
      // A fixed sequence of pseudo-random transfers per thread (xorshift32), the same on every run.
      let random = data.seed! | 1;
      let moved = 0;
      arriveAndWait(data.gate!, data.parties!);
      post('started');
      for (let done = 0; done < data.times!; done += 1) {
        random ^= random << 13;
        random ^= random >>> 17;
        random ^= random << 5;
        const bits = random >>> 0;
        const from = bits % accounts;
        const to = (from + 1 + ((bits >>> 8) % (accounts - 1))) % accounts;
        const amount = 1 + ((bits >>> 16) % 50);
        if (bank.transfer(from, to, amount)) moved += 1;
      }
      post('done', { moved });
      break;
    }
  }
}

void main();
