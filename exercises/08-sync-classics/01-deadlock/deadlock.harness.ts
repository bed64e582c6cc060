// The tests' worker: plays one thread that makes transfers through the Bank under test. A spy on
// Atomics sees every lock it takes, every failed try, every Atomics.wait, and writes them to the
// control memory (control.harness.ts), where the test reads who holds what and who waits for what.
// Every blocking call happens here, never on the test's own thread, and the test stops this worker
// when its time is up.
import { parentPort, workerData } from 'node:worker_threads';
import { announceThread } from '#kata/inside/announce-thread.ts';
import { type AtomicsName, spyOnAtomics, watchIndexedAccess } from '#kata/inside/atomics-spy.ts';
import { isNotImplementedMessage } from '#kata/inside/not-implemented.ts';
import { arriveAndWait } from '#kata/inside/start-barrier.ts';
import { targetUrl } from '#kata/inside/target.ts';
import { type Field, fieldIndex, holderIndex, NAP, RELEASE } from './control.harness.ts';
import type * as DeadlockModule from './deadlock.ts';

// Atomics as they are before the spy goes in: the harness's own bookkeeping uses these (so it is
// never counted), and they run a learner's Atomics call on the real array behind a watched one.
type AnyFunction = (...args: unknown[]) => unknown;
const names: AtomicsName[] = ['add', 'and', 'compareExchange', 'exchange', 'load', 'notify', 'or', 'store', 'sub', 'wait', 'xor'];
const original = Object.fromEntries(names.map((name) => [name, (Atomics as unknown as Record<AtomicsName, AnyFunction>)[name]])) as Record<
  AtomicsName,
  AnyFunction
>;
const { add, load, store, wait } = Atomics;

export interface HarnessData {
  role: 'rules' | 'trace' | 'transfers';
  memory: Int32Array;
  control: Int32Array;
  /** This thread's place in the control memory. */
  slot: number;
  /** transfers: these [from, to, amount], in turn, `times` times over in all... */
  transfers?: Array<[number, number, number]>;
  times?: number;
  /** ...or `times` pseudo-random ones from this seed, with amounts from 1 to `maxAmount`. */
  seed?: number;
  maxAmount?: number;
  /** Right after its first lock, wait (up to 1 s) until the other thread (slot 1 - slot) has taken one, sleeps in Atomics.wait, or has finished a transfer. */
  rendezvous?: boolean;
  /** At its first touch of a balance while holding a lock, stop there (post 'inside') until the test sets control[RELEASE]. */
  pauseInside?: boolean;
  gate?: Int32Array;
  parties?: number;
}

const data = workerData as HarnessData;
const { control, memory, slot } = data;
const accounts = memory.length / 2;
const post = (type: string, details: object = {}) => parentPort!.postMessage({ type, ...details });
/** Says which call comes next: if it never returns, the test names it. */
const step = (call: string) => post('step', { call });

const at = (field: Field) => fieldIndex(control, slot, field);
const bump = (field: Field) => add(control, at(field), 1);
const set = (field: Field, value: number) => store(control, at(field), value);
const read = (field: Field, of = slot) => load(control, fieldIndex(control, of, field));
const holderOf = (cell: number) => load(control, holderIndex(control, cell));

/** Locks this thread holds now, and how many times each cell has been taken by it (a new hold each time). */
const held = new Set<number>();
const holds = new Map<number, number>();
let rendezvousDone = false;
let pausedInside = false;

/** The cell of the bank's memory that `array[index]` is, or -1 for another array. */
function cellOf(array: unknown, index: unknown): number {
  if (!(array instanceof Int32Array) || array.buffer !== memory.buffer) return -1;
  return (array.byteOffset - memory.byteOffset) / Int32Array.BYTES_PER_ELEMENT + Number(index);
}

function took(cell: number): void {
  store(control, holderIndex(control, cell), slot + 1);
  held.add(cell);
  holds.set(cell, (holds.get(cell) ?? 0) + 1);
  bump('takes');
  if (read('transfers') === 0) {
    if (read('firstTake') === -1) set('firstTake', cell);
    else if (read('secondTake') === -1) set('secondTake', cell);
  }
  if (data.rendezvous && !rendezvousDone) {
    rendezvousDone = true;
    // Hold this thread right after its first lock until the other has taken one too: the one
    // interleaving in which two transfers going opposite ways deadlock, made to happen every run.
    // It goes on as soon as the other thread sleeps instead (waiting for this thread's lock, as a
    // right answer's does), or has finished a transfer, or after a second.
    const other = 1 - slot;
    const until = performance.now() + 1_000;
    while (performance.now() < until && read('firstTake', other) === -1 && read('parked', other) === 0 && read('transfers', other) === 0) {
      wait(control, NAP, 0, 2);
    }
  }
}

function released(cell: number): void {
  if (holderOf(cell) === slot + 1) store(control, holderIndex(control, cell), 0);
  held.delete(cell);
  bump('releases');
}

/** What the current transfer is, for the trace. */
let current: { call: string; from: number; to: number } | undefined;
/** trace: each touch of a balance that was not made holding both locks, or not within one hold of each. */
const outside: string[] = [];
const holdsSeen = new Map<string, string>();
let touches = 0;

function touched(account: number, how: 'read' | 'wrote'): void {
  touches += 1;
  if (data.role === 'trace' && current) {
    const { call, from, to } = current;
    const locks = [...held].sort((a, b) => a - b);
    const missing = [from, to].filter((lock) => !held.has(lock)).sort((a, b) => a - b);
    if (missing.length > 0) {
      const names = (cells: number[]) => cells.map((cell) => `the lock of account ${cell}`).join(' and ');
      outside.push(`${call} ${how} the balance of account ${account} without ${names(missing)} (holding ${locks.length === 0 ? 'no lock' : names(locks)})`);
    } else {
      // Which hold of each lock this touch was made in: all the touches of one transfer must share them.
      const seen = `${holds.get(from)}/${holds.get(to)}`;
      const first = holdsSeen.get(call);
      if (first === undefined) holdsSeen.set(call, seen);
      else if (first !== seen)
        outside.push(`${call} ${how} the balance of account ${account} after letting go of a lock it held at its first touch of a balance and taking it again`);
    }
  }
  if (data.pauseInside && !pausedInside && held.size > 0) {
    pausedInside = true;
    post('inside', { holds: [...held] });
    while (load(control, RELEASE) === 0) wait(control, RELEASE, 0, 1_000);
  }
}

// The bank's arrays, each with the stand-in the Bank is given (which sees plain reads and writes).
const proxies = new Map<unknown, Int32Array>();

spyOnAtomics((name, args, proceed) => {
  const real = proxies.get(args[0]);
  // A stand-in is refused by every Atomics function: run the call on the array behind it.
  const run = real === undefined ? proceed : () => original[name]!(real, ...args.slice(1));
  const array = real ?? args[0];
  bump('calls');
  const cell = cellOf(array, args[1]);
  if (name === 'wait') {
    set('waitCell', cell);
    set('waitValue', Number(args[2]));
    const timed = !(args[3] === undefined || Number.isNaN(Number(args[3])) || Number(args[3]) === Infinity);
    set('waitTimed', timed ? 1 : 0);
    if (timed) bump('timedWaits');
    set('parked', 1);
    try {
      return run();
    } finally {
      set('parked', 0);
    }
  }
  if (cell < 0 || name === 'notify') return run();
  if (cell >= accounts) {
    touched(cell - accounts, name === 'load' ? 'read' : 'wrote');
    return run();
  }
  if (name === 'load') return run();
  if (name === 'store') {
    // Let go of before the store: the table never shows a lock held after it is free.
    if (Number(args[2]) === 0) released(cell);
    return run();
  }
  // A read-modify-write: it returns what the cell held before.
  const result = run();
  const before = Number(result);
  const after = load(array as Int32Array, Number(args[1]));
  if (before === 0 && after !== 0) took(cell);
  else if (before !== 0 && after === 0) released(cell);
  else if (before !== 0 && holderOf(cell) !== slot + 1) {
    bump('failedTries');
    set('lastFailed', cell);
  }
  return result;
});

// No top-level await (CONTRIBUTING, rule 8: Node crashes if a test stops a worker as its async module starts).
async function main(): Promise<void> {
  const { Bank } = (await import(targetUrl(import.meta.url, './deadlock.ts').href)) as typeof DeadlockModule;
  const bank = new Bank(memory);
  const balances = bank.balances;
  // Plain reads and writes of the balances, through whichever of the bank's arrays transfer() uses.
  // (The Mutexes keep the real memory, so the locks work as usual.)
  const watched = (array: Int32Array, firstAccount: number) => {
    const proxy = watchIndexedAccess(array, {
      afterRead: (index) => index >= firstAccount && touched(index - firstAccount, 'read'),
      beforeWrite: (index) => index >= firstAccount && touched(index - firstAccount, 'wrote'),
    }).proxy;
    proxies.set(proxy, array);
    return proxy;
  };
  Object.assign(bank, { memory: watched(bank.memory, accounts), balances: watched(bank.balances, 0) });

  /** One transfer, counted when it returns. */
  function transfer(from: number, to: number, amount: number): boolean {
    current = { call: `transfer(${from}, ${to}, ${amount})`, from, to };
    const moved = bank.transfer(from, to, amount);
    bump('transfers');
    return moved;
  }

  /** Lock cells taken (non-zero) right now. */
  const locksTaken = () => Array.from({ length: accounts }, (_, account) => account).filter((account) => load(memory, account) !== 0);

  if (data.role !== 'transfers') post('started');

  switch (data.role) {
    case 'rules': {
      // Four accounts of 100. Each call's outcome, the balances after it, and the locks still taken.
      const calls: Array<[number, number, number]> = [
        [0, 1, 30],
        [2, 0, 101],
        [1, 2, 130],
        [3, 2, 100],
        [1, 0, 1],
        // Positive integers too large for any balance (an Int32): refused by the balance, not as bad input.
        [2, 0, 2 ** 31],
        [0, 2, 3e9],
        [0, 4, 5],
        [4, 0, 5],
        [-1, 0, 5],
        [0, -1, 5],
        [0.5, 1, 5],
        [0, 0.5, 5],
        [NaN, 1, 5],
        [0, NaN, 5],
        [0, 1, 0],
        [0, 1, -5],
        [0, 1, 1.5],
        [0, 1, Infinity],
        [0, 1, NaN],
        // Last: a transfer from an account to itself can hang, and the test names this call.
        [1, 1, 5],
      ];
      const results: Array<{ call: string; outcome: string; balances: number[]; held: number[] }> = [];
      for (const [from, to, amount] of calls) {
        const call = `transfer(${from}, ${to}, ${amount})`;
        step(call);
        let outcome: string;
        try {
          outcome = `returned ${transfer(from, to, amount)}`;
        } catch (error) {
          if (isNotImplementedMessage((error as Error).message)) throw error;
          outcome = error instanceof RangeError ? 'RangeError' : `threw ${(error as Error).name}: ${(error as Error).message}`;
        }
        results.push({ call, outcome, balances: [...balances], held: locksTaken() });
        post('result', results.at(-1)!);
      }
      post('done', { results });
      break;
    }

    case 'trace': {
      // Four accounts of 100: is every touch of a balance made holding the locks of both accounts?
      const moved: boolean[] = [];
      for (const [from, to, amount] of [
        [0, 1, 10],
        [3, 2, 10],
        [1, 0, 1_000],
      ] as const) {
        step(`transfer(${from}, ${to}, ${amount})`);
        moved.push(transfer(from, to, amount));
      }
      post('done', { moved, outside, touches, balances: [...balances], held: locksTaken() });
      break;
    }

    case 'transfers': {
      announceThread();
      if (data.gate) arriveAndWait(data.gate, data.parties!);
      post('started');
      let moved = 0;
      let refused = 0;
      // A fixed sequence of pseudo-random transfers (xorshift32), the same on every run.
      let random = (data.seed ?? 0) | 1;
      const times = data.times ?? 1;
      for (let done = 0; done < times; done += 1) {
        let from: number;
        let to: number;
        let amount: number;
        if (data.transfers) {
          [from, to, amount] = data.transfers[done % data.transfers.length]!;
        } else {
          random ^= random << 13;
          random ^= random >>> 17;
          random ^= random << 5;
          const bits = random >>> 0;
          from = bits % accounts;
          to = (from + 1 + ((bits >>> 8) % (accounts - 1))) % accounts;
          amount = 1 + ((bits >>> 16) % data.maxAmount!);
        }
        if (done === 0) step(`transfer(${from}, ${to}, ${amount})`);
        if (transfer(from, to, amount)) moved += 1;
        else refused += 1;
      }
      post('done', { moved, refused, pausedInside });
      break;
    }
  }
}

void main();
